package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ussdgw/ussdgw/adapters"
	"github.com/ussdgw/ussdgw/adapters/health"
	"github.com/ussdgw/ussdgw/consent"
	"github.com/ussdgw/ussdgw/flows"
	mtq "github.com/ussdgw/ussdgw/outbox"
	"github.com/ussdgw/ussdgw/reminders"
	"github.com/ussdgw/ussdgw/smpp/nodetest"
	"github.com/ussdgw/ussdgw/ussd"
	"github.com/ussdgw/ussdgw/ussd/storetest"

	"github.com/ussdgw/ussdgw/internal/logcheck"
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
	log := logcheck.New(t)
	for _, tt := range []struct{ days, hour, want string }{
		{"2,x", "09:00", `reminder days "2,x": "x" is not a number of days`},
		{"2,2", "09:00", "given twice"},
		{"2,0", "25:00", `send time "25:00": want a time of day like 09:00`},
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

// The gateway as run: a mother registered for her child's vaccines and
// subscribed to reminders gets the reminder from the SMSC, once; a number
// that sent STOP gets nothing.
func TestRemindersOverSMPP(t *testing.T) {
	smsc := nodetest.Start(t)
	red := storetest.Redis(t)
	ctx := context.Background()
	t.Setenv("USSDGW_TEST_SMPP_PW", "secret")
	// 00:00 local: the reminder 2 days before is due whatever the hour the
	// test runs.
	cfg := writeConfig(t, examplesConfig(t)+fmt.Sprintf(`redis_prefix: %q
reminder_hour: "00:00"
smpp:
  connections:
    - name: sim
      address: %s
      system_id: test
      password_env: USSDGW_TEST_SMPP_PW
      sources: [{addr: "385", ton: 3, npi: 0}]
      reconnect: {min: 10ms, max: 100ms}
  sms: {source: "385"}
`, red.Prefix, smsc.Addr()))

	// Registered (as the health flow does, in the session store) with a
	// child born 40 days ago: the 6-week vaccines are due in 2 days.
	kv := ussd.NewRedisStore(red.Client, red.Prefix)
	hc := health.Config{TZ: "UTC", Keep: 24 * time.Hour}
	hc.File = "../../flows-examples/data/health.yaml"
	ha, err := health.New(hc, adapters.Instance{Deps: adapters.Deps{KV: kv}})
	if err != nil {
		t.Fatal(err)
	}
	reg := consent.New(red.Client, red.Prefix, consent.Options{})
	const mother, stopped = "254711100001", "254711100002"
	born := time.Now().UTC().AddDate(0, 0, -40).Format(time.DateOnly)
	for _, n := range []string{mother, stopped} {
		if _, err := ha.Call(ctx, adapters.Request{Op: "register", Params: map[string]string{"msisdn": n, "schedule": "child", "date": born}}); err != nil {
			t.Fatal(err)
		}
		if err := reg.Subscribe(ctx, n, consent.Subscription{Service: "health", Topic: "health:reminders", Label: "Reminders", Lang: "sw", Channel: "ussd", At: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	if err := reg.OptOut(ctx, stopped, "health", "sms"); err != nil {
		t.Fatal(err)
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	ready, done := make(chan string, 1), make(chan error, 1)
	lw := &syncWriter{w: &bytes.Buffer{}}
	go func() {
		done <- run(runCtx, []string{"-config", cfg, "-redis-url", redisURLFor(t, red)}, env(nil), io.Discard, lw, ready)
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("run ended: %v\n%s", err, lw.String())
	case <-time.After(20 * time.Second):
		t.Fatal("not ready")
	}
	sms := func(e nodetest.Event) bool { return e.Str("ev") == "message" && !e.Has("ussd") }
	m := smsc.WaitFor(0, 15*time.Second, "the reminder", func(e nodetest.Event) bool { return sms(e) && e.Str("dst") == mother })
	if txt := m.Str("text"); !strings.HasPrefix(txt, "Kumbuka: Polio 1, Penta 1, PCV 1, Rota 1 ") || !strings.Contains(txt, "ACHA AFYA") {
		t.Errorf("reminder %q: want the health service's Swahili reminder of the 6-week vaccines", txt)
	}
	// The STOPped number's reminder is suppressed by the outbox.
	q := mtq.New(red.Client, red.Prefix, mtq.Options{})
	due := time.Now().UTC().AddDate(0, 0, 2).Format(time.DateOnly)
	id := reminders.ID(stopped, "child", "w6", due, 2)
	for deadline := time.Now().Add(10 * time.Second); ; {
		st, ok, err := q.Status(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if ok && st.State == mtq.StateSuppressed {
			if st.Kind != "reminder" || st.Service != "health" {
				t.Errorf("status %+v, want a reminder of service health", st)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the STOPped number's reminder: %+v (found %v), want suppressed", st, ok)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := len(smsc.Filter(0, func(e nodetest.Event) bool { return sms(e) && e.Str("dst") == mother })); n != 1 {
		t.Errorf("the mother got %d reminders, want 1", n)
	}
	if n := len(smsc.Filter(0, func(e nodetest.Event) bool { return sms(e) && e.Str("dst") == stopped })); n != 0 {
		t.Errorf("the STOPped number got %d SMS", n)
	}
	if out := lw.String(); !strings.Contains(out, "health reminders on") || strings.Contains(out, mother) {
		t.Errorf("logs: want 'health reminders on' and no number:\n%s", out)
	}
}
