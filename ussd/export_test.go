package ussd_test

import (
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/ussdgw/ussdgw/internal/logcheck"
)

func typeName(v any) string { return fmt.Sprintf("%T", v) }

func newTextLogger(t testing.TB, w io.Writer) *slog.Logger {
	return logcheck.Wrap(t, slog.NewTextHandler(w, nil))
}
