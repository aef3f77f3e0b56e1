package mockserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/broker"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/delivery"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/journal"
)

// deliver publishes cmd on its device's command topic and waits for the reply on the
// response topic, ctx, or close. The device need not have subscribed to its command topic.
func (s *Server) deliver(ctx context.Context, cmd Command) (json.RawMessage, error) {
	payload, err := commandPayload(cmd)
	if err != nil {
		return nil, err
	}
	return s.path.Publish(ctx, delivery.Publication{
		DeviceID:   cmd.DeviceID,
		Topic:      broker.CommandTopic(cmd.DeviceID, cmd.CommandID),
		Payload:    payload,
		ReplyTopic: broker.ResponseTopic(cmd.DeviceID, cmd.CommandID),
		Journal:    journal.Entry{CommandID: cmd.CommandID},
	})
}

// commandPayload builds the platform's downstream payload by hand so that paras reach the
// device byte for byte (re-encoding would turn large integers into float64).
func commandPayload(cmd Command) ([]byte, error) {
	if cmd.CommandID == "" || strings.ContainsAny(cmd.CommandID, "/+#\x00") {
		return nil, fmt.Errorf("mockserver: command id %q cannot be used in an MQTT topic", cmd.CommandID)
	}
	paras := []byte(cmd.Paras)
	if len(bytes.TrimSpace(paras)) == 0 {
		paras = []byte("{}")
	}
	if !json.Valid(paras) {
		return nil, errors.New("mockserver: command paras are not valid JSON")
	}
	var buf bytes.Buffer
	buf.WriteByte('{')
	for _, f := range []struct{ name, value string }{
		{"service_id", cmd.ServiceID},
		{"command_name", cmd.CommandName},
	} {
		if f.value == "" {
			continue
		}
		v, err := json.Marshal(f.value)
		if err != nil {
			return nil, err
		}
		buf.WriteString(`"` + f.name + `":`)
		buf.Write(v)
		buf.WriteByte(',')
	}
	buf.WriteString(`"paras":`)
	buf.Write(paras)
	buf.WriteByte('}')
	return buf.Bytes(), nil
}
