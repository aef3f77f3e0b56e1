package messages

import "time"

// Expiry: a pending message outlives its TTL and becomes TIMEOUT, on a timer or when it is
// next read.

// ExpireDue moves every pending message past its TTL to TIMEOUT. The backend calls it on a
// timer at the next expiry; tests with a clock of their own call it after moving the clock.
func (b *Backend) ExpireDue() {
	b.mu.Lock()
	var expired []*message
	for id := range b.devices {
		expired = append(expired, b.expireDeviceLocked(id)...)
	}
	b.scheduleLocked()
	b.mu.Unlock()
	b.reportExpired(expired)
}

// expireLocked expires one device's messages and returns them, for reportExpired once b.mu
// is released. b.mu must be held.
func (b *Backend) expireLocked(deviceID string) []*message {
	expired := b.expireDeviceLocked(deviceID)
	if len(expired) > 0 {
		b.scheduleLocked()
	}
	return expired
}

// expireDeviceLocked moves the device's pending messages past their TTL to TIMEOUT, with
// the expiry as finished_time. Their TTL counts from created_time; the exact instant the
// platform uses is UNCONFIRMED (facts §2). No error_info is set (UNCONFIRMED too).
func (b *Backend) expireDeviceLocked(deviceID string) []*message {
	d := b.devices[deviceID]
	if d == nil {
		return nil
	}
	now := b.cfg.Now()
	var expired []*message
	for _, m := range d.msgs {
		if m.status == StatusPending && !m.expires.IsZero() && !now.Before(m.expires) {
			m.status, m.finished, m.expires = StatusTimeout, m.expires, time.Time{}
			expired = append(expired, m)
		}
	}
	if len(expired) > 0 {
		b.notifyLocked()
	}
	return expired
}

func (b *Backend) reportExpired(expired []*message) {
	for _, m := range expired {
		b.cfg.OnEvent(Event{Kind: EventTimeout, DeviceID: m.deviceID, MessageID: m.id, Status: StatusTimeout})
	}
}

// scheduleLocked sets the timer to the earliest expiry of any pending message. b.mu must be
// held.
func (b *Backend) scheduleLocked() {
	if b.closed {
		return
	}
	var next time.Time
	for _, d := range b.devices {
		for _, m := range d.msgs {
			if m.status == StatusPending && !m.expires.IsZero() && (next.IsZero() || m.expires.Before(next)) {
				next = m.expires
			}
		}
	}
	if next.IsZero() {
		if b.timer != nil {
			b.timer.Stop()
		}
		return
	}
	wait := max(next.Sub(b.cfg.Now()), 0)
	if b.timer == nil {
		b.timer = time.AfterFunc(wait, b.ExpireDue)
		return
	}
	b.timer.Reset(wait)
}

// ttlDuration is a TTL in minutes on the backend's time scale.
func (b *Backend) ttlDuration(minutes int) time.Duration {
	return time.Duration(float64(minutes) * float64(time.Minute) * b.cfg.TimeScale)
}
