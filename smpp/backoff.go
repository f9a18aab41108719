package smpp

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// delay returns the wait before attempt n (1-based): Min doubled n-1
// times, capped at Max, then jittered down by up to half ("equal jitter"),
// so that many binds or senders do not retry in step.
func (b Backoff) delay(n int) time.Duration {
	d := b.Min
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	if half := int64(d / 2); half > 0 {
		d = time.Duration(half + rand.Int64N(half+1))
	}
	return d
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// throttle is the bind-wide pause after ESME_RTHROTTLED or ESME_RMSGQFUL:
// every sender waits it out before its next submit. A throttle answer
// during a pause does not lengthen it; one after a pause doubles it, up to
// the maximum; a quiet spell as long as the last pause resets it.
type throttle struct {
	mu    sync.Mutex
	until time.Time
	pause time.Duration
}

// hit starts or extends the pause.
func (t *throttle) hit(b Backoff) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if now.Before(t.until) {
		return
	}
	if t.pause == 0 || now.After(t.until.Add(t.pause)) {
		t.pause = b.Min
	} else {
		t.pause = min(2*t.pause, b.Max)
	}
	t.until = now.Add(t.pause)
}

// wait blocks until the pause, if any, is over.
func (t *throttle) wait(ctx context.Context) error {
	t.mu.Lock()
	d := time.Until(t.until)
	t.mu.Unlock()
	if !sleep(ctx, d) {
		return ctx.Err()
	}
	return nil
}

// ok notes a successful submit: after a quiet spell as long as the last
// pause, the next throttle starts again from the minimum.
func (t *throttle) ok() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.pause > 0 && time.Now().After(t.until.Add(t.pause)) {
		t.pause = 0
	}
}
