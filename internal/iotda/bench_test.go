package iotda_test

import (
	"testing"
)

// BenchmarkCreateCommand_Mock measures a whole command round trip through one Client: HTTP to
// the mock, MQTT to a simulated echo device and back.
func BenchmarkCreateCommand_Mock(b *testing.B) {
	s := newMock(b, nil)
	c := newClient(b, s, nil)
	cmd := echoCommand(echoID)

	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.CreateCommand(b.Context(), cmd); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := c.CreateCommand(b.Context(), cmd); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
