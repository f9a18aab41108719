package main

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ussdgw/ussdgw/flows"
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
		_, err := newReminders(s, nil, nil, nil, nil, nil, log)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s %s: %v, want %q", tt.days, tt.hour, err, tt.want)
		}
	}
}

// The example health service's reminder, as the scheduler renders it with
// its variables: at most 160 characters in each language, and right on
// the day ({{when}}, not "in 0 days").
func TestHealthReminderMessage(t *testing.T) {
	set, err := flows.Load("../../flows-examples", flows.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f, ok := set.Flow("health")
	if !ok {
		t.Fatal("no health flow")
	}
	if f.Location().String() != "Africa/Nairobi" {
		t.Errorf("health timezone %s", f.Location())
	}
	for _, tt := range []struct{ lang, when, want string }{
		{"en", "today", "Reminder: Measles-Rubella 1, Yellow fever today, on 2027-07-22."},
		{"fr", "dans 2 jours", "Rappel : Rougeole-rubéole 1, fièvre jaune dans 2 jours, le 2027-07-22."},
		{"sw", "kesho", "Kumbuka: Surua-Rubella 1, Homa ya manjano kesho, tarehe 2027-07-22."},
	} {
		item := map[string]string{"en": "Measles-Rubella 1, Yellow fever", "fr": "Rougeole-rubéole 1, fièvre jaune", "sw": "Surua-Rubella 1, Homa ya manjano"}[tt.lang]
		txt, ok := f.Message("reminder", tt.lang, map[string]string{"item": item, "date": "2027-07-22", "days": "2", "when": tt.when, "schedule": "child"})
		if !ok || !strings.HasPrefix(txt, tt.want) {
			t.Errorf("%s: %q, want it to start %q", tt.lang, txt, tt.want)
		}
		if n := len([]rune(txt)); n > 160 {
			t.Errorf("%s: %d characters, more than one SMS: %q", tt.lang, n, txt)
		}
	}
}
