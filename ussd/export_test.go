package ussd_test

import (
	"fmt"
	"io"
	"log/slog"
)

func typeName(v any) string { return fmt.Sprintf("%T", v) }

func newTextLogger(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }
