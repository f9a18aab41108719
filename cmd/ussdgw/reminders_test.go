package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReminderSettings(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(cfg, []byte("reminder_days: \"3,1\"\nreminder_hour: \"08:30\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name       string
		args       []string
		env        map[string]string
		days, hour string
	}{
		{"defaults", nil, nil, "2,0", "09:00"},
		{"file", []string{"-config", cfg}, nil, "3,1", "08:30"},
		{"env beats file", []string{"-config", cfg}, map[string]string{"USSDGW_REMINDER_DAYS": "7,0"}, "7,0", "08:30"},
		{"flag beats env", []string{"-reminder-hour", "10"}, map[string]string{"USSDGW_REMINDER_HOUR": "11"}, "2,0", "10"},
	} {
		s, err := parseSettings("ussdgw", tt.args, env(tt.env), io.Discard)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if s.ReminderDays != tt.days || s.ReminderHour != tt.hour {
			t.Errorf("%s: days %q hour %q, want %q %q", tt.name, s.ReminderDays, s.ReminderHour, tt.days, tt.hour)
		}
	}
}

// A bad reminder setting stops the start with a message saying which.
func TestReminderSettingsChecked(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tt := range []struct{ days, hour, want string }{
		{"2,x", "09:00", `reminder days "2,x": "x" is not a number of days`},
		{"2,2", "09:00", "given twice"},
		{"2,0", "25:00", `reminder hour "25:00": want a time of day like 09:00`},
	} {
		s := defaults()
		s.ReminderDays, s.ReminderHour = tt.days, tt.hour
		_, err := startReminders(context.Background(), s, nil, "", nil, nil, nil, nil, log)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s %s: %v, want %q", tt.days, tt.hour, err, tt.want)
		}
	}
}
