package smpp

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestStatusClassification(t *testing.T) {
	temporary := map[CommandStatus]bool{0x58: true, 0x14: true, 0x64: true, 0x08: true, 0x04: true}
	for s := CommandStatus(0); s <= 0x110; s++ {
		if got := s.Temporary(); got != temporary[s] {
			t.Errorf("%s: Temporary() = %v", s, got)
		}
	}
	if got := StatusThrottled.String(); got != "ESME_RTHROTTLED (0x58)" {
		t.Errorf("String() = %q", got)
	}
}

func TestErrorKinds(t *testing.T) {
	tests := []struct {
		err                  *Error
		retryable, ambiguous bool
	}{
		{&Error{Kind: KindStatus, Status: StatusThrottled, Sent: true}, true, false},
		{&Error{Kind: KindStatus, Status: StatusInvDstAdr, Sent: true}, false, false},
		{&Error{Kind: KindTimeout, Sent: true}, true, true},
		{&Error{Kind: KindDisconnected, Sent: false}, true, false},
		{&Error{Kind: KindDisconnected, Sent: true}, true, true},
		{&Error{Kind: KindClosed}, false, false},
		{&Error{Kind: KindInvalid}, false, false},
	}
	for _, tt := range tests {
		wrapped := fmt.Errorf("sending: %w", tt.err)
		if IsRetryable(wrapped) != tt.retryable || tt.err.Ambiguous() != tt.ambiguous {
			t.Errorf("%v: retryable %v ambiguous %v", tt.err, IsRetryable(wrapped), tt.err.Ambiguous())
		}
	}
	if IsRetryable(errors.New("other")) {
		t.Error("a foreign error is retryable")
	}
}

func TestSeqWraps(t *testing.T) {
	var g seqGen
	if g.next() != 1 {
		t.Error("first sequence number is not 1")
	}
	g.n.Store(maxSeq - 1)
	for _, want := range []uint32{maxSeq, 1, 2} {
		if got := g.next(); got != want {
			t.Errorf("next() = %#x, want %#x", got, want)
		}
	}
}

func TestBackoff(t *testing.T) {
	b := Backoff{Min: 100 * time.Millisecond, Max: time.Second}
	for n, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 4: 800 * time.Millisecond, 5: time.Second, 50: time.Second} {
		for range 20 {
			if d := b.delay(n); d < want/2 || d > want {
				t.Errorf("delay(%d) = %s, want in [%s, %s]", n, d, want/2, want)
			}
		}
	}
}

// TestThrottlePause: after a throttle answer every sender waits out the
// pause; a second answer inside the pause does not lengthen it; one right
// after doubles it.
func TestThrottlePause(t *testing.T) {
	var th throttle
	b := Backoff{Min: time.Hour, Max: 4 * time.Hour}
	th.hit(b)
	if th.pause != time.Hour {
		t.Errorf("first pause %s", th.pause)
	}
	until := th.until
	th.hit(b)
	if th.until != until || th.pause != time.Hour {
		t.Error("a hit inside the pause changed it")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := th.wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("wait during the pause returned %v", err)
	}
	th.until = time.Now().Add(-time.Minute) // the pause just ended
	th.hit(b)
	if th.pause != 2*time.Hour {
		t.Errorf("pause after a pause %s, want doubled", th.pause)
	}
	th.until = time.Now().Add(-5 * time.Hour) // a long quiet spell
	th.ok()
	th.hit(b)
	if th.pause != time.Hour {
		t.Errorf("pause after a quiet spell %s, want the minimum", th.pause)
	}
}
