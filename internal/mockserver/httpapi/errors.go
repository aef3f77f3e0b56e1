package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
)

// Error codes every service answers with. The IOTDA.* codes and messages are the platform's
// own (see iotda-platform-facts.md §1); where the platform's answer is not documented the
// mock makes a documented choice:
//
//   - an unknown path answers 404 and a known path with another method 405 (with Allow),
//     both with APIG.0101, the code API Gateway uses for an API that does not exist;
//   - a project id in the path other than Config.ProjectID answers 403 IOTDA.000004;
//   - a missing or different Instance-Id header, when Config.InstanceID is set, answers
//     403 IOTDA.000021;
//   - failures of the mock itself answer 500 MOCK.000500, and requests cut short by the
//     mock shutting down 503 MOCK.000503.
const (
	CodeNoAPI          = "APIG.0101"
	CodeUnauthorized   = "IOTDA.000002"
	CodeProject        = "IOTDA.000004"
	CodeInvalidInput   = "IOTDA.000006"
	CodeBadRequest     = "IOTDA.000008"
	CodeInstance       = "IOTDA.000021"
	CodeDeviceNotFound = "IOTDA.014000"
	CodeDeviceOffline  = "IOTDA.014016"
	CodeInternal       = "MOCK.000500"
	CodeShuttingDown   = "MOCK.000503"

	MsgNoAPI         = "The API does not exist or has not been published in the environment."
	MsgInvalidInput  = "Invalid input data."
	MsgBadRequest    = "Invalid input. Bad request, for more detail, refer to the error message."
	MsgDeviceOffline = "Operation not allowed. The device is not online."
	// MsgDeviceNotFound is followed by the device id.
	MsgDeviceNotFound = "The device does not exist. device_id: "
	MsgShuttingDown   = "The mock is shutting down."
)

// ErrorBody is the platform's error body.
type ErrorBody struct {
	ErrorCode string `json:"error_code"`
	ErrorMsg  string `json:"error_msg"`
}

// errorJSON encodes the platform's error body.
func errorJSON(code, msg string) []byte {
	b, _ := json.Marshal(ErrorBody{ErrorCode: code, ErrorMsg: msg}) // two strings always encode
	return b
}

// WriteJSON writes v as the JSON body of a status answer. Encoding the mock's own types
// cannot fail; if the client is gone the write error has nobody to go to.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error_code":"`+CodeInternal+`","error_msg":"encoding failed"}`)
	}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// WriteError writes the platform's error body with a status.
func WriteError(w http.ResponseWriter, status int, code, msg string) {
	WriteJSON(w, status, ErrorBody{ErrorCode: code, ErrorMsg: msg})
}

// IsJSONObject reports whether b, valid JSON, is an object.
func IsJSONObject(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && b[0] == '{'
}

// Quote quotes a client-supplied value for an error message, cut short so that the
// message stays small.
func Quote(s string) string {
	const maxLen = 64
	if len(s) > maxLen {
		s = s[:maxLen] + "..."
	}
	return strconv.Quote(s)
}
