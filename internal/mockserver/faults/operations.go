package faults

import (
	"net/http"
	"slices"
	"strings"
)

// The platform API's operations, by the names of IoTDA's API reference and SDK (facts:
// iotda-platform-facts.md, iotda-batchtask-facts.md, iotda-messages-facts.md). A Fault's
// Operation aims it at one of them.
const (
	OpCreateCommand       = "CreateCommand"       // POST   /v5/iot/{project_id}/devices/{device_id}/commands
	OpCreateBatchTask     = "CreateBatchTask"     // POST   /v5/iot/{project_id}/batchtasks
	OpListBatchTasks      = "ListBatchTasks"      // GET    /v5/iot/{project_id}/batchtasks
	OpShowBatchTask       = "ShowBatchTask"       // GET    /v5/iot/{project_id}/batchtasks/{task_id}
	OpDeleteBatchTask     = "DeleteBatchTask"     // DELETE /v5/iot/{project_id}/batchtasks/{task_id}
	OpStopBatchTask       = "StopBatchTask"       // POST   /v5/iot/{project_id}/batchtasks/{task_id}/stop
	OpRetryBatchTask      = "RetryBatchTask"      // POST   /v5/iot/{project_id}/batchtasks/{task_id}/retry
	OpConfirmBatchTask    = "ConfirmBatchTask"    // POST   /v5/iot/{project_id}/batchtasks/{task_id}/confirm
	OpCreateMessage       = "CreateMessage"       // POST   /v5/iot/{project_id}/devices/{device_id}/messages
	OpListDeviceMessages  = "ListDeviceMessages"  // GET    /v5/iot/{project_id}/devices/{device_id}/messages
	OpShowDeviceMessage   = "ShowDeviceMessage"   // GET    /v5/iot/{project_id}/devices/{device_id}/messages/{message_id}
	OpDeleteDeviceMessage = "DeleteDeviceMessage" // DELETE /v5/iot/{project_id}/devices/{device_id}/messages/{message_id}
)

// route is an operation's method and path after /v5/iot/{project_id}/, "*" standing for
// one segment (an id).
type route struct {
	method string
	path   []string
	op     string
}

var routes = []route{
	{http.MethodPost, []string{"devices", "*", "commands"}, OpCreateCommand},
	{http.MethodPost, []string{"batchtasks"}, OpCreateBatchTask},
	{http.MethodGet, []string{"batchtasks"}, OpListBatchTasks},
	{http.MethodGet, []string{"batchtasks", "*"}, OpShowBatchTask},
	{http.MethodDelete, []string{"batchtasks", "*"}, OpDeleteBatchTask},
	{http.MethodPost, []string{"batchtasks", "*", "stop"}, OpStopBatchTask},
	{http.MethodPost, []string{"batchtasks", "*", "retry"}, OpRetryBatchTask},
	{http.MethodPost, []string{"batchtasks", "*", "confirm"}, OpConfirmBatchTask},
	{http.MethodPost, []string{"devices", "*", "messages"}, OpCreateMessage},
	{http.MethodGet, []string{"devices", "*", "messages"}, OpListDeviceMessages},
	{http.MethodGet, []string{"devices", "*", "messages", "*"}, OpShowDeviceMessage},
	{http.MethodDelete, []string{"devices", "*", "messages", "*"}, OpDeleteDeviceMessage},
}

// Operations lists the operation names a Fault's Operation may take.
func Operations() []string {
	out := make([]string, len(routes))
	for i, r := range routes {
		out[i] = r.op
	}
	return out
}

// OperationOf names the operation a request makes, from its method and escaped path
// (/v5/iot/{project_id}/...), or returns "" for a request that is none of Operations.
// Every service's route is named here, so that a fault can be aimed at any of them without
// the service doing anything but take its fault.
func OperationOf(method, escapedPath string) string {
	segs := strings.Split(escapedPath, "/")
	if len(segs) < 5 || segs[0] != "" || segs[1] != "v5" || segs[2] != "iot" || segs[3] == "" {
		return ""
	}
	rest := segs[4:]
	for _, r := range routes {
		if r.method == method && matchPath(r.path, rest) {
			return r.op
		}
	}
	return ""
}

func matchPath(pattern, segs []string) bool {
	if len(pattern) != len(segs) {
		return false
	}
	for i, p := range pattern {
		if segs[i] == "" || (p != "*" && p != segs[i]) {
			return false
		}
	}
	return true
}

// knownOperation reports whether op is one of Operations.
func knownOperation(op string) bool {
	return slices.ContainsFunc(routes, func(r route) bool { return r.op == op })
}

// namesDevice reports whether op's path names a device, so that a fault's DeviceID can match
// its requests.
func namesDevice(op string) bool {
	return slices.ContainsFunc(routes, func(r route) bool { return r.op == op && slices.Contains(r.path, "devices") })
}

// deviceOperations lists the operations whose path names a device.
func deviceOperations() []string {
	var out []string
	for _, r := range routes {
		if namesDevice(r.op) {
			out = append(out, r.op)
		}
	}
	return out
}

// noJSONAnswer says, for each operation whose answers a fault's patches can never rewrite, why:
// it has no successful answer with a JSON body.
var noJSONAnswer = map[string]string{
	OpDeleteBatchTask:     "204 with no body",
	OpDeleteDeviceMessage: "204 with no body",
	OpStopBatchTask:       "the mock refuses it for every createCommands and createMessages task",
	OpRetryBatchTask:      "the mock refuses it for every createCommands and createMessages task",
	OpConfirmBatchTask:    "the mock refuses it for every createCommands and createMessages task",
}

// rewritable reports whether op has successful answers with a JSON body, which a fault's
// MergePatch and JSONPatch rewrite.
func rewritable(op string) bool {
	_, no := noJSONAnswer[op]
	return !no
}
