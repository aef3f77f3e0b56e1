package broker

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"regexp"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// deviceTimestampLayout is the platform's YYYYMMDDHH device timestamp (UTC hour).
const deviceTimestampLayout = "2006010215"

// maxDeviceClockSkew is how far a signType 1 timestamp may be from the platform's hour: the
// previous, current or next hour is accepted, whatever the minute. IoTDA documents only that
// it checks a signType 1 timestamp against its own time and does not check a signType 0 one
// (iot_06_v5_3009), so a device whose clock is hours off is refused there too; how far off
// it may be is UNCONFIRMED, and the hour either side is the mock's choice (a login at the
// turn of the hour, or a clock minutes off, still connects). A device whose clock may be
// hours off logs in with signType 0, as the mock's device program does (LastingCredentials).
const maxDeviceClockSkew = time.Hour

// Sign types in the client id: 0 does not check the timestamp, 1 does.
const (
	signTypeNoTimeCheck = "0"
	signTypeTimeCheck   = "1"
)

// clientIDPattern is {device_id}_0_{signType}_{YYYYMMDDHH}. The device id may itself
// contain underscores, so the fixed suffix is matched from the end.
var clientIDPattern = regexp.MustCompile(`^([A-Za-z0-9_-]{1,128})_0_([01])_([0-9]{10})$`)

// deviceClientID is a parsed platform client id.
type deviceClientID struct {
	deviceID  string
	signType  string
	timestamp string
}

// parseDeviceClientID parses {device_id}_0_{signType}_{YYYYMMDDHH}.
func parseDeviceClientID(clientID string) (deviceClientID, bool) {
	m := clientIDPattern.FindStringSubmatch(clientID)
	if m == nil {
		return deviceClientID{}, false
	}
	return deviceClientID{deviceID: m[1], signType: m[2], timestamp: m[3]}, true
}

// DevicePassword is the platform's device password: lowercase hex of
// HMAC-SHA256 keyed by the timestamp over the secret.
func DevicePassword(secret, timestamp string) string {
	mac := hmac.New(sha256.New, []byte(timestamp))
	_, _ = mac.Write([]byte(secret))
	return hex.EncodeToString(mac.Sum(nil))
}

// DeviceCredentials returns the MQTT client id, username and password a device with this
// id and secret presents to the platform at CONNECT, using signType 1 (timestamp checked)
// and the UTC hour of now. It is what the simulated devices use, and lets tests connect
// their own MQTT clients as a registered device.
func DeviceCredentials(deviceID, secret string, now time.Time) (clientID, username, password string) {
	return credentials(deviceID, secret, now, signTypeTimeCheck)
}

// LastingCredentials are DeviceCredentials with signType 0: the broker does not check the
// timestamp, so that the same login stays valid however long a device program runs.
func LastingCredentials(deviceID, secret string, now time.Time) (clientID, username, password string) {
	return credentials(deviceID, secret, now, signTypeNoTimeCheck)
}

func credentials(deviceID, secret string, now time.Time, signType string) (clientID, username, password string) {
	ts := now.UTC().Format(deviceTimestampLayout)
	return deviceID + "_0_" + signType + "_" + ts, deviceID, DevicePassword(secret, ts)
}

// connectRefusal says why a CONNECT was refused; the zero value accepts it.
type connectRefusal int

const (
	connectAccepted connectRefusal = iota
	// refusedIdentifier is a malformed client id (MQTT 3.1.1 return code 0x02).
	refusedIdentifier
	// refusedCredentials is an unknown device, a wrong username, a wrong password or a
	// stale timestamp (MQTT 3.1.1 return code 0x04).
	refusedCredentials
)

// connackCode is the CONNACK return (v3) or reason (v5) code for the refusal.
func (r connectRefusal) connackCode(protocolVersion byte) byte {
	if protocolVersion >= 5 {
		if r == refusedIdentifier {
			return packets.ErrClientIdentifierNotValid.Code
		}
		return packets.ErrBadUsernameOrPassword.Code
	}
	if r == refusedIdentifier {
		return packets.Err3ClientIdentifierNotValid.Code
	}
	// mochi maps a v5 "bad username or password" to the v3 "not authorized" (0x05); the
	// platform answers 0x04, which mochi names ErrMalformedUsernameOrPassword.
	return packets.ErrMalformedUsernameOrPassword.Code
}

// checkDeviceConnect applies the platform's device authentication to a CONNECT packet.
// lookup returns the registered secret of a device id. It returns the device id on success.
func checkDeviceConnect(pk packets.Packet, now time.Time, lookup func(id string) (string, bool)) (string, connectRefusal) {
	cid, ok := parseDeviceClientID(pk.Connect.ClientIdentifier)
	if !ok {
		return "", refusedIdentifier
	}
	secret, registered := lookup(cid.deviceID)
	if !registered || !pk.Connect.UsernameFlag || string(pk.Connect.Username) != cid.deviceID {
		return "", refusedCredentials
	}
	if cid.signType == signTypeTimeCheck && !timestampFresh(cid.timestamp, now) {
		return "", refusedCredentials
	}
	want := DevicePassword(secret, cid.timestamp)
	if !pk.Connect.PasswordFlag || subtle.ConstantTimeCompare(pk.Connect.Password, []byte(want)) != 1 {
		return "", refusedCredentials
	}
	return cid.deviceID, connectAccepted
}

// timestampFresh reports whether a YYYYMMDDHH timestamp is within maxDeviceClockSkew of
// the hour of now. Comparing hours, not instants, accepts the previous, current and next
// hour whatever the minute.
func timestampFresh(ts string, now time.Time) bool {
	t, err := time.Parse(deviceTimestampLayout, ts)
	if err != nil {
		return false
	}
	d := t.Sub(now.UTC().Truncate(time.Hour))
	return d >= -maxDeviceClockSkew && d <= maxDeviceClockSkew
}
