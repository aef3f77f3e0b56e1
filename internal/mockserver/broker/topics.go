package broker

import (
	"slices"
	"strings"
)

// Platform topics (facts §2).
const (
	// TopicDevicesPrefix starts every device topic: $oc/devices/{device_id}/...
	TopicDevicesPrefix = "$oc/devices/"
	// commandTopicMiddle separates the device id from the request id in a command topic.
	commandTopicMiddle = "/sys/commands/request_id="
	// responseTopicMiddle separates the device id from the request id in a reply topic.
	responseTopicMiddle = "/sys/commands/response/request_id="
)

// CommandTopic is $oc/devices/{device_id}/sys/commands/request_id={request_id}, where the
// platform publishes a command.
func CommandTopic(deviceID, requestID string) string {
	return TopicDevicesPrefix + deviceID + commandTopicMiddle + requestID
}

// ResponseTopic is $oc/devices/{device_id}/sys/commands/response/request_id={request_id},
// where the device answers it.
func ResponseTopic(deviceID, requestID string) string {
	return TopicDevicesPrefix + deviceID + responseTopicMiddle + requestID
}

// CommandsFilter is the filter of every command topic of a device,
// $oc/devices/{device_id}/sys/commands/#.
func CommandsFilter(deviceID string) string {
	return TopicDevicesPrefix + deviceID + "/sys/commands/#"
}

// ParseCommandTopic returns the request id of a command topic of deviceID. It allocates
// nothing: every simulated device calls it for every command.
func ParseCommandTopic(deviceID, topic string) (requestID string, ok bool) {
	rest, ok := strings.CutPrefix(topic, TopicDevicesPrefix)
	if !ok {
		return "", false
	}
	if rest, ok = strings.CutPrefix(rest, deviceID); !ok {
		return "", false
	}
	rid, ok := strings.CutPrefix(rest, commandTopicMiddle)
	if !ok || rid == "" || strings.Contains(rid, "/") {
		return "", false
	}
	return rid, true
}

// ParseResponseTopic splits $oc/devices/{device_id}/sys/commands/response/request_id={id}.
func ParseResponseTopic(topic string) (deviceID, requestID string, ok bool) {
	return parseDeviceTopic(topic, responseTopicMiddle)
}

// parseDeviceTopic splits $oc/devices/{device_id}{middle}{request_id}.
func parseDeviceTopic(topic, middle string) (deviceID, requestID string, ok bool) {
	rest, found := strings.CutPrefix(topic, TopicDevicesPrefix)
	if !found {
		return "", "", false
	}
	deviceID, requestID, found = strings.Cut(rest, middle)
	if !found || deviceID == "" || requestID == "" || strings.Contains(deviceID, "/") {
		return "", "", false
	}
	return deviceID, requestID, true
}

// isUpstreamTopic reports whether a topic (or filter) names device-to-platform traffic:
// .../response/..., .../messages/up, .../events/up, .../properties/report.
func isUpstreamTopic(topic string) bool {
	parts := strings.Split(topic, "/")
	if slices.Contains(parts, "response") {
		return true
	}
	last := parts[len(parts)-1]
	return last == "up" || last == "report"
}

// MatchFilter reports whether an MQTT topic filter matches a topic name, with the MQTT
// rules: + matches one level, a final # the parent level and any below it, and a filter that
// starts with a wildcard matches no topic that starts with $ ([MQTT-4.7.2-1]; mochi's own
// matching lets # match $oc/... topics, so a device subscribed to # would otherwise count as
// subscribed to its custom $oc topics).
func MatchFilter(filter, topic string) bool {
	if strings.HasPrefix(topic, "$") && (strings.HasPrefix(filter, "+") || strings.HasPrefix(filter, "#")) {
		return false
	}
	for {
		f, fRest, fMore := strings.Cut(filter, "/")
		if f == "#" {
			return !fMore
		}
		t, tRest, tMore := strings.Cut(topic, "/")
		if f != "+" && f != t {
			return false
		}
		switch {
		case !fMore && !tMore:
			return true
		case !tMore:
			return fRest == "#" // a/# matches a
		case !fMore:
			return false
		}
		filter, topic = fRest, tRest
	}
}
