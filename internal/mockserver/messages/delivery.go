package messages

import "time"

// Delivery: publishing messages to their devices, in order, through Devices.

// DeviceConnected delivers a device's pending messages, oldest first, now that it is online
// (facts §2: "sent when the device comes online"). Messages on a custom topic the device has
// not subscribed to yet stay pending until DeviceSubscribed. It publishes synchronously:
// call it once the device's session can receive, outside the broker's own callbacks.
func (b *Backend) DeviceConnected(deviceID string) { b.flush(deviceID) }

// DeviceSubscribed delivers pending messages whose custom topic the device has now
// subscribed to. The platform resends a pending message when the device "reconnects or
// resubscribes" (facts §2, QoS 1 walkthrough).
func (b *Backend) DeviceSubscribed(deviceID string) { b.flush(deviceID) }

// flush publishes the device's deliverable pending messages in order.
func (b *Backend) flush(deviceID string) {
	b.mu.Lock()
	d := b.devices[deviceID]
	b.mu.Unlock()
	if d == nil || !b.cfg.Devices.Online(deviceID) {
		return
	}
	d.sendMu.Lock()
	defer d.sendMu.Unlock()
	b.deliverPending(deviceID, d)
}

// deliverPending publishes d's pending messages that the device can receive now, oldest
// first, and stops at the first that cannot be published (the device went away): later
// ones must not overtake it. d.sendMu must be held.
func (b *Backend) deliverPending(deviceID string, d *device) {
	b.mu.Lock()
	expired := b.expireLocked(deviceID)
	var pending []*message
	for _, m := range d.msgs {
		if m.status == StatusPending {
			pending = append(pending, m)
		}
	}
	b.mu.Unlock()
	b.reportExpired(expired)
	for _, m := range pending {
		if m.req.customTopic() && !b.cfg.Devices.Subscribed(deviceID, deliveryTopic(deviceID, &m.req)) {
			continue // Waits for the device to subscribe (DeviceSubscribed).
		}
		if !b.publish(deviceID, m) {
			return
		}
	}
}

// publish sends m and records the delivery. It reports false when the device could not
// take it, which leaves m pending.
func (b *Backend) publish(deviceID string, m *message) bool {
	p, err := publication(deviceID, m.id, &m.req)
	if err != nil {
		b.finish(m, StatusFailed, CodeInvalidInput, err.Error())
		return true
	}
	if err := b.cfg.Devices.Publish(deviceID, p); err != nil {
		return false
	}
	// The platform answers DELIVERED once it has published, without waiting for the
	// device's PUBACK (facts §2, QoS 1 walkthrough); the broker redelivers until then.
	if b.finish(m, StatusDelivered, "", "") {
		b.cfg.OnEvent(Event{Kind: EventDelivered, DeviceID: deviceID, MessageID: m.id, Status: StatusDelivered,
			Topic: p.Topic, Payload: p.Payload})
	}
	return true
}

// finish moves a pending message to a final status. It reports false when m was no longer
// pending (it expired, or was removed, meanwhile).
func (b *Backend) finish(m *message, status, code, msg string) bool {
	b.mu.Lock()
	if m.status != StatusPending {
		b.mu.Unlock()
		return false
	}
	m.status, m.errCode, m.errMsg, m.finished, m.expires = status, code, msg, b.cfg.Now(), time.Time{}
	b.notifyLocked()
	b.scheduleLocked()
	b.mu.Unlock()
	if status == StatusFailed {
		b.cfg.OnEvent(Event{Kind: EventFailed, DeviceID: m.deviceID, MessageID: m.id, Status: status, ErrorCode: code})
	}
	return true
}
