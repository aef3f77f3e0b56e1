package simdevice

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/registry"
)

// defaultSimResponse is the reply of a BehaviorReply device without Behavior.Response.
var defaultSimResponse = json.RawMessage(`{"result_code":0,"response_name":"COMMAND_RESPONSE","paras":{"result":"success"}}`)

// simReply builds the reply to a command payload.
func simReply(b registry.Behavior, command []byte) ([]byte, error) {
	if b.Kind == registry.BehaviorEcho {
		return echoReply(b.ResultCode, command)
	}
	if b.RawResponse != nil {
		return []byte(*b.RawResponse), nil
	}
	resp := []byte(defaultSimResponse)
	if len(b.Response) > 0 {
		resp = b.Response
	}
	if b.ResultCode == 0 {
		return resp, nil
	}
	return withResultCode(resp, b.ResultCode)
}

// echoReply answers {"result_code":code,"response_name":<command_name>,"paras":<paras>},
// copying command_name and paras as raw JSON so that they come back byte for byte.
func echoReply(code int, command []byte) ([]byte, error) {
	var cmd struct {
		CommandName json.RawMessage `json:"command_name"`
		Paras       json.RawMessage `json:"paras"`
	}
	if err := json.Unmarshal(command, &cmd); err != nil {
		return nil, err
	}
	paras := cmd.Paras
	if paras == nil {
		paras = json.RawMessage(`{}`)
	}
	buf := make([]byte, 0, len(cmd.CommandName)+len(paras)+48)
	buf = append(buf, `{"result_code":`...)
	buf = strconv.AppendInt(buf, int64(code), 10)
	if cmd.CommandName != nil {
		buf = append(buf, `,"response_name":`...)
		buf = append(buf, cmd.CommandName...)
	}
	buf = append(buf, `,"paras":`...)
	buf = append(buf, paras...)
	return append(buf, '}'), nil
}

// withResultCode sets result_code in a JSON object reply, in place (or first if absent).
// Every other member keeps its position and its value's exact bytes. A reply that is not
// a JSON object is returned unchanged.
func withResultCode(reply []byte, code int) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(reply))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return reply, nil //nolint:nilerr // not an object: published unchanged
	}
	codeJSON := []byte(strconv.Itoa(code))
	var members bytes.Buffer
	replaced := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, errors.New("malformed JSON object")
		}
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, err
		}
		if key == "result_code" {
			value, replaced = codeJSON, true
		}
		k, err := marshalNoEscape(key)
		if err != nil {
			return nil, err
		}
		if members.Len() > 0 {
			members.WriteByte(',')
		}
		members.Write(k)
		members.WriteByte(':')
		members.Write(value)
	}
	var out bytes.Buffer
	out.WriteByte('{')
	if !replaced {
		out.WriteString(`"result_code":`)
		out.Write(codeJSON)
		if members.Len() > 0 {
			out.WriteByte(',')
		}
	}
	out.Write(members.Bytes())
	out.WriteByte('}')
	return out.Bytes(), nil
}

// marshalNoEscape encodes v as JSON without HTML escaping (so "<" stays "<").
func marshalNoEscape(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
