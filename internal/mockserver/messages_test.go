package mockserver

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// Device messages through the whole mock: HTTP in, the message backend, the delivery path,
// the broker, and simulated devices (MQTT clients and fleets) that sleep and wake.

// messageURL is the message API URL of a device, with a message id when id is not "".
func messageURL(s *Server, deviceID, id string) string {
	u := s.URL() + "/v5/iot/" + s.ProjectID() + "/devices/" + deviceID + "/messages"
	if id != "" {
		u += "/" + id
	}
	return u
}

// postMessage creates a message and returns the answer's status and body.
func postMessage(t *testing.T, s *Server, deviceID, body string) (int, []byte) {
	t.Helper()
	resp, b := do(t, nil, newCommandRequest(t, messageURL(s, deviceID, ""), body))
	return resp.StatusCode, b
}

// createMessage creates a message that the mock accepts and returns its 201 status.
func createMessage(t *testing.T, s *Server, deviceID, body string) string {
	t.Helper()
	status, b := postMessage(t, s, deviceID, body)
	var created struct {
		MessageID string `json:"message_id"`
		Result    struct {
			Status string `json:"status"`
		} `json:"result"`
	}
	if status != http.StatusCreated || json.Unmarshal(b, &created) != nil {
		t.Fatalf("create a message for %s: %d %s", deviceID, status, b)
	}
	return created.Result.Status
}

// showMessage reads a message's status through the API.
func showMessage(t *testing.T, s *Server, deviceID, id string) (status, errorCode string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, messageURL(s, deviceID, id), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, b := do(t, nil, req)
	var m struct {
		Status    string `json:"status"`
		ErrorInfo struct {
			ErrorCode string `json:"error_code"`
		} `json:"error_info"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &m) != nil {
		t.Fatalf("show %s/%s: %d %s", deviceID, id, resp.StatusCode, b)
	}
	return m.Status, m.ErrorInfo.ErrorCode
}

// waitEntry waits for a journal entry of kind about a device's message.
func waitEntry(t *testing.T, s *Server, kind EntryKind, deviceID, messageID string) Entry {
	t.Helper()
	e, err := s.WaitJournal(mqCtx(t), func(e Entry) bool {
		return e.Kind == kind && e.DeviceID == deviceID && (messageID == "" || e.MessageID == messageID)
	})
	if err != nil {
		t.Fatalf("no %s entry for %s/%s: %v", kind, deviceID, messageID, err)
	}
	return e
}

// waitReceived waits until a simulated device has received n messages.
func waitReceived(t *testing.T, s *Server, deviceID string, n int) {
	t.Helper()
	if _, err := s.WaitJournal(mqCtx(t), func(Entry) bool { return len(s.ReceivedMessages(deviceID)) >= n }); err != nil {
		t.Fatalf("%s received %d messages, want %d", deviceID, len(s.ReceivedMessages(deviceID)), n)
	}
}

// received returns the messages a simulated device received: the message id and the text
// it read, in order.
func received(s *Server, deviceID string) []string {
	var out []string
	for _, e := range s.ReceivedMessages(deviceID) {
		out = append(out, e.MessageID+"="+string(e.Body))
	}
	return out
}

func TestMessages_OnlineDeviceReceivesAtOnce(t *testing.T) {
	s := NewForTest(t, Options{Now: mqClock, Devices: []Device{{ID: "meter", Simulated: &Behavior{}}}})
	if st := createMessage(t, s, "meter", `{"message_id":"m1","name":"set","message":{"interval":900}}`); st != "DELIVERED" {
		t.Fatalf("status %s, want DELIVERED", st)
	}
	if st := createMessage(t, s, "meter", `{"message_id":"m2","message":"raw <text>","payload_format":"raw"}`); st != "DELIVERED" {
		t.Fatalf("status %s, want DELIVERED", st)
	}
	bin := base64.StdEncoding.EncodeToString([]byte{0, 1, 0xff})
	createMessage(t, s, "meter", `{"message_id":"m3","message":"`+bin+`","encoding":"base64"}`)
	waitReceived(t, s, "meter", 3)
	// The journal keeps a body that is JSON as it is, and any other as a JSON string.
	want := []string{`m1={"interval":900}`, `="raw \u003ctext\u003e"`, `="\u0000\u0001\ufffd"`}
	if got := received(s, "meter"); !slices.Equal(got, want) {
		t.Errorf("the device read %q, want %q", got, want)
	}
	d := s.MessageDeliveries("meter")
	if len(d) != 3 || d[0].Topic != "$oc/devices/meter/sys/messages/down" || d[0].MessageID != "m1" ||
		string(d[0].Body) != `{"name":"set","id":"m1","content":"{\"interval\":900}"}` {
		t.Errorf("deliveries %+v", d)
	}
	if n := len(s.Deliveries("meter")); n != 3 {
		t.Errorf("%d deliveries in all, want 3", n)
	}
	var kinds []EntryKind
	for _, e := range s.Journal() {
		if e.MessageID == "m1" {
			kinds = append(kinds, e.Kind)
		}
	}
	// Created, then published; the status change, the device's read and the request's end
	// come from different goroutines, in any order.
	if len(kinds) != 5 || kinds[0] != EntryMessage || kinds[1] != EntryDelivery ||
		!slices.Equal(slices.Sorted(slices.Values(kinds[2:])), []EntryKind{EntryDeviceMessage, EntryMessageDelivered, EntryRequest}) {
		t.Errorf("journal of m1: %v", kinds)
	}
	if r := lastRequest(t, s); r.Method != http.MethodPost || r.MessageID != "m3" || r.DeviceID != "meter" || r.Status != 201 {
		t.Errorf("request entry %+v", r)
	}
}

func TestMessages_SleepingDeviceGetsItsMessagesInOrderWhenItWakes(t *testing.T) {
	s := NewForTest(t, Options{Now: mqClock, Devices: []Device{{ID: "sensor", Simulated: &Behavior{}}}})
	if err := s.SleepDevice("sensor", 0); err != nil {
		t.Fatal(err)
	}
	if s.Online("sensor") {
		t.Fatal("the device is online after SleepDevice returned")
	}
	resp, body := postCommand(t, s, "sensor", `{"paras":{}}`)
	wantError(t, resp, body, http.StatusForbidden, "IOTDA.014016")
	for i := range 3 {
		if st := createMessage(t, s, "sensor", fmt.Sprintf(`{"message_id":"m%d","message":"n%d"}`, i, i)); st != "PENDING" {
			t.Fatalf("message %d: %s, want PENDING", i, st)
		}
	}
	if st, _ := showMessage(t, s, "sensor", "m0"); st != "PENDING" {
		t.Fatalf("show: %s", st)
	}
	if err := s.WakeDevice("sensor"); err != nil {
		t.Fatal(err)
	}
	waitEntry(t, s, EntryDeviceMessage, "sensor", "m2")
	// The status moves once the message is published, which the device may read first.
	waitEntry(t, s, EntryMessageDelivered, "sensor", "m2")
	if got, want := received(s, "sensor"), []string{`m0="n0"`, `m1="n1"`, `m2="n2"`}; !slices.Equal(got, want) {
		t.Errorf("the device read %q, want %q", got, want)
	}
	for i := range 3 {
		if st, _ := showMessage(t, s, "sensor", fmt.Sprintf("m%d", i)); st != "DELIVERED" {
			t.Errorf("m%d: %s", i, st)
		}
	}
	// A second sleep and wake sends nothing twice; commands reach the device again.
	if err := s.SleepDevice("sensor", 0); err != nil {
		t.Fatal(err)
	}
	if err := s.WakeDevice("sensor"); err != nil {
		t.Fatal(err)
	}
	if resp, body := postCommand(t, s, "sensor", `{"paras":{}}`); resp.StatusCode != http.StatusOK {
		t.Fatalf("command after waking: %d %s", resp.StatusCode, body)
	}
	if n := len(s.MessageDeliveries("sensor")); n != 3 {
		t.Errorf("%d message deliveries, want 3", n)
	}
	if n := len(mqJournal(s, EntryConnect, "sensor")); n != 3 {
		t.Errorf("%d connects, want 3 (start and two wakes)", n)
	}
}

func TestMessages_TimedSleepAndTheBehaviourCycle(t *testing.T) {
	s := NewForTest(t, Options{Now: mqClock, Devices: []Device{
		{ID: "napper", Simulated: &Behavior{}},
		{ID: "cycler", Simulated: &Behavior{Sleep: 150 * time.Millisecond, Awake: 150 * time.Millisecond}},
	}})
	// A timed sleep ends on its own.
	if err := s.SleepDevice("napper", 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if st := createMessage(t, s, "napper", `{"message_id":"n1","message":"wake up"}`); st != "PENDING" {
		t.Fatalf("status %s, want PENDING", st)
	}
	waitEntry(t, s, EntryDeviceMessage, "napper", "n1")

	// A device that sleeps and wakes on its own: a message sent while it sleeps reaches it
	// when it wakes, and it keeps going round.
	waitEntry(t, s, EntryDisconnect, "cycler", "")
	if err := s.WaitOnline(mqCtx(t), "cycler"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WaitJournal(mqCtx(t), func(e Entry) bool {
		return e.Kind == EntryDisconnect && e.DeviceID == "cycler" && len(mqJournal(s, EntryDisconnect, "cycler")) >= 2
	}); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		st := createMessage(t, s, "cycler", fmt.Sprintf(`{"message_id":"c%d","message":"tick"}`, i))
		if st == "PENDING" {
			waitEntry(t, s, EntryDeviceMessage, "cycler", fmt.Sprintf("c%d", i))
			break
		}
		if i == 20 {
			t.Fatal("20 messages found the cycling device awake")
		}
		waitEntry(t, s, EntryDisconnect, "cycler", "")
	}
}

func TestMessages_CustomTopicsNeedTheDevicesSubscription(t *testing.T) {
	s := NewForTest(t, Options{Now: mqClock, Devices: []Device{
		{ID: "sub", Simulated: &Behavior{Subscribe: []string{"/device/message/down", "$oc/devices/sub/user/cfg"}}},
		{ID: "nosub", Simulated: &Behavior{}},
	}})
	createMessage(t, s, "sub", `{"message_id":"t1","message":"full","topic_full_name":"/device/message/down"}`)
	createMessage(t, s, "sub", `{"message_id":"t2","message":"suffix","topic":"cfg","payload_format":"raw"}`)
	waitReceived(t, s, "sub", 2)
	var topics []string
	for _, e := range s.ReceivedMessages("sub") {
		topics = append(topics, e.Topic+" "+string(e.Body))
	}
	if want := []string{`/device/message/down "full"`, `$oc/devices/sub/user/cfg "suffix"`}; !slices.Equal(topics, want) {
		t.Errorf("received %q, want %q", topics, want)
	}
	// Online but not subscribed: FAILED, IOTDA.014112, nothing published.
	if st := createMessage(t, s, "nosub", `{"message_id":"t3","message":"x","topic_full_name":"/device/message/down"}`); st != "FAILED" {
		t.Fatalf("status %s, want FAILED", st)
	}
	if st, code := showMessage(t, s, "nosub", "t3"); st != "FAILED" || code != "IOTDA.014112" {
		t.Errorf("show: %s %s", st, code)
	}
	if n := len(s.MessageDeliveries("nosub")); n != 0 {
		t.Errorf("%d deliveries to a device that did not subscribe", n)
	}
	// Asleep: the message waits until the device is back and has subscribed again (it
	// subscribes after its CONNACK, so the connect alone is not enough).
	if err := s.SleepDevice("sub", 0); err != nil {
		t.Fatal(err)
	}
	if st := createMessage(t, s, "sub", `{"message_id":"t4","message":"later","topic_full_name":"/device/message/down"}`); st != "PENDING" {
		t.Fatalf("status %s, want PENDING", st)
	}
	if err := s.WakeDevice("sub"); err != nil {
		t.Fatal(err)
	}
	if e := waitEntry(t, s, EntryDeviceMessage, "sub", "t4"); e.Topic != "/device/message/down" {
		t.Errorf("received %+v", e)
	}
}

func TestMessages_TopicsOutsideOcStayPrivate(t *testing.T) {
	s := NewForTest(t, Options{Now: mqClock, Devices: []Device{{ID: "a", Secret: "k"}, {ID: "b", Secret: "k"}}})
	var mu sync.Mutex
	var leaked []string
	loop := make(chan struct{}, 1)
	cid, user, pass := DeviceCredentials("a", "k", mqClock())
	spy := mqConnect(t, s.MQTTAddr(), cid, user, pass)
	mqToken(t, spy.Subscribe("#", 1, func(_ paho.Client, m paho.Message) {
		if strings.HasPrefix(m.Topic(), "$oc/devices/a/") {
			return // paho's own matching hands a's loop publish to this handler too
		}
		mu.Lock()
		defer mu.Unlock()
		leaked = append(leaked, m.Topic())
	}))
	mqToken(t, spy.Subscribe("$oc/devices/a/user/loop", 1, func(paho.Client, paho.Message) { loop <- struct{}{} }))
	cid, user, pass = DeviceCredentials("b", "k", mqClock())
	b := mqConnect(t, s.MQTTAddr(), cid, user, pass)
	mqToken(t, b.Subscribe("/device/message/down", 1, func(paho.Client, paho.Message) {}))

	// b publishes on a topic outside $oc: acknowledged, for the platform. The broker handles
	// b's packets in order, so once b's next reply is journaled, the first has been routed,
	// to a's queue if anywhere.
	mqToken(t, b.Publish("/data/up", 1, false, "reading"))
	mqToken(t, b.Publish("$oc/devices/b/sys/commands/response/request_id=flush", 1, false, `{}`))
	waitEntry(t, s, EntryLateReply, "b", "")
	// The platform sends b a message on a topic a subscribed to as well: b's alone.
	createMessage(t, s, "b", `{"message_id":"p1","message":"for b only","topic_full_name":"/device/message/down"}`)
	if e := waitEntry(t, s, EntryDelivery, "b", "p1"); e.Topic != "/device/message/down" {
		t.Fatalf("delivery %+v", e)
	}
	// a's own publish on its own topic comes back to it through the same queue as anything
	// routed to it before, and paho calls the handlers in order.
	mqToken(t, spy.Publish("$oc/devices/a/user/loop", 1, false, "x"))
	select {
	case <-loop:
	case <-time.After(mqWait):
		t.Fatal("a never read its own publish")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(leaked) != 0 {
		t.Fatalf("device a, subscribed to #, read %v", leaked)
	}
}

func TestMessages_DeletedDeviceLosesItsMessages(t *testing.T) {
	s := NewForTest(t, Options{Now: mqClock, Devices: []Device{{ID: "gone", Simulated: &Behavior{}}}})
	if err := s.SleepDevice("gone", 0); err != nil {
		t.Fatal(err)
	}
	createMessage(t, s, "gone", `{"message_id":"g1","message":"never"}`)
	s.RemoveDevice("gone")
	if e := waitEntry(t, s, EntryMessageRemoved, "gone", "g1"); string(e.Body) != `{"reason":"device_deleted"}` ||
		e.MessageStatus != "PENDING" {
		t.Errorf("removed entry %+v", e)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, messageURL(s, "gone", "g1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, body := do(t, nil, req)
	wantError(t, resp, body, http.StatusNotFound, "IOTDA.014000")
	if err := s.AddDevice(Device{ID: "gone", Simulated: &Behavior{}}); err != nil {
		t.Fatal(err)
	}
	if n := len(s.MessageDeliveries("gone")); n != 0 {
		t.Errorf("the device registered again received %d old messages", n)
	}
	if err := s.SleepDevice("nobody", 0); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("SleepDevice of an unknown device: %v", err)
	}
	if err := s.AddDevice(Device{ID: "real"}); err != nil {
		t.Fatal(err)
	}
	if err := s.WakeDevice("real"); err == nil || !strings.Contains(err.Error(), ErrNotSimulated.Error()) {
		t.Errorf("WakeDevice of a device a real client runs: %v", err)
	}
}

func TestMessages_TTLExpiryOnTheMocksClock(t *testing.T) {
	var mu sync.Mutex
	now := mqClock()
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	s := NewForTest(t, Options{Now: clock, Devices: []Device{{ID: "d", Simulated: &Behavior{}}}})
	if err := s.SleepDevice("d", 0); err != nil {
		t.Fatal(err)
	}
	createMessage(t, s, "d", `{"message_id":"short","message":"x","ttl":5}`)
	createMessage(t, s, "d", `{"message_id":"long","message":"y","ttl":10}`)
	mu.Lock()
	now = now.Add(5 * time.Minute)
	mu.Unlock()
	s.ExpireMessages()
	if e := waitEntry(t, s, EntryMessageTimeout, "d", "short"); e.MessageStatus != "TIMEOUT" {
		t.Errorf("timeout entry %+v", e)
	}
	if err := s.WakeDevice("d"); err != nil {
		t.Fatal(err)
	}
	waitEntry(t, s, EntryDeviceMessage, "d", "long")
	if got := received(s, "d"); !slices.Equal(got, []string{`long="y"`}) {
		t.Errorf("the device read %q", got)
	}
	if st, _ := showMessage(t, s, "d", "short"); st != "TIMEOUT" {
		t.Errorf("short: %s", st)
	}
}

func TestMessages_MessageTimeScaleExpiresInRealTime(t *testing.T) {
	s := NewForTest(t, Options{MessageTimeScale: 0.0001, Devices: []Device{{ID: "d"}}}) // 5 minutes: 30 ms
	createMessage(t, s, "d", `{"message_id":"quick","message":"x","ttl":5}`)
	waitEntry(t, s, EntryMessageTimeout, "d", "quick")
}

func TestMessages_TheTwentyFirstReplacesTheEarliest(t *testing.T) {
	s := NewForTest(t, Options{Now: mqClock, Devices: []Device{{ID: "d", Simulated: &Behavior{}}}})
	if err := s.SleepDevice("d", 0); err != nil {
		t.Fatal(err)
	}
	for i := range 21 {
		createMessage(t, s, "d", fmt.Sprintf(`{"message_id":"m%d","message":"n%d"}`, i, i))
	}
	if e := waitEntry(t, s, EntryMessageRemoved, "d", "m0"); string(e.Body) != `{"reason":"replaced"}` {
		t.Errorf("removed %+v", e)
	}
	list, err := s.DeviceMessages("d")
	if err != nil || len(list) != 20 || list[0].MessageID != "m1" {
		t.Fatalf("the mock holds %d messages (%v), want m1..m20", len(list), err)
	}
	if err := s.WakeDevice("d"); err != nil {
		t.Fatal(err)
	}
	waitEntry(t, s, EntryDeviceMessage, "d", "m20")
	got := received(s, "d")
	if len(got) != 20 || got[0] != `m1="n1"` {
		t.Errorf("the device read %q, want m1..m20", got)
	}
}

func TestMessages_LostCreateAnswerIsKeptOnce(t *testing.T) {
	s := NewForTest(t, Options{Now: mqClock, Devices: []Device{{ID: "d", Simulated: &Behavior{}}}})
	s.InjectFault(Fault{DeviceID: "d", ResetAfterDelivery: true})
	req := newCommandRequest(t, messageURL(s, "d", ""), `{"message_id":"lost","message":"x"}`)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	if resp, err := client.Do(req); err == nil {
		_ = resp.Body.Close()
		t.Fatal("the answer arrived despite the fault")
	}
	if st, _ := showMessage(t, s, "d", "lost"); st != "DELIVERED" {
		t.Fatalf("the message the lost answer was about: %s", st)
	}
	if n := len(s.MessageDeliveries("d")); n != 1 {
		t.Errorf("%d deliveries, want 1", n)
	}
	// The exchange journals the request once the reset is done, perhaps after the read.
	if _, err := s.WaitJournal(mqCtx(t), func(e Entry) bool {
		return e.Kind == EntryRequest && e.Method == http.MethodPost && e.Fault == "reset_after_delivery" && e.MessageID == "lost"
	}); err != nil {
		t.Errorf("no journaled create with its fault: %v", err)
	}
	if n := len(mqJournal(s, EntryMessage, "d")); n != 1 {
		t.Errorf("%d messages created, want 1", n)
	}
}

func TestMessages_FleetDevicesAsleepAndAwake(t *testing.T) {
	s := NewForTest(t, Options{Now: mqClock, Fleets: []Fleet{{Prefix: "f-", Count: 6, Behavior: Behavior{Kind: BehaviorEcho}}}})
	asleep := []string{"f-2", "f-5"}
	for _, id := range asleep {
		if err := s.SleepDevice(id, 0); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i <= 6; i++ {
		id := fmt.Sprintf("f-%d", i)
		want := "DELIVERED"
		if slices.Contains(asleep, id) {
			want = "PENDING"
		}
		if st := createMessage(t, s, id, `{"message_id":"m-`+id+`","message":"hello"}`); st != want {
			t.Errorf("%s: %s, want %s", id, st, want)
		}
	}
	if resp, body := postCommand(t, s, "f-2", `{"paras":{}}`); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a command to a sleeping fleet device: %d %s", resp.StatusCode, body)
	}
	for _, id := range asleep {
		if err := s.WakeDevice(id); err != nil {
			t.Fatal(err)
		}
		waitEntry(t, s, EntryDeviceMessage, id, "m-"+id)
	}
	for i := 1; i <= 6; i++ {
		id := fmt.Sprintf("f-%d", i)
		if got := received(s, id); !slices.Equal(got, []string{"m-" + id + `="hello"`}) {
			t.Errorf("%s read %q", id, got)
		}
		if e := s.ReceivedMessages(id); e[0].ClientID != "fleet:f-" {
			t.Errorf("%s: %+v", id, e[0])
		}
	}
	if resp, body := postCommand(t, s, "f-2", `{"paras":{"v":1}}`); resp.StatusCode != http.StatusOK {
		t.Errorf("a command to the woken fleet device: %d %s", resp.StatusCode, body)
	}
	// A timed sleep of a fleet device ends on its own.
	if err := s.SleepDevice("f-3", 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	createMessage(t, s, "f-3", `{"message_id":"later","message":"x"}`)
	waitEntry(t, s, EntryDeviceMessage, "f-3", "later")
}

func TestMessages_FleetCycleSleepsAndWakesTogether(t *testing.T) {
	s := NewForTest(t, Options{Now: mqClock, Fleets: []Fleet{{Prefix: "c-", Count: 50,
		Behavior: Behavior{Sleep: 200 * time.Millisecond, Awake: 100 * time.Millisecond}}}})
	ctx := mqCtx(t)
	if err := s.path.WaitOffline(ctx, "c-50"); err != nil {
		t.Fatal(err)
	}
	if s.Online("c-1") {
		t.Fatal("c-1 is awake while the fleet sleeps")
	}
	for i := 1; i <= 50; i++ {
		createMessage(t, s, fmt.Sprintf("c-%d", i), `{"message":"batch"}`)
	}
	for i := 1; i <= 50; i++ {
		id := fmt.Sprintf("c-%d", i)
		waitEntry(t, s, EntryDeviceMessage, id, "")
		if n := len(s.ReceivedMessages(id)); n != 1 {
			t.Errorf("%s received %d messages", id, n)
		}
	}
	// A device asleep on its own stays asleep through the fleet's wakes.
	if err := s.SleepDevice("c-7", 0); err != nil {
		t.Fatal(err)
	}
	if err := s.WaitOnline(ctx, "c-8"); err != nil {
		t.Fatal(err)
	}
	if s.Online("c-7") {
		t.Error("c-7 woke with the fleet")
	}
	if err := s.WakeDevice("c-7"); err != nil {
		t.Fatal(err)
	}
}

func TestMessages_AdminRoutes(t *testing.T) {
	s := NewForTest(t, Options{Now: mqClock, Devices: []Device{{ID: "d", Simulated: &Behavior{}}, {ID: "real"}}})
	admin := func(method, path, body string) (int, []byte) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, s.URL()+"/_mock/"+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp, b := do(t, nil, req)
		return resp.StatusCode, b
	}
	if st, b := admin(http.MethodPost, "devices/d/sleep", `{"for":"1h"}`); st != http.StatusNoContent || s.Online("d") {
		t.Fatalf("sleep: %d %s", st, b)
	}
	createMessage(t, s, "d", `{"message_id":"a1","message":{"k":1},"ttl":60}`)
	st, b := admin(http.MethodGet, "devices/d/messages", "")
	var list []struct {
		MessageID string          `json:"message_id"`
		Message   json.RawMessage `json:"message"`
		Topic     string          `json:"topic"`
		TTL       int             `json:"ttl"`
		Status    string          `json:"status"`
		ExpiresAt *time.Time      `json:"expires_at"`
	}
	if st != http.StatusOK || json.Unmarshal(b, &list) != nil || len(list) != 1 || list[0].MessageID != "a1" ||
		string(list[0].Message) != `{"k":1}` || list[0].Topic != "$oc/devices/d/sys/messages/down" || list[0].TTL != 60 ||
		list[0].Status != "PENDING" || list[0].ExpiresAt == nil || !list[0].ExpiresAt.Equal(mqClock().Add(time.Hour)) {
		t.Fatalf("messages: %d %s", st, b)
	}
	if st, b := admin(http.MethodPost, "devices/d/wake", ""); st != http.StatusNoContent || !s.Online("d") {
		t.Fatalf("wake: %d %s", st, b)
	}
	waitEntry(t, s, EntryDeviceMessage, "d", "a1")
	waitEntry(t, s, EntryMessageDelivered, "d", "a1") // Recorded apart from what the device read.
	st, b = admin(http.MethodGet, "journal?message_id=a1&kind=message_delivered", "")
	var entries []Entry
	if st != http.StatusOK || json.Unmarshal(b, &entries) != nil || len(entries) != 1 || entries[0].MessageStatus != "DELIVERED" {
		t.Fatalf("journal: %d %s", st, b)
	}
	for path, want := range map[string]int{
		"devices/real/sleep": http.StatusConflict, "devices/ghost/wake": http.StatusNotFound,
		"devices/ghost/messages": http.StatusNotFound, "devices/d/other": http.StatusNotFound,
	} {
		method := http.MethodPost
		if strings.HasSuffix(path, "messages") || strings.HasSuffix(path, "other") {
			method = http.MethodGet
		}
		if st, b := admin(method, path, ""); st != want {
			t.Errorf("%s %s: %d %s, want %d", method, path, st, b, want)
		}
	}
	for body, want := range map[string]string{
		`{"for":"soon"}`:     `a positive Go duration such as \"30s\", at most 2562047h47m16.854775807s`,
		`{"for":"9999999h"}`: `at most 2562047h47m16.854775807s, the longest a Go duration holds`,
		`{"for":"-1s"}`:      `got \"-1s\"`,
		`{}{}`:               `unexpected data after the JSON value`,
		`{"for":"1s"} x`:     `unexpected data after the JSON value`,
	} {
		if st, b := admin(http.MethodPost, "devices/d/sleep", body); st != http.StatusBadRequest ||
			!strings.Contains(string(b), want) {
			t.Errorf("sleep %s: %d %s, want 400 with %s", body, st, b, want)
		}
	}
	if st, _ := admin(http.MethodGet, "devices/d/sleep", ""); st != http.StatusMethodNotAllowed {
		t.Errorf("GET sleep: %d", st)
	}
}

// The whole mock serves a message while commands to the same device go on.
func TestMessages_BesideCommands(t *testing.T) {
	s := NewForTest(t, Options{Now: mqClock, Devices: []Device{{ID: "d", Simulated: &Behavior{Kind: BehaviorEcho}}}})
	ctx, cancel := context.WithTimeout(t.Context(), mqWait)
	defer cancel()
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			if _, err := s.deliver(ctx, Command{DeviceID: "d", CommandID: fmt.Sprintf("c%d", i), Paras: []byte(`{}`)}); err != nil {
				t.Errorf("command %d: %v", i, err)
			}
		})
		wg.Go(func() { createMessage(t, s, "d", fmt.Sprintf(`{"message_id":"m%d","message":"x"}`, i)) })
	}
	wg.Wait()
	for i := range 10 {
		waitEntry(t, s, EntryDeviceMessage, "d", fmt.Sprintf("m%d", i))
	}
	if n, m := len(s.Deliveries("d")), len(s.MessageDeliveries("d")); n != 20 || m != 10 {
		t.Errorf("%d deliveries, %d of them messages; want 20 and 10", n, m)
	}
}

// Devices that sleep and wake on their own, removed and closed while they do: no race, no
// goroutine left waiting, and the mock closes.
func TestMessages_SleepCyclesStopCleanly(t *testing.T) {
	s := NewForTest(t, Options{Now: mqClock,
		Devices: []Device{{ID: "c1", Simulated: &Behavior{Sleep: 5 * time.Millisecond, Awake: 5 * time.Millisecond}},
			{ID: "c2", Simulated: &Behavior{Sleep: 5 * time.Millisecond, Awake: 5 * time.Millisecond}}},
		Fleets: []Fleet{{Prefix: "cf-", Count: 20, Behavior: Behavior{Sleep: 5 * time.Millisecond, Awake: 5 * time.Millisecond}}}})
	// post sends a message from a goroutine of its own; only races and hangs matter here.
	post := func(deviceID string) {
		resp, err := http.Post(messageURL(s, deviceID, ""), "application/json", strings.NewReader(`{"message":"x"}`))
		if err == nil {
			_ = resp.Body.Close()
		}
	}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			id := fmt.Sprintf("cf-%d", i+1)
			_ = s.SleepDevice(id, time.Millisecond)
			_ = s.WakeDevice(id)
			post(id)
		})
	}
	wg.Go(func() { post("c1") })
	wg.Wait()
	waitEntry(t, s, EntryConnect, "c1", "")
	s.RemoveDevice("c1")
	if err := s.RemoveFleet("cf-"); err != nil {
		t.Fatal(err)
	}
	// c2 is still cycling when the mock closes at the end of the test.
}
