package iotda

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-log/tflogtest"
)

// messageRoutes answers the message API from per-method handlers and counts each route.
type messageRoutes struct {
	mu    sync.Mutex
	posts int
	gets  int
	post  http.HandlerFunc
	get   http.HandlerFunc
}

func (m *messageRoutes) handler(t *testing.T) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		var h http.HandlerFunc
		switch r.Method {
		case http.MethodPost:
			m.posts++
			h = m.post
		case http.MethodGet:
			m.gets++
			h = m.get
		}
		m.mu.Unlock()
		if h == nil {
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
			w.WriteHeader(http.StatusTeapot)
			return
		}
		h(w, r)
	}
}

func (m *messageRoutes) counts() (posts, gets int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.posts, m.gets
}

// dropConnection reads the request and closes the connection without an answer: the client
// cannot tell whether the platform acted on it.
func dropConnection(w http.ResponseWriter, _ *http.Request) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		_ = conn.Close()
	}
}

// uuidV4 matches an RFC 4122 version 4 UUID.
var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

const created201 = `{"message_id":"m-1","result":{"status":"PENDING","created_time":"20240102T030405Z"}}`

func testMessage() Message {
	return Message{DeviceID: "dev-1", MessageID: "m-1", Message: json.RawMessage(`"hello"`)}
}

func TestCreateMessage_BodyAndAnswer(t *testing.T) {
	ts := newTestServer(t, reply(http.StatusCreated, `{"message_id":"m-1","result":{"status":"DELIVERED",`+
		`"created_time":"20240102T030405Z","finished_time":"20240102T030406Z"}}`))
	c := newTestClient(t, ts.URL+"/", func(c *Config) { c.InstanceID = "inst-1" })
	ttl := int32(60)
	m := Message{DeviceID: "dev-1", MessageID: "m-1", Name: "set_interval",
		Message:  json.RawMessage(`{"big":12345678901234567890123,"f":1.0000000000000000001,"html":"<a&b>","n":{"x":[1,2]}}`),
		Encoding: EncodingNone, PayloadFormat: PayloadRaw, Topic: "cfg", TTL: &ttl,
		Properties: &MessageProperties{CorrelationData: "c-1", ResponseTopic: "a/b",
			UserProperties: []UserProperty{{Key: "k1", Value: "v 1"}}}}
	res, err := c.CreateMessage(t.Context(), m)
	if err != nil {
		t.Fatal(err)
	}
	got := ts.lastRequest()
	if got.method != http.MethodPost || got.escapedPath != "/v5/iot/proj-1/devices/dev-1/messages" {
		t.Fatalf("request %s %s", got.method, got.escapedPath)
	}
	want := `{"message_id":"m-1","name":"set_interval","message":` + string(m.Message) +
		`,"properties":{"correlation_data":"c-1","response_topic":"a/b","user_properties":[{"prop_key":"k1","prop_value":"v 1"}]},` +
		`"encoding":"none","payload_format":"raw","topic":"cfg","ttl":60}`
	if string(got.body) != want {
		t.Fatalf("body\n got %s\nwant %s", got.body, want)
	}
	for k, v := range map[string]string{"Content-Type": "application/json", "X-Auth-Token": testToken, "Instance-Id": "inst-1"} {
		if got.header.Get(k) != v {
			t.Errorf("header %s = %q, want %q", k, got.header.Get(k), v)
		}
	}
	if res.MessageID != "m-1" || res.Status != MessageDelivered || res.Recovered || res.RequestID != "req-123" ||
		res.StatusCode != http.StatusCreated {
		t.Fatalf("result %+v", res)
	}
	if !res.CreatedAt.Equal(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)) ||
		!res.FinishedAt.Equal(time.Date(2024, 1, 2, 3, 4, 6, 0, time.UTC)) {
		t.Fatalf("times %v %v", res.CreatedAt, res.FinishedAt)
	}
}

func TestCreateMessage_MinimalBodyAndEscapedPath(t *testing.T) {
	ts := newTestServer(t, reply(http.StatusCreated, created201))
	c := newTestClient(t, ts.URL, nil)
	m := testMessage()
	m.DeviceID = "d/1"
	m.Message = json.RawMessage(" \"a <b> & \\u00e9\" ")
	res, err := c.CreateMessage(t.Context(), m)
	if err != nil {
		t.Fatal(err)
	}
	got := ts.lastRequest()
	if got.escapedPath != "/v5/iot/proj-1/devices/d%2F1/messages" {
		t.Fatalf("path %s", got.escapedPath)
	}
	if want := `{"message_id":"m-1","message":"a <b> & \u00e9"}`; string(got.body) != want {
		t.Fatalf("body\n got %s\nwant %s", got.body, want)
	}
	if res.Status != MessagePending || !res.FinishedAt.IsZero() || res.FinishedTime != "" {
		t.Fatalf("result %+v", res)
	}
}

func TestCreateMessage_RejectsBadInputWithoutSending(t *testing.T) {
	ts := newTestServer(t, reply(http.StatusCreated, created201))
	c := newTestClient(t, ts.URL, nil)
	for name, mutate := range map[string]func(*Message){
		"no device":       func(m *Message) { m.DeviceID = "" },
		"dot device":      func(m *Message) { m.DeviceID = ".." },
		"no message id":   func(m *Message) { m.MessageID = "" },
		"bad message id":  func(m *Message) { m.MessageID = "a b" },
		"long message id": func(m *Message) { m.MessageID = strings.Repeat("m", 129) },
		"no content":      func(m *Message) { m.Message = nil },
		"null content":    func(m *Message) { m.Message = json.RawMessage(`null`) },
		"bad JSON":        func(m *Message) { m.Message = json.RawMessage(`{"a":`) },
		"both topics":     func(m *Message) { m.Topic, m.TopicFullName = "a", "b" },
	} {
		m := testMessage()
		mutate(&m)
		if _, err := c.CreateMessage(t.Context(), m); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if n := ts.hits.Load(); n != 0 {
		t.Fatalf("server hit %d times", n)
	}
}

func TestNewMessageID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id, err := NewMessageID()
		if err != nil {
			t.Fatal(err)
		}
		if !MessageIDPattern.MatchString(id) || len(id) > 100 || seen[id] {
			t.Fatalf("id %q: not a fresh message id within the SDK's 100 characters", id)
		}
		// RFC 4122 version 4: the version nibble 4, the variant bits 10.
		if !uuidV4.MatchString(id) {
			t.Fatalf("id %q is not a version 4 UUID", id)
		}
		seen[id] = true
	}
}

// A lost create answer is resolved by reading the message by its id: the message is sent
// once, whatever answer follows.
func TestCreateMessage_LostAnswerResolvedByID(t *testing.T) {
	shown := `{"message_id":"m-1","name":"","message":"hello","status":"DELIVERED",` +
		`"created_time":"20240102T030405Z","finished_time":"20240102T030405Z"}`
	for name, post := range map[string]http.HandlerFunc{
		"dropped":         dropConnection,
		"not JSON":        reply(http.StatusCreated, `<html>gateway</html>`),
		"no message_id":   reply(http.StatusCreated, `{"result":{"status":"PENDING"}}`),
		"other message":   reply(http.StatusCreated, `{"message_id":"m-2","result":{"status":"PENDING"}}`),
		"server error":    reply(http.StatusInternalServerError, `{"error_code":"IOTDA.000500","error_msg":"boom"}`),
		"gateway timeout": reply(http.StatusGatewayTimeout, `upstream timed out`),
	} {
		t.Run(name, func(t *testing.T) {
			routes := &messageRoutes{post: post}
			gets := 0
			routes.get = func(w http.ResponseWriter, r *http.Request) {
				gets++
				if gets == 1 {
					reply(http.StatusOK, `{}`)(w, r) // Not there yet: the platform is still on it.
					return
				}
				reply(http.StatusOK, shown)(w, r)
			}
			ts := newTestServer(t, routes.handler(t))
			c := newTestClient(t, ts.URL, nil)
			res, err := c.CreateMessage(t.Context(), testMessage())
			if err != nil {
				t.Fatal(err)
			}
			if !res.Recovered || res.LostAnswer == "" || res.MessageID != "m-1" || res.Status != MessageDelivered {
				t.Fatalf("result %+v", res)
			}
			if posts, gets := routes.counts(); posts != 1 || gets != 2 {
				t.Fatalf("%d creates and %d reads; want the message sent once and read until found", posts, gets)
			}
			if ts.lastRequest().escapedPath != "/v5/iot/proj-1/devices/dev-1/messages/m-1" {
				t.Fatalf("read %s", ts.lastRequest().escapedPath)
			}
		})
	}
}

func TestCreateMessage_LostAnswerNotFound(t *testing.T) {
	routes := &messageRoutes{post: dropConnection, get: reply(http.StatusOK, `{}`)}
	ts := newTestServer(t, routes.handler(t))
	c := newTestClient(t, ts.URL, nil)
	res, err := c.CreateMessage(t.Context(), testMessage())
	var outcome *MessageOutcomeUnknownError
	var unknown *DeliveryUnknownError
	if res != nil || !errors.As(err, &outcome) || !errors.As(err, &unknown) || !errors.Is(outcome.Lookup, ErrMessageNotFound) {
		t.Fatalf("res %+v, err %v", res, err)
	}
	for _, want := range []string{"may have accepted the message", "m-1", "dev-1", "found nothing"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if posts, gets := routes.counts(); posts != 1 || gets != lookupReads {
		t.Fatalf("%d creates, %d reads; want 1 and %d", posts, gets, lookupReads)
	}
}

// A 5xx whose message cannot be found leaves the outcome unknown, with the platform's error
// inside: a request held on its way may still create it. A lookup that is refused for good
// (the device is gone) stops at once.
func TestCreateMessage_ServerErrorNotFoundAndPermanentLookupError(t *testing.T) {
	routes := &messageRoutes{post: reply(http.StatusServiceUnavailable, `{"error_code":"IOTDA.000503","error_msg":"busy"}`),
		get: reply(http.StatusOK, `{}`)}
	ts := newTestServer(t, routes.handler(t))
	c := newTestClient(t, ts.URL, nil)
	_, err := c.CreateMessage(t.Context(), testMessage())
	var apiErr *APIError
	var unresolved *MessageOutcomeUnknownError
	if !errors.As(err, &unresolved) || !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusServiceUnavailable ||
		!errors.Is(err, ErrServer) || !errors.Is(unresolved.Lookup, ErrMessageNotFound) {
		t.Fatalf("err %v", err)
	}
	if posts, _ := routes.counts(); posts != 1 {
		t.Fatalf("%d creates", posts)
	}

	routes = &messageRoutes{post: dropConnection, get: reply(http.StatusNotFound, `{"error_code":"IOTDA.014000","error_msg":"no device"}`)}
	ts = newTestServer(t, routes.handler(t))
	c = newTestClient(t, ts.URL, nil)
	_, err = c.CreateMessage(t.Context(), testMessage())
	var outcome *MessageOutcomeUnknownError
	if !errors.As(err, &outcome) || !errors.Is(outcome.Lookup, ErrNotFound) {
		t.Fatalf("err %v", err)
	}
	if posts, gets := routes.counts(); posts != 1 || gets != 1 {
		t.Fatalf("%d creates, %d reads; want 1 and 1", posts, gets)
	}
}

// Refusals need no lookup: the platform said it did not take the message.
func TestCreateMessage_RefusalsAreNotLookedUp(t *testing.T) {
	for name, tc := range map[string]struct {
		status   int
		body     string
		sentinel error
	}{
		"invalid":   {400, `{"error_code":"IOTDA.000006","error_msg":"Invalid input data."}`, ErrBadRequest},
		"no device": {404, `{"error_code":"IOTDA.014000","error_msg":"The device does not exist."}`, ErrNotFound},
		"token":     {401, `{"error_code":"IOTDA.000002","error_msg":"Authentication failed."}`, ErrUnauthorized},
	} {
		t.Run(name, func(t *testing.T) {
			routes := &messageRoutes{post: reply(tc.status, tc.body)}
			ts := newTestServer(t, routes.handler(t))
			c := newTestClient(t, ts.URL, nil)
			_, err := c.CreateMessage(t.Context(), testMessage())
			if !errors.Is(err, tc.sentinel) {
				t.Fatalf("err %v, want %v", err, tc.sentinel)
			}
			if posts, gets := routes.counts(); posts != 1 || gets != 0 {
				t.Fatalf("%d creates, %d reads", posts, gets)
			}
		})
	}
}

// A create retried after a throttled answer that the platform acted on (its answer throttled
// on the way back) is refused because its id is used: the message exists, and is read by
// its id. The same holds when every attempt is throttled.
func TestCreateMessage_RetryAfterAThrottledAnswerThePlatformActedOn(t *testing.T) {
	shown := reply(http.StatusOK, `{"message_id":"m-1","message":"hello","status":"PENDING","created_time":"20240102T030405Z"}`)
	throttled := reply(http.StatusTooManyRequests, `{"error_code":"APIGW.0308","error_msg":"The request is throttled."}`)
	used := reply(http.StatusBadRequest, `{"error_code":"IOTDA.000006","error_msg":"message_id m-1 is already used by a message of device dev-1"}`)
	for name, tc := range map[string]struct {
		posts []http.HandlerFunc
		get   http.HandlerFunc
		want  func(*DeviceMessage, error) bool
	}{
		"429 then used": {posts: []http.HandlerFunc{throttled, used}, get: shown,
			want: func(res *DeviceMessage, err error) bool {
				return err == nil && res.Recovered && res.Status == MessagePending
			}},
		"409 naming the id": {posts: []http.HandlerFunc{throttled, reply(http.StatusConflict, `{"error_msg":"duplicate m-1"}`)},
			get: shown, want: func(res *DeviceMessage, err error) bool { return err == nil && res.Recovered }},
		"every attempt throttled": {posts: []http.HandlerFunc{throttled, throttled, throttled, throttled}, get: shown,
			want: func(res *DeviceMessage, err error) bool { return err == nil && res.Recovered }},
		"throttled and not there": {posts: []http.HandlerFunc{throttled, throttled, throttled, throttled},
			get: reply(http.StatusOK, `{}`), want: func(_ *DeviceMessage, err error) bool {
				var u *MessageOutcomeUnknownError
				return errors.Is(err, ErrThrottled) && !errors.As(err, &u)
			}},
		"used and not there": {posts: []http.HandlerFunc{throttled, used}, get: reply(http.StatusOK, `{}`),
			want: func(_ *DeviceMessage, err error) bool {
				var u *MessageOutcomeUnknownError
				return errors.As(err, &u) && errors.Is(err, ErrBadRequest) && errors.Is(u.Lookup, ErrMessageNotFound)
			}},
	} {
		// With secret content the refusal's error_msg is hidden, but only once it was read
		// for the message's id.
		for _, secret := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, secret %t", name, secret), func(t *testing.T) {
				var mu sync.Mutex
				n := 0
				routes := &messageRoutes{get: tc.get, post: func(w http.ResponseWriter, r *http.Request) {
					mu.Lock()
					h := tc.posts[min(n, len(tc.posts)-1)]
					n++
					mu.Unlock()
					h(w, r)
				}}
				ts := newTestServer(t, routes.handler(t))
				c := newTestClient(t, ts.URL, nil)
				m := testMessage()
				m.Secret = secret
				res, err := c.CreateMessage(t.Context(), m)
				if !tc.want(res, err) {
					t.Fatalf("res %+v, err %v", res, err)
				}
				if posts, gets := routes.counts(); posts != len(tc.posts) || gets == 0 {
					t.Fatalf("%d creates, %d reads; want %d creates and the message read", posts, gets, len(tc.posts))
				}
				if secret && err != nil && (strings.Contains(err.Error(), "already used") || strings.Contains(err.Error(), "throttled.")) {
					t.Fatalf("err %v shows the platform's error_msg", err)
				}
			})
		}
	}
}

// A 400 that does not name the message's id is a refusal: nothing to look for.
func TestCreateMessage_RefusalNamingAnotherIDIsNotLookedUp(t *testing.T) {
	routes := &messageRoutes{post: reply(http.StatusBadRequest, `{"error_code":"IOTDA.000006","error_msg":"message_id m-2 is already used"}`)}
	ts := newTestServer(t, routes.handler(t))
	c := newTestClient(t, ts.URL, nil)
	if _, err := c.CreateMessage(t.Context(), testMessage()); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("err %v", err)
	}
	if posts, gets := routes.counts(); posts != 1 || gets != 0 {
		t.Fatalf("%d creates, %d reads", posts, gets)
	}
}

// An interrupt while the create is on its way leaves its outcome unknown at once: no read.
func TestCreateMessage_InterruptedMakesNoLookup(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	routes := &messageRoutes{post: func(_ http.ResponseWriter, r *http.Request) {
		cancel()
		<-r.Context().Done()
	}}
	ts := newTestServer(t, routes.handler(t))
	c := newTestClient(t, ts.URL, nil)
	_, err := c.CreateMessage(ctx, testMessage())
	var unresolved *MessageOutcomeUnknownError
	if !errors.As(err, &unresolved) || !unresolved.Interrupted || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("err %v", err)
	}
	if posts, gets := routes.counts(); posts != 1 || gets != 0 {
		t.Fatalf("%d creates, %d reads", posts, gets)
	}
}

// A create answer that echoes write-only content, and is not usable, is quoted in no error:
// neither the create's nor the lookup's. Errors that echo it are redacted.
func TestCreateMessage_SecretAnswersStayOutOfErrors(t *testing.T) {
	const secret = "S3cr3tValueXYZ"
	for name, tc := range map[string]struct{ post, get http.HandlerFunc }{
		"echoing answer without id": {post: reply(http.StatusCreated, `{"message":{"key":"`+secret+`"}}`),
			get: reply(http.StatusOK, `{}`)},
		"echoing answer not JSON": {post: reply(http.StatusCreated, `key=`+secret),
			get: reply(http.StatusOK, `not JSON `+secret)},
		"echoing refusal": {post: reply(http.StatusBadRequest, `{"error_code":"IOTDA.000006","error_msg":"bad key `+secret+`"}`)},
		"echoing server error": {post: reply(http.StatusInternalServerError, `{"error_msg":"`+secret+` m-1"}`),
			get: reply(http.StatusForbidden, `{"error_code":"IOTDA.000004","error_msg":"no `+secret+`"}`)},
	} {
		t.Run(name, func(t *testing.T) {
			routes := &messageRoutes{post: tc.post, get: tc.get}
			ts := newTestServer(t, routes.handler(t))
			var buf bytes.Buffer
			ctx := tflogtest.RootLogger(t.Context(), &buf)
			c := newTestClient(t, ts.URL, nil)
			m := testMessage()
			m.Message, m.Secret = json.RawMessage(`{"key":"`+secret+`"}`), true
			_, err := c.CreateMessage(ctx, m)
			if err == nil || strings.Contains(err.Error(), secret) {
				t.Fatalf("err %v", err)
			}
			if strings.Contains(buf.String(), secret) {
				t.Errorf("the log holds the secret:\n%s", buf.String())
			}
		})
	}
}

func TestCreateMessage_NotSentIsRetriedAndSaysSo(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close() // Nothing listens there now: every dial is refused.
	c := newTestClient(t, "http://"+addr, nil)
	_, err = c.CreateMessage(t.Context(), testMessage())
	var notSent *NotSentError
	if !errors.As(err, &notSent) || notSent.Attempts != 4 || !strings.Contains(err.Error(), "the message was not sent") {
		t.Fatalf("err %v", err)
	}
}

func TestShowDeviceMessage(t *testing.T) {
	ts := newTestServer(t, reply(http.StatusOK, `{"message_id":"m-1","name":"n","message":{"a":1.50},`+
		`"encoding":"none","payload_format":"standard","topic":"$oc/devices/dev-1/user/cfg",`+
		`"properties":{"user_properties":[{"prop_key":"k","prop_value":"v"}]},"status":"FAILED",`+
		`"error_info":{"error_code":"IOTDA.014112","error_msg":"Send to device failed, device not subscribe topic."},`+
		`"created_time":"20240102T030405Z","finished_time":"20240102T030406Z"}`))
	c := newTestClient(t, ts.URL, nil)
	m, err := c.ShowDeviceMessage(t.Context(), MessageRef{DeviceID: "dev-1", MessageID: "m-1"})
	if err != nil {
		t.Fatal(err)
	}
	if got := ts.lastRequest(); got.method != http.MethodGet || got.escapedPath != "/v5/iot/proj-1/devices/dev-1/messages/m-1" {
		t.Fatalf("request %s %s", got.method, got.escapedPath)
	}
	if m.Status != MessageFailed || m.ErrorCode != "IOTDA.014112" || !strings.Contains(m.ErrorMsg, "not subscribe") ||
		string(m.Message) != `{"a":1.50}` || m.Topic != "$oc/devices/dev-1/user/cfg" || m.Name != "n" ||
		m.Encoding != EncodingNone || m.PayloadFormat != PayloadStandard || m.Properties == nil ||
		len(m.Properties.UserProperties) != 1 || m.FinishedAt.IsZero() || !MessageFinal(m.Status) {
		t.Fatalf("message %+v", m)
	}
}

func TestShowDeviceMessage_NotFoundAndErrors(t *testing.T) {
	ref := MessageRef{DeviceID: "dev-1", MessageID: "m-1"}
	for name, tc := range map[string]struct {
		handler http.HandlerFunc
		check   func(error) bool
		hits    int32
	}{
		"unknown message": {reply(http.StatusOK, `{}`), func(err error) bool { return errors.Is(err, ErrMessageNotFound) }, 1},
		"empty id": {reply(http.StatusOK, `{"message_id":""}`),
			func(err error) bool { return errors.Is(err, ErrMessageNotFound) }, 1},
		"unknown device": {reply(http.StatusNotFound, `{"error_code":"IOTDA.014000","error_msg":"no"}`),
			func(err error) bool { return errors.Is(err, ErrNotFound) && !errors.Is(err, ErrMessageNotFound) }, 1},
		"another message": {reply(http.StatusOK, `{"message_id":"m-2","status":"PENDING"}`), func(err error) bool {
			var u *DeliveryUnknownError
			return errors.As(err, &u) && strings.Contains(err.Error(), "m-2")
		}, 1},
		"not JSON": {reply(http.StatusOK, `[]`), func(err error) bool {
			var u *DeliveryUnknownError
			return errors.As(err, &u)
		}, 1},
		"server error retried": {reply(http.StatusBadGateway, `bad gateway`),
			func(err error) bool { return errors.Is(err, ErrServer) }, 4},
	} {
		t.Run(name, func(t *testing.T) {
			ts := newTestServer(t, tc.handler)
			c := newTestClient(t, ts.URL, nil)
			m, err := c.ShowDeviceMessage(t.Context(), ref)
			if m != nil || !tc.check(err) {
				t.Fatalf("m %+v, err %v", m, err)
			}
			if n := ts.hits.Load(); n != tc.hits {
				t.Fatalf("%d requests, want %d", n, tc.hits)
			}
		})
	}
	c := newTestClient(t, "http://127.0.0.1:1", nil)
	for _, bad := range []MessageRef{{DeviceID: "", MessageID: "m"}, {DeviceID: "d", MessageID: ""},
		{DeviceID: "d", MessageID: "../x"}} {
		if _, err := c.ShowDeviceMessage(t.Context(), bad); err == nil || strings.Contains(err.Error(), "127.0.0.1") {
			t.Errorf("%+v: err %v, want a refusal before sending", bad, err)
		}
	}
}

// TestShowDeviceMessage_SecretAnswersStayOutOfErrors: a read has no value to mask the content
// with, so for a message sent with secret content the platform's error_msg and a status it
// does not document never reach the caller, and the answer is not logged.
func TestShowDeviceMessage_SecretAnswersStayOutOfErrors(t *testing.T) {
	const secret = "S3cr3tValueXYZ"
	ref := MessageRef{DeviceID: "dev-1", MessageID: "m-1", Secret: true}
	for name, h := range map[string]http.HandlerFunc{
		"server error": reply(http.StatusInternalServerError, `{"error_code":"IOTDA.000500","error_msg":"failed to render message {\"key\":\"`+secret+`\"}"}`),
		"forbidden":    reply(http.StatusForbidden, `{"error_code":"IOTDA.000004","error_msg":"`+secret+`"}`),
		"code/message": reply(http.StatusBadRequest, `{"code":"X","message":{"echo":"`+secret+`"}}`),
		"not JSON":     reply(http.StatusBadGateway, `<html>`+secret+`</html>`),
	} {
		t.Run(name, func(t *testing.T) {
			ts := newTestServer(t, h)
			var buf bytes.Buffer
			ctx := tflogtest.RootLogger(t.Context(), &buf)
			_, err := newTestClient(t, ts.URL, nil).ShowDeviceMessage(ctx, ref)
			var apiErr *APIError
			if !errors.As(err, &apiErr) || strings.Contains(err.Error(), secret) || apiErr.ErrorMsg != secretErrorMsg {
				t.Fatalf("err %v", err)
			}
			if strings.Contains(buf.String(), secret) {
				t.Errorf("the log holds the secret:\n%s", buf.String())
			}
		})
	}
	echo := newTestServer(t, reply(http.StatusOK, `{"message_id":"`+secret+`","message":"`+secret+`"}`))
	var u *DeliveryUnknownError
	if _, err := newTestClient(t, echo.URL, nil).ShowDeviceMessage(t.Context(), ref); !errors.As(err, &u) ||
		strings.Contains(err.Error(), secret) {
		t.Fatalf("an answer about another message: err %v", err)
	}
	failed := newTestServer(t, reply(http.StatusOK, `{"message_id":"m-1","status":"FAILED",`+
		`"error_info":{"error_code":"IOTDA.014112","error_msg":"cannot send `+secret+`"}}`))
	if m, err := newTestClient(t, failed.URL, nil).ShowDeviceMessage(t.Context(), ref); err != nil ||
		m.ErrorCode != "IOTDA.014112" || m.ErrorMsg != secretErrorMsg {
		t.Fatalf("a FAILED message: m %+v, err %v", m, err)
	}
	ts := newTestServer(t, reply(http.StatusOK, `{"message_id":"m-1","status":"`+secret+`"}`))
	c := newTestClient(t, ts.URL, nil)
	m, err := c.ShowDeviceMessage(t.Context(), ref)
	if err != nil || m.Status != MessageUndocumented {
		t.Fatalf("m %+v, err %v", m, err)
	}
	lts := newTestServer(t, reply(http.StatusOK, `{"device_id":"dev-1","messages":[{"message_id":"m-1","status":"`+secret+`"}]}`))
	list, err := newTestClient(t, lts.URL, nil).ListDeviceMessages(t.Context(), "dev-1", true)
	if err != nil || list.Messages[0].Status != MessageUndocumented {
		t.Fatalf("list %+v, err %v", list, err)
	}
	ref.Secret = false // Without secret content the platform's word is kept, to be reported.
	if m, err := c.ShowDeviceMessage(t.Context(), ref); err != nil || m.Status != secret {
		t.Fatalf("m %+v, err %v", m, err)
	}
}

func TestListDeviceMessages(t *testing.T) {
	ts := newTestServer(t, reply(http.StatusOK, `{"device_id":"dev-1","messages":[`+
		`{"message_id":"a","message":"x","status":"DELIVERED","created_time":"20240102T030405Z","finished_time":"20240102T030405Z"},`+
		`{"message_id":"b","message":{"k":[1]},"status":"PENDING","created_time":"20240102T030409Z"}]}`))
	c := newTestClient(t, ts.URL, nil)
	l, err := c.ListDeviceMessages(t.Context(), "dev-1", false)
	if err != nil {
		t.Fatal(err)
	}
	if got := ts.lastRequest(); got.escapedPath != "/v5/iot/proj-1/devices/dev-1/messages" {
		t.Fatalf("path %s", got.escapedPath)
	}
	if l.DeviceID != "dev-1" || len(l.Messages) != 2 || l.Messages[0].MessageID != "a" || string(l.Messages[1].Message) != `{"k":[1]}` ||
		l.Messages[1].Status != MessagePending || l.RequestID != "req-123" {
		t.Fatalf("list %+v", l)
	}
}

// Write-only content stays out of the debug log: the create's body and the reads' answers.
func TestMessage_SecretContentNotLogged(t *testing.T) {
	const secret = "wifi-psk-NOT-IN-LOGS"
	for _, isSecret := range []bool{true, false} {
		routes := &messageRoutes{post: dropConnection,
			get: reply(http.StatusOK, `{"message_id":"m-1","message":"`+secret+`","status":"PENDING"}`)}
		ts := newTestServer(t, routes.handler(t))
		var buf bytes.Buffer
		ctx := tflogtest.RootLogger(t.Context(), &buf)
		c := newTestClient(t, ts.URL, nil)
		m := testMessage()
		m.Message, m.Secret = json.RawMessage(`"`+secret+`"`), isSecret
		res, err := c.CreateMessage(ctx, m)
		if err != nil || !res.Recovered {
			t.Fatalf("res %+v, err %v", res, err)
		}
		if _, err := c.ListDeviceMessages(ctx, "dev-1", isSecret); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		if strings.Contains(out, secret) == isSecret {
			t.Errorf("secret %v: the log holds the content:\n%s", isSecret, out)
		}
		if isSecret && (!strings.Contains(out, secretBodyLogged) || strings.Count(out, secretAnswerLogged) != 2) {
			t.Errorf("the log does not say the body and both answers were left out:\n%s", out)
		}
	}
}
