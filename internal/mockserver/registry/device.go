package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// deviceIDPattern is the platform's device id syntax.
var deviceIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// ValidDeviceID reports whether id has the platform's device id syntax,
// ^[A-Za-z0-9_-]{1,128}$.
func ValidDeviceID(id string) bool { return deviceIDPattern.MatchString(id) }

// Device is an entry in the platform's device registry.
type Device struct {
	// ID is the device id, ^[A-Za-z0-9_-]{1,128}$.
	ID string `json:"id"`
	// Secret is the device secret used for MQTT authentication. Default "secret-" + ID.
	Secret string `json:"secret,omitempty"`
	// Simulated, when set, makes the mock run a built-in device that connects over MQTT
	// with the device's credentials and answers commands as the behaviour says. Without
	// it the device is offline until a real client connects as it.
	Simulated *Behavior `json:"simulated,omitempty"`
}

// defaultSecret is the secret of a device registered without one.
func defaultSecret(id string) string { return "secret-" + id }

// BehaviorKind selects how a simulated device answers.
type BehaviorKind string

// Simulated device behaviours.
const (
	// BehaviorReply answers every command with Behavior.Response.
	BehaviorReply BehaviorKind = "reply"
	// BehaviorEcho answers with the command's own paras:
	// {"result_code":0,"response_name":<command_name>,"paras":<paras>}.
	BehaviorEcho BehaviorKind = "echo"
	// BehaviorSilent never answers.
	BehaviorSilent BehaviorKind = "silent"
)

// Behavior is what a simulated device does with a command. The registry keeps it; the
// simulated devices (package simdevice) follow it.
type Behavior struct {
	// Kind defaults to BehaviorReply.
	Kind BehaviorKind `json:"kind,omitempty"`
	// Response is the reply for BehaviorReply, published as is. Default
	// {"result_code":0,"response_name":"COMMAND_RESPONSE","paras":{"result":"success"}}.
	Response json.RawMessage `json:"response,omitempty"`
	// RawResponse, when set, is the reply for BehaviorReply instead of Response, published
	// byte for byte whether or not it is JSON ("" publishes an empty payload): for trying
	// out what the platform does with a device's odd replies.
	RawResponse *string `json:"raw_response,omitempty"`
	// ResultCode, when non-zero, replaces result_code in the reply (reply and echo).
	ResultCode int `json:"result_code,omitempty"`
	// Delay is how long the device waits before answering.
	Delay time.Duration `json:"delay,omitempty"`
	// DisconnectAfter, when positive, makes the device disconnect (and stay offline)
	// after answering that many commands.
	DisconnectAfter int `json:"disconnect_after,omitempty"`
	// Subscribe lists topic filters the device subscribes to (at QoS 1) each time it
	// connects: the custom topics of device messages (topic or topic_full_name), which the
	// platform delivers only to a device that subscribed (its system topics need no
	// subscription). A filter the broker refuses (another device's topics) fails the
	// device's start. Fleet devices take every message without subscribing.
	Subscribe []string `json:"subscribe,omitempty"`
	// Sleep and Awake make the device sleep like a battery-powered one: it stays online for
	// Awake after each connect, then goes offline (a clean DISCONNECT) for Sleep, then
	// connects again, and so on. Messages sent meanwhile wait in the platform's cache. Both
	// are set together, or neither. A fleet's devices sleep and wake together.
	Sleep time.Duration `json:"sleep,omitempty"`
	Awake time.Duration `json:"awake,omitempty"`
}

// Validate rejects a behaviour a simulated device cannot follow.
func (b Behavior) Validate() error {
	switch b.Kind {
	case "", BehaviorReply, BehaviorEcho, BehaviorSilent:
	default:
		return fmt.Errorf("unknown simulated behaviour %q (want reply, echo or silent)", b.Kind)
	}
	if len(b.Response) > 0 && !json.Valid(b.Response) {
		return errors.New("simulated response is not valid JSON")
	}
	if b.RawResponse != nil {
		switch {
		case b.Kind != "" && b.Kind != BehaviorReply:
			return errors.New("raw_response is a reply: it needs kind reply")
		case len(b.Response) > 0:
			return errors.New("give response or raw_response, not both")
		case b.ResultCode != 0:
			return errors.New("result_code cannot be set in a raw_response")
		}
	}
	if b.Delay < 0 || b.DisconnectAfter < 0 {
		return errors.New("simulated delay and disconnect_after must not be negative")
	}
	switch {
	case b.Sleep < 0 || b.Awake < 0:
		return errors.New("simulated sleep and awake must not be negative")
	case (b.Sleep > 0) != (b.Awake > 0):
		return errors.New("give sleep and awake together: how long the device sleeps, and how long it stays online after waking")
	case b.Sleep > 0 && b.DisconnectAfter > 0:
		return errors.New("a device that sleeps wakes again: sleep and disconnect_after cannot both be set")
	}
	for _, f := range b.Subscribe {
		if f == "" || len(f) > maxFilterBytes || strings.ContainsRune(f, 0) {
			return fmt.Errorf("subscribe: %q is not a topic filter (1 to %d bytes)", f, maxFilterBytes)
		}
	}
	return nil
}

// maxFilterBytes bounds a filter in Behavior.Subscribe: a custom topic has at most 128
// characters on the platform (iotda-messages-facts.md §4); the device's own prefix,
// $oc/devices/{device_id}/user/, comes on top.
const maxFilterBytes = 512

// UnmarshalJSON reads Delay as a Go duration string such as "500ms" (or a number of
// nanoseconds), so that configuration files and the admin API can write durations
// readably. Unknown fields are refused: a misspelt field would change the behaviour.
func (b *Behavior) UnmarshalJSON(data []byte) error {
	type plain Behavior
	aux := struct {
		*plain
		Delay jsonDuration `json:"delay,omitempty"`
		Sleep jsonDuration `json:"sleep,omitempty"`
		Awake jsonDuration `json:"awake,omitempty"`
	}{plain: (*plain)(b)}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&aux); err != nil {
		return err
	}
	b.Delay, b.Sleep, b.Awake = time.Duration(aux.Delay), time.Duration(aux.Sleep), time.Duration(aux.Awake)
	return nil
}

// MarshalJSON writes Delay, Sleep and Awake as Go duration strings.
func (b Behavior) MarshalJSON() ([]byte, error) {
	type plain Behavior
	aux := struct {
		plain
		Delay string `json:"delay,omitempty"`
		Sleep string `json:"sleep,omitempty"`
		Awake string `json:"awake,omitempty"`
	}{plain: plain(b)}
	for _, d := range []struct {
		v   time.Duration
		out *string
	}{{b.Delay, &aux.Delay}, {b.Sleep, &aux.Sleep}, {b.Awake, &aux.Awake}} {
		if d.v != 0 {
			*d.out = d.v.String()
		}
	}
	return json.Marshal(aux)
}

// jsonDuration is a time.Duration that reads "1.5s" as well as a number of nanoseconds.
// (A fault's Delay reads the same way, with a twin of this type in package faults: the two
// packages share nothing else.)
type jsonDuration time.Duration

func (d *jsonDuration) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("invalid duration %q: %w", s, err)
		}
		*d = jsonDuration(v)
		return nil
	}
	var n int64
	if err := json.Unmarshal(data, &n); err != nil {
		return fmt.Errorf("invalid duration %s: want a string such as \"1s\" or nanoseconds", data)
	}
	*d = jsonDuration(n)
	return nil
}
