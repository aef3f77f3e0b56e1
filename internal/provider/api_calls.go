package provider

import (
	"context"
	"errors"
	"time"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda"
)

// What every resource that reads from IoTDA shares: telling an answer worth asking for again
// from a refusal, waiting between reads, and the request id an error carries.

// permanentReadError reports an answer that asking again will not change: the task is gone,
// or the request is refused (authentication, permissions, a malformed request).
func permanentReadError(err error) bool {
	var apiErr *iotda.APIError
	return errors.As(err, &apiErr) && apiErr.StatusCode >= 400 && apiErr.StatusCode < 500 &&
		!errors.Is(err, iotda.ErrThrottled) // 429, and the platform's throttling 403s
}

// sleepCtx waits for d unless ctx ends first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// requestIDOf returns the X-Request-Id an error carries, if any.
func requestIDOf(err error) string {
	var (
		apiErr  *iotda.APIError
		unknown *iotda.DeliveryUnknownError
		gone    *iotda.MessageNotFoundError
	)
	switch {
	case errors.As(err, &unknown) && unknown.RequestID != "":
		return unknown.RequestID
	case errors.As(err, &apiErr):
		return apiErr.RequestID
	case errors.As(err, &gone):
		return gone.RequestID
	}
	return ""
}
