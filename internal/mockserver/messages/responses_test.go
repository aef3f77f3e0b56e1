package messages

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/iotda/v5/model"
)

// The responses layer, with plain values: a route, a method, a body; and the platform's
// bodies as the official SDK's models read them.

func respond(b *Backend, method, path, body string) Response {
	return b.Respond(method, strings.Split(path, "/"), "application/json; charset=UTF-8", []byte(body))
}

func TestRoute(t *testing.T) {
	for path, want := range map[string]bool{
		"devices/d1/messages": true, "devices/d1/messages/m1": true,
		"devices/d1/commands": false, "devices/d1": false, "devices/d1/messages/m1/x": false,
		"batchtasks": false, "messages/d1/messages": false,
	} {
		if got := Route(strings.Split(path, "/")); got != want {
			t.Errorf("Route(%s) = %v", path, got)
		}
	}
	if Allow([]string{"devices", "d", "messages"}) != "GET, POST" || Allow([]string{"devices", "d", "messages", "m"}) != "GET, DELETE" {
		t.Error("Allow")
	}
}

func TestRespond_CreateAnswers201WithTheResult(t *testing.T) {
	devs := newFakeDevices("d1", "d2")
	devs.setOnline("d1", true)
	b, _, _ := newBackend(t, devs)

	r := respond(b, http.MethodPost, "devices/d1/messages", `{"message_id":"m1","message":"hi"}`)
	var created model.CreateMessageResponse
	if r.Status != http.StatusCreated || json.Unmarshal(r.Body, &created) != nil {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	if want := `{"message_id":"m1","result":{"status":"DELIVERED","created_time":"20240102T030405Z",` +
		`"finished_time":"20240102T030405Z"}}`; string(r.Body) != want {
		t.Fatalf("body\n got %s\nwant %s", r.Body, want)
	}
	if *created.MessageId != "m1" || *created.Result.Status != "DELIVERED" {
		t.Fatalf("the SDK reads %s", created.String())
	}
	r = respond(b, http.MethodPost, "devices/d2/messages", `{"message_id":"m2","message":"hi"}`)
	if want := `{"message_id":"m2","result":{"status":"PENDING","created_time":"20240102T030405Z"}}`; string(r.Body) != want {
		t.Fatalf("pending body\n got %s\nwant %s", r.Body, want)
	}
}

func TestRespond_ShowAndList(t *testing.T) {
	devs := newFakeDevices("d1")
	devs.setOnline("d1", true)
	devs.subscribe("d1", "$oc/devices/d1/user/cfg")
	b, _, _ := newBackend(t, devs)
	respond(b, http.MethodPost, "devices/d1/messages", `{"message_id":"m1","name":"n1","message":{"big":12345678901234567890,"s":"<&>"},`+
		`"topic":"cfg","payload_format":"raw","properties":{"correlation_data":"c1","user_properties":[{"prop_key":"k","prop_value":"v w"}]}}`)
	respond(b, http.MethodPost, "devices/d1/messages", `{"message_id":"m2","message":"x","topic":"other"}`)

	r := respond(b, http.MethodGet, "devices/d1/messages/m1", "")
	want := `{"message_id":"m1","name":"n1","message":{"big":12345678901234567890,"s":"<&>"},"encoding":"none",` +
		`"payload_format":"raw","topic":"$oc/devices/d1/user/cfg","properties":{"correlation_data":"c1",` +
		`"user_properties":[{"prop_key":"k","prop_value":"v w"}]},"status":"DELIVERED",` +
		`"created_time":"20240102T030405Z","finished_time":"20240102T030405Z"}`
	if r.Status != http.StatusOK || string(r.Body) != want {
		t.Fatalf("show %d\n got %s\nwant %s", r.Status, r.Body, want)
	}
	var shown model.ShowDeviceMessageResponse
	if err := json.Unmarshal(r.Body, &shown); err != nil || *shown.Status != "DELIVERED" || *shown.Topic != "$oc/devices/d1/user/cfg" {
		t.Fatalf("the SDK reads %s: %v", shown.String(), err)
	}

	r = respond(b, http.MethodGet, "devices/d1/messages/m2", "")
	if err := json.Unmarshal(r.Body, &shown); err != nil || *shown.Status != "FAILED" || shown.ErrorInfo == nil ||
		*shown.ErrorInfo.ErrorCode != CodeNotSubscribed {
		t.Fatalf("failed message %s", r.Body)
	}

	// A message the device does not have: 200 without a message_id.
	if r := respond(b, http.MethodGet, "devices/d1/messages/nope", ""); r.Status != http.StatusOK || string(r.Body) != `{}` {
		t.Fatalf("unknown message %d %s", r.Status, r.Body)
	}

	r = respond(b, http.MethodGet, "devices/d1/messages", "")
	var list model.ListDeviceMessagesResponse
	if err := json.Unmarshal(r.Body, &list); err != nil || *list.DeviceId != "d1" || len(*list.Messages) != 2 ||
		*(*list.Messages)[0].MessageId != "m1" || *(*list.Messages)[1].Status != "FAILED" {
		t.Fatalf("list %s (%v)", r.Body, err)
	}
}

func TestRespond_Errors(t *testing.T) {
	b, _, _ := newBackend(t, newFakeDevices("d1"))
	for name, tc := range map[string]struct {
		method, path, body string
		status             int
		code, msg          string
	}{
		"unknown device create":  {"POST", "devices/ghost/messages", `{"message":"x"}`, 404, CodeDeviceNotFound, "ghost"},
		"unknown device show":    {"GET", "devices/ghost/messages/m1", "", 404, CodeDeviceNotFound, "ghost"},
		"unknown device list":    {"GET", "devices/ghost/messages", "", 404, CodeDeviceNotFound, "ghost"},
		"unknown message delete": {"DELETE", "devices/d1/messages/m9", "", 404, CodeMessageNotFound, "m9"},
		"bad device id":          {"GET", "devices/d 1/messages", "", 400, CodeInvalidInput, "device_id"},
		"bad message id":         {"GET", "devices/d1/messages/m.1", "", 400, CodeInvalidInput, "message_id"},
		"put":                    {"PUT", "devices/d1/messages", "", 405, "APIG.0101", "does not exist"},
		"post one":               {"POST", "devices/d1/messages/m1", "", 405, "APIG.0101", "does not exist"},
		"not JSON":               {"POST", "devices/d1/messages", `{"message":`, 400, CodeBadRequest, "not valid JSON"},
	} {
		t.Run(name, func(t *testing.T) {
			r := respond(b, tc.method, tc.path, tc.body)
			var e struct {
				ErrorCode string `json:"error_code"`
				ErrorMsg  string `json:"error_msg"`
			}
			if r.Status != tc.status || json.Unmarshal(r.Body, &e) != nil || e.ErrorCode != tc.code || !strings.Contains(e.ErrorMsg, tc.msg) {
				t.Fatalf("%d %s; want %d %s with %q", r.Status, r.Body, tc.status, tc.code, tc.msg)
			}
			if tc.status == 405 && r.Allow == "" {
				t.Error("a 405 without Allow")
			}
		})
	}
	r := b.Respond(http.MethodPost, []string{"devices", "d1", "messages"}, "text/plain", []byte(`{"message":"x"}`))
	if r.Status != 400 || !strings.Contains(string(r.Body), "Content-Type") {
		t.Fatalf("text/plain: %d %s", r.Status, r.Body)
	}
	respond(b, http.MethodPost, "devices/d1/messages", `{"message_id":"m1","message":"x"}`)
	if r := respond(b, http.MethodDelete, "devices/d1/messages/m1", ""); r.Status != http.StatusNoContent || r.Body != nil {
		t.Fatalf("delete %d %s", r.Status, r.Body)
	}
}

// Every rule of a CreateMessage body (facts §1.2), refused with a message naming the field.
func TestCreate_Validation(t *testing.T) {
	b, _, _ := newBackend(t, newFakeDevices("d1"))
	long := strings.Repeat("a", 129)
	for name, tc := range map[string]struct{ body, want string }{
		"array body":          {`[1]`, "JSON object"},
		"no message":          {`{"name":"n"}`, "message is required"},
		"null message":        {`{"message":null}`, "message is required"},
		"oversize message":    {`{"message":"` + strings.Repeat("x", MaxContentBytes+1) + `"}`, "at most 262144 bytes"},
		"message id charset":  {`{"message_id":"a.b","message":"x"}`, "message_id"},
		"message id too long": {`{"message_id":"` + long + `","message":"x"}`, "message_id"},
		"message id a number": {`{"message_id":7,"message":"x"}`, "message_id must be string"},
		"name too long":       {`{"name":"` + long + `","message":"x"}`, "name is longer"},
		"name charset":        {`{"name":"a b","message":"x"}`, "name may contain"},
		"encoding":            {`{"message":"x","encoding":"gzip"}`, "encoding must be"},
		"payload format":      {`{"message":"x","payload_format":"binary"}`, "payload_format must be"},
		"base64 standard":     {`{"message":"aGk=","encoding":"base64","payload_format":"standard"}`, "only with encoding none"},
		"base64 object":       {`{"message":{"a":1},"encoding":"base64"}`, "string holding base64"},
		"base64 invalid":      {`{"message":"not base64!","encoding":"base64"}`, "standard base64"},
		"both topics":         {`{"message":"x","topic":"a","topic_full_name":"b"}`, "cannot both be set"},
		"topic too long":      {`{"message":"x","topic":"` + long + `"}`, "topic is longer"},
		"topic wildcard":      {`{"message":"x","topic_full_name":"a/#"}`, "wildcards"},
		"topic bytes":         {`{"message":"x","topic":"` + strings.Repeat("é", 65) + `"}`, "longer than 128 bytes"},
		"topic leading slash": {`{"message":"x","topic":"/a"}`, "must not start with /"},
		"ttl step":            {`{"message":"x","ttl":7}`, "multiple of 5"},
		"ttl above":           {`{"message":"x","ttl":1445}`, "from 0 to 1440"},
		"ttl negative":        {`{"message":"x","ttl":-5}`, "from 0 to 1440"},
		"ttl fraction":        {`{"message":"x","ttl":5.5}`, "integer"},
		"ttl string":          {`{"message":"x","ttl":"5"}`, "integer"},
		"ttl huge":            {`{"message":"x","ttl":1e400}`, "from 0 to 1440"},
		"ttl 5.0 step":        {`{"message":"x","ttl":7.0}`, "multiple of 5"},
		"system topic":        {`{"message":"x","topic_full_name":"$oc/devices/d1/sys/commands/request_id=fake"}`, "system topic"},
		"custom under $oc":    {`{"message":"x","topic_full_name":"$oc/devices/d1/user/cfg"}`, "use topic"},
		"system topic, case":  {`{"message":"x","topic_full_name":"$OC/devices/d1/sys/commands/request_id=fake"}`, "must not start with $"},
		"server topic":        {`{"message":"x","topic_full_name":"$SYS/broker"}`, "must not start with $"},
		"bare $oc":            {`{"message":"x","topic_full_name":"$oc"}`, "must not start with $"},
		"correlation data":    {`{"message":"x","properties":{"correlation_data":"a b"}}`, "correlation_data"},
		"response topic":      {`{"message":"x","properties":{"response_topic":"a b"}}`, "response_topic"},
		"prop key":            {`{"message":"x","properties":{"user_properties":[{"prop_key":"k.1"}]}}`, "user_properties[0].prop_key"},
		"prop value":          {`{"message":"x","properties":{"user_properties":[{"prop_key":"k","prop_value":"a;b"}]}}`, "prop_value"},
		"too many user props": {`{"message":"x","properties":{"user_properties":[` + strings.TrimSuffix(strings.Repeat(`{"prop_key":"k"},`, 21), ",") + `]}}`, "at most 20"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := b.Create("d1", []byte(tc.body))
			if err == nil || err.Status != 400 || err.Code != CodeInvalidInput || !strings.Contains(err.Msg, tc.want) {
				t.Fatalf("%.200s: %v; want 400 %s with %q", tc.body, err, CodeInvalidInput, tc.want)
			}
		})
	}
	for name, body := range map[string]string{
		"chinese name":        `{"name":"消息_1(a)","message":"x"}`,
		"ttl 0":               `{"message":"x","ttl":0}`,
		"ttl 1440":            `{"message":"x","ttl":1440}`,
		"ttl 5.0":             `{"message":"x","ttl":5.0}`,
		"ttl 5e1":             `{"message":"x","ttl":5e1}`,
		"ttl 1.44E3":          `{"message":"x","ttl":1.44E3}`,
		"full name with $":    `{"message":"x","topic_full_name":"/a/$oc/b"}`,
		"128-char message id": `{"message_id":"` + strings.Repeat("a", 128) + `","message":"x"}`,
		"number message":      `{"message":12.50}`,
		"max message":         `{"message":"` + strings.Repeat("x", MaxContentBytes) + `"}`,
		"20 user properties":  `{"message":"x","properties":{"user_properties":[` + strings.TrimSuffix(strings.Repeat(`{"prop_key":"k","prop_value":"中 文"},`, 20), ",") + `]}}`,
		"response topic":      `{"message":"x","properties":{"response_topic":"$a/b?c=d#+"}}`,
	} {
		if _, err := b.Create("d1", []byte(body)); err != nil {
			t.Errorf("%s refused: %v", name, err)
		}
	}
}
