package smpp

import (
	"errors"
	"fmt"
)

// ErrorKind says what went wrong with a request.
type ErrorKind int

// The kinds of Error.
const (
	KindStatus       ErrorKind = iota + 1 // the SMSC answered with a non-zero command status
	KindTimeout                           // no response within the response timeout
	KindDisconnected                      // the connection went away before the response came
	KindClosed                            // the Client is closed
	KindInvalid                           // the request itself cannot be sent (too long, unknown source)
)

var kindNames = [...]string{"", "status", "timeout", "disconnected", "closed", "invalid"}

func (k ErrorKind) String() string {
	if k > 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Error is a failed SMPP request. It knows whether sending again may
// succeed (Retryable) and whether the SMSC may have accepted the request
// although we never saw it do so (Ambiguous).
type Error struct {
	Op     string        // the request, e.g. "submit_sm", "bind_transceiver"
	Bind   string        // the bind's configured name
	Kind   ErrorKind     // what went wrong
	Status CommandStatus // the command status, for KindStatus
	Sent   bool          // the request was written to the connection
	Err    error         // the cause, if any
}

func (e *Error) Error() string {
	s := e.Op + " on " + e.Bind + ": "
	switch {
	case e.Kind == KindStatus:
		s += e.Status.String()
	case e.Err != nil:
		s += e.Kind.String() + ": " + e.Err.Error()
	default:
		s += e.Kind.String()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether the same request may succeed later: a
// temporary command status, a timeout or a lost connection.
func (e *Error) Retryable() bool {
	switch e.Kind {
	case KindStatus:
		return e.Status.Temporary()
	case KindTimeout, KindDisconnected:
		return true
	}
	return false
}

// Ambiguous reports whether the SMSC may have accepted the request although
// no successful response arrived: it was written, and then the response
// timed out or the connection dropped. Sending again may duplicate it.
func (e *Error) Ambiguous() bool {
	return e.Sent && (e.Kind == KindTimeout || e.Kind == KindDisconnected)
}

// IsRetryable reports whether err is an *Error that is Retryable.
func IsRetryable(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Retryable()
}

// StatusOf returns the command status carried by err, or StatusOK and false.
func StatusOf(err error) (CommandStatus, bool) {
	var e *Error
	if errors.As(err, &e) && e.Kind == KindStatus {
		return e.Status, true
	}
	return StatusOK, false
}

var (
	errTimeout      = errors.New("no response in time")
	errDisconnected = errors.New("connection lost")
	errClosed       = errors.New("client closed")
)
