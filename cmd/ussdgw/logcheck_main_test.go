package main

import (
	"log/slog"
	"testing"

	"github.com/ussdgw/ussdgw/internal/logcheck"
)

// Every line the package's code logs during its tests, through
// slog.Default or a logger run() builds, is checked for phone numbers shown
// whole; gateways run as child processes are checked by their tests
// (logcheck.Text).
func TestMain(m *testing.M) {
	chk := logcheck.Package()
	testLogHook = func(h slog.Handler) slog.Handler { return chk.Handler(h) }
	logcheck.Main(m)
}
