package mockserver

import (
	"testing"
	"time"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/broker"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/commands"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/httpapi"
)

// TestPlatformDocumentedValues pins every value the mock takes from IoTDA's documentation to
// the documented value itself. The behaviour tests compare answers with the same constants
// the code uses (commands.CodeTimeout, httpapi.MsgDeviceOffline, ...), so they would pass with a wrong
// constant; this test would not.
func TestPlatformDocumentedValues(t *testing.T) {
	for _, c := range []struct {
		name, got, want, source string
	}{
		{"timeout code", commands.CodeTimeout, "IOTDA.014111", "ErrorCode.html, facts §1"},
		{"timeout message", commands.MsgTimeout, "Command request timed out. Check whether the device returns a response " +
			"within the specified time after receiving the request.", "ErrorCode.html, facts §1"},
		{"offline code", httpapi.CodeDeviceOffline, "IOTDA.014016", "facts §1"},
		{"offline message", httpapi.MsgDeviceOffline, "Operation not allowed. The device is not online.", "facts §1"},
		{"unauthorized code", httpapi.CodeUnauthorized, "IOTDA.000002", "iot_06_v5_7008, facts §1"},
		{"invalid input code", httpapi.CodeInvalidInput, "IOTDA.000006", "ErrorCode.html, facts §1"},
		{"invalid input message", httpapi.MsgInvalidInput, "Invalid input data.", "ErrorCode.html, facts §1"},
		{"bad request code", httpapi.CodeBadRequest, "IOTDA.000008", "ErrorCode.html, facts §1"},
		{"unknown device code", httpapi.CodeDeviceNotFound, "IOTDA.014000", "facts §1 (unconfirmed)"},
		{"instance code", httpapi.CodeInstance, "IOTDA.000021", "facts §1"},
		{"no such API code", httpapi.CodeNoAPI, "APIG.0101", "API Gateway error codes"},
		{"V11 service", httpapi.AuthService, "iotdm", "SDK WithDerivedAuthServiceName, facts §1 and §3"},
		{"device client id", deviceClientID(time.Date(2018, 7, 24, 17, 5, 0, 0, time.UTC)), "d1_0_1_2018072417",
			"device client id, facts §2"},
		{"command topic", broker.CommandTopic("d1", "c1"), "$oc/devices/d1/sys/commands/request_id=c1", "iot_06_v5_3014, facts §2"},
		{"reply topic", broker.ResponseTopic("d1", "c1"), "$oc/devices/d1/sys/commands/response/request_id=c1",
			"iot_06_v5_3014, facts §2"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q (%s)", c.name, c.got, c.want, c.source)
		}
	}
	for _, c := range []struct {
		name      string
		got, want time.Duration
		source    string
	}{
		{"platform timeout", DefaultPlatformTimeout, 20 * time.Second, "CreateCommand, facts §1"},
		{"redelivery interval", DefaultRedeliveryInterval, 2 * time.Second, "QoS 1 redelivery, facts §2"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %s, want %s (%s)", c.name, c.got, c.want, c.source)
		}
	}
	if got := (Limits{}).withDefaults().MQTTMaxPacketBytes; got != 1<<20 {
		t.Errorf("MQTT packet limit = %d, want 1 MiB (IoTDA rejects published messages over 1 MB, iot_01_0128)", got)
	}
	s := NewForTest(t, Options{})
	if got := s.broker.MQTT().Options.Capabilities; got.RetainAvailable != 0 || got.MaximumPacketSize != 1<<20 {
		t.Errorf("the broker offers retained messages (%d) or packets other than 1 MiB (%d); IoTDA supports none "+
			"(iot_04_0010) and 1 MB (iot_01_0128)", got.RetainAvailable, got.MaximumPacketSize)
	}
}

// deviceClientID is the client id of device d1 at now, with signType 1.
func deviceClientID(now time.Time) string {
	id, _, _ := broker.DeviceCredentials("d1", "s", now)
	return id
}
