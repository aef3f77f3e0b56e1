package simdevice

import "testing"

func TestWithResultCode(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"result_code":0,"response_name":"X","paras":{"big":12345678901234567890}}`,
			`{"result_code":3,"response_name":"X","paras":{"big":12345678901234567890}}`},
		{`{"paras":{ "a" : 1 },"result_code":1}`, `{"paras":{ "a" : 1 },"result_code":3}`},
		{`{"response_name":"<&>"}`, `{"result_code":3,"response_name":"<&>"}`},
		{`{}`, `{"result_code":3}`},
		{`[1,2]`, `[1,2]`},
		{`"text"`, `"text"`},
	}
	for _, tt := range tests {
		got, err := withResultCode([]byte(tt.in), 3)
		if err != nil || string(got) != tt.want {
			t.Errorf("withResultCode(%s) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

func TestEchoReply(t *testing.T) {
	got, err := echoReply(0, []byte(`{"service_id":"s","command_name":"N","paras":{"f":0.10}}`))
	if err != nil || string(got) != `{"result_code":0,"response_name":"N","paras":{"f":0.10}}` {
		t.Errorf("echoReply = %s, %v", got, err)
	}
	got, err = echoReply(2, []byte(`{}`))
	if err != nil || string(got) != `{"result_code":2,"paras":{}}` {
		t.Errorf("echoReply without name and paras = %s, %v", got, err)
	}
	if _, err := echoReply(0, []byte(`not json`)); err == nil {
		t.Error("echoReply accepted a malformed command")
	}
}
