package provider

import (
	"context"
	"encoding/json"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
)

// The private state of iotda_device_message: what the resource keeps between applies besides
// its attributes. Nothing in it holds the message's content.

// Private state keys.
const (
	// privateMessageSent records a create whose outcome is not known (a sentMessage): the
	// state holds the message_id without a status until IoTDA shows the message.
	privateMessageSent = "sent"
)

// messagePrivate is the resource's private state.
type messagePrivate struct {
	Imported bool
	Sent     *sentMessage
}

// sentMessage is a create whose outcome is not known.
type sentMessage struct {
	// At is when it was sent, by this machine's clock.
	At time.Time `json:"at"`
}

// loadMessagePrivate reads the private state; the zero value when there is none.
func loadMessagePrivate(ctx context.Context, p privateGetter) messagePrivate {
	var mp messagePrivate
	if p == nil {
		return mp
	}
	mp.Imported = imported(ctx, p)
	if b, diags := p.GetKey(ctx, privateMessageSent); !diags.HasError() && len(b) > 0 {
		var sent sentMessage
		if json.Unmarshal(b, &sent) == nil { // A value this provider did not write holds nothing.
			mp.Sent = &sent
		}
	}
	return mp
}

// setMessagePrivate writes the private state; a key with nothing to say is removed.
func setMessagePrivate(ctx context.Context, p privateSetter, mp messagePrivate, diags *diag.Diagnostics) {
	if p == nil {
		return
	}
	var imported, sent []byte
	if mp.Imported {
		imported = []byte(`true`)
	}
	if mp.Sent != nil {
		b, err := json.Marshal(mp.Sent)
		if err != nil {
			diags.AddError("Internal Error", "Encoding the private state failed: "+err.Error())
			return
		}
		sent = b
	}
	diags.Append(p.SetKey(ctx, privateImported, imported)...)
	diags.Append(p.SetKey(ctx, privateMessageSent, sent)...)
}
