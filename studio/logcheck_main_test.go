package studio_test

import (
	"testing"

	"github.com/ussdgw/ussdgw/internal/logcheck"
)

// Every line the package's code logs through slog.Default during its
// tests is checked for phone numbers shown whole.
func TestMain(m *testing.M) { logcheck.Main(m) }
