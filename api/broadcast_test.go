package api

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

func TestBroadcastNumbersLanguages(t *testing.T) {
	e := newEnv(t, nil)
	e.subscribe("254712000001", Subscription{Service: "market", Topic: "prices:maize:eldoret", Lang: "fr"})
	e.subscribe("254712000002", Subscription{Service: "health", Topic: "health:reminders", Lang: "sw"})    // another service: not its language here
	e.subscribe("254712000003", Subscription{Service: "market", Topic: "prices:beans:kisumu", Lang: "de"}) // no text in de
	body := `{"id": "nov-prices", "service": "market",
		"audience": {"numbers": ["+254 712 000 001", "0712000002", "254712000003", "0712000001", "0712000004"]},
		"text": {"en": "Maize prices are up", "fr": "Les prix du maïs montent"},
		"window": {"start": "2026-11-30T10:00:00+03:00", "end": "2026-11-30T18:00:00+03:00"}}`
	a := e.do("POST", "/api/v1/broadcasts", e.send, jsonCT, body)
	if a.code != 201 {
		t.Fatalf("%d %s", a.code, a.raw)
	}
	if a.body["recipients"].(float64) != 4 || a.body["queued"].(float64) != 4 || a.body["repeated_numbers"].(float64) != 1 {
		t.Fatalf("answer %s", a.raw)
	}
	want := map[string]string{
		"254712000001": "Les prix du maïs montent",
		"254712000002": "Maize prices are up",
		"254712000003": "Maize prices are up",
		"254712000004": "Maize prices are up",
	}
	msgs := e.outbox.group("nov-prices")
	if len(msgs) != len(want) {
		t.Fatalf("%d messages, want %d", len(msgs), len(want))
	}
	for _, m := range msgs {
		if m.Text != want[m.MSISDN] {
			t.Errorf("%s got %q, want %q", m.MSISDN, m.Text, want[m.MSISDN])
		}
		if m.ID != "nov-prices:"+m.MSISDN || m.Kind != "broadcast" || m.Priority != Bulk || m.Service != "market" {
			t.Errorf("message %+v", m)
		}
		if m.NotBefore.UTC().Hour() != 7 || m.NotAfter.UTC().Hour() != 15 {
			t.Errorf("window %v-%v", m.NotBefore, m.NotAfter)
		}
	}
	// The same id again: the same broadcast, nothing queued twice.
	again := e.do("POST", "/api/v1/broadcasts", e.send, jsonCT, body)
	if again.code != 200 || again.body["id"] != "nov-prices" || again.body["total"].(float64) != 4 {
		t.Fatalf("retry: %d %s", again.code, again.raw)
	}
	if e.outbox.len() != 4 {
		t.Fatalf("a retry queued more: %d", e.outbox.len())
	}
}

func TestBroadcastUpload(t *testing.T) {
	e := newEnv(t, nil)
	var b strings.Builder
	b.WriteString("\ufeffphone,name\r\n")
	for i := 0; i < 2500; i++ {
		fmt.Fprintf(&b, "07%08d,person %d\r\n", 20000000+i, i)
	}
	a := e.do("POST", "/api/v1/broadcasts?service=health&text_en=Clinic+day+moved+to+Friday&text_sw=Siku+ya+kliniki+ni+Ijumaa&id=clinic",
		e.send, "text/csv; charset=utf-8", b.String())
	if a.code != 201 {
		t.Fatalf("%d %s", a.code, a.raw)
	}
	if a.body["recipients"].(float64) != 2500 || a.body["queued"].(float64) != 2500 {
		t.Fatalf("%s", a.raw)
	}
	msgs := e.outbox.group("clinic")
	if len(msgs) != 2500 || msgs[0].MSISDN != "254720000000" || msgs[0].Text != "Clinic day moved to Friday" {
		t.Fatalf("%d messages, first %+v", len(msgs), msgs[0])
	}
	// Batches of 1000: three Enqueue calls.
	if e.outbox.calls != 3 {
		t.Fatalf("%d Enqueue calls, want 3", e.outbox.calls)
	}
}

func TestBroadcastTopicAndServiceUsers(t *testing.T) {
	e := newEnv(t, nil)
	for i := 0; i < 30; i++ {
		n := fmt.Sprintf("2547130000%02d", i)
		lang := []string{"en", "fr", "sw"}[i%3]
		e.subscribe(n, Subscription{Service: "market", Topic: "prices:maize:eldoret", Lang: lang})
	}
	e.subscribe("254713999999", Subscription{Service: "health", Topic: "prices:maize:eldoret", Lang: "en"}) // same topic, other service
	e.subscribe("254714000000", Subscription{Service: "market", Topic: "prices:beans:kisumu", Lang: "fr"})
	a := e.do("POST", "/api/v1/broadcasts", e.send, jsonCT,
		`{"id": "topic1", "service": "market", "audience": {"topic": "prices:maize:eldoret"}, "text": {"en": "Hi", "fr": "Salut"}}`)
	if a.code != 201 || a.body["recipients"].(float64) != 30 {
		t.Fatalf("%d %s", a.code, a.raw)
	}
	langs := a.body["languages"].(map[string]any)
	if langs["en"].(float64) != 20 || langs["fr"].(float64) != 10 { // sw has no text: en
		t.Fatalf("languages %v", langs)
	}
	for _, m := range e.outbox.group("topic1") {
		if m.MSISDN == "254713999999" {
			t.Fatal("a subscriber of another service got the broadcast")
		}
	}
	a = e.do("POST", "/api/v1/broadcasts", e.send, jsonCT,
		`{"id": "users1", "service": "market", "audience": {"service_users": true}, "text": {"en": "Hi", "fr": "Salut"}}`)
	if a.code != 201 || a.body["recipients"].(float64) != 31 {
		t.Fatalf("%d %s", a.code, a.raw)
	}
	for _, m := range e.outbox.group("users1") {
		if m.MSISDN == "254714000000" && m.Text != "Salut" {
			t.Fatalf("service user in fr got %q", m.Text)
		}
	}
}

func TestBroadcastFailsMidway(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Batch = 2 })
	e.outbox.failAt = 3 // the third batch fails: two were queued
	a := e.do("POST", "/api/v1/broadcasts", e.send, jsonCT,
		`{"id": "half", "service": "market", "audience": {"numbers": ["0712000001", "0712000002", "0712000003", "0712000004", "0712000005", "0712000006"]}, "text": {"en": "Hi"}}`)
	if a.code != 503 || !strings.Contains(a.body["error"].(string), "did not start") {
		t.Fatalf("%d %s", a.code, a.raw)
	}
	msgs := e.outbox.group("half")
	if len(msgs) != 4 {
		t.Fatalf("%d messages queued before the failure, want 4", len(msgs))
	}
	for _, m := range msgs {
		if st, _, _ := e.outbox.Status(context.Background(), m.ID); st.State != "cancelled" {
			t.Fatalf("message %s of a failed broadcast is %s", m.ID, st.State)
		}
	}
	g := e.do("GET", "/api/v1/broadcasts/half", e.read, "", "")
	if g.code != 200 || g.body["state"] != "failed_to_start" || g.body["cancelled"].(float64) != 4 {
		t.Fatalf("progress %d %s", g.code, g.raw)
	}
	e.outbox.failAt = 0
	r := e.do("POST", "/api/v1/broadcasts", e.send, jsonCT,
		`{"id": "half", "service": "market", "audience": {"numbers": ["0712000001"]}, "text": {"en": "Hi"}}`)
	if r.code != 409 || !strings.Contains(r.body["error"].(string), "new id") {
		t.Fatalf("retry of a failed id: %d %s", r.code, r.raw)
	}
}

func TestProgressCancelMessage(t *testing.T) {
	e := newEnv(t, nil)
	a := e.do("POST", "/api/v1/broadcasts", e.send, jsonCT,
		`{"id": "c1", "service": "market", "audience": {"numbers": ["0712000001", "0712000002"]}, "text": {"en": "Hi"}}`)
	if a.code != 201 {
		t.Fatal(a.raw)
	}
	p := e.do("GET", "/api/v1/broadcasts/c1", e.read, "", "")
	if p.code != 200 || p.body["state"] != "running" || p.body["total"].(float64) != 2 || p.body["queued"].(float64) != 2 || p.body["by"] == "" {
		t.Fatalf("progress %s", p.raw)
	}
	if x := e.do("POST", "/api/v1/broadcasts/c1/cancel", e.read, "", ""); x.code != 403 {
		t.Fatalf("a read key cancelled: %s", x.raw)
	}
	c := e.do("POST", "/api/v1/broadcasts/c1/cancel", e.send, "", "")
	if c.code != 200 || c.body["state"] != "cancelled" || c.body["cancelled"].(float64) != 2 {
		t.Fatalf("cancel %s", c.raw)
	}
	if p := e.do("GET", "/api/v1/broadcasts/c1", e.read, "", ""); p.body["state"] != "cancelled" {
		t.Fatalf("after cancel %s", p.raw)
	}
	m := e.do("GET", "/api/v1/messages/c1:254712000001", e.read, "", "")
	if m.code != 200 || m.body["msisdn"] != "***001" || m.body["state"] != "cancelled" || m.body["group"] != "c1" {
		t.Fatalf("message %s", m.raw)
	}
	for _, path := range []string{"/api/v1/messages/nope", "/api/v1/broadcasts/nope"} {
		if x := e.do("GET", path, e.read, "", ""); x.code != 404 || !strings.Contains(x.body["error"].(string), `"nope"`) {
			t.Fatalf("%s: %s", path, x.raw)
		}
	}
	if x := e.do("POST", "/api/v1/broadcasts/nope/cancel", e.send, "", ""); x.code != 404 {
		t.Fatalf("cancel unknown: %s", x.raw)
	}
}

func TestStaleStartRepaired(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	// An instance died mid-fan-out: its record says starting, its
	// heartbeat is old, one message is queued.
	e.rdb.HSet(ctx, e.srv.recordKey("dead"), "id", "dead", "service", "market", "state", "starting", "heartbeat", e.now.Add(-2*staleAfter).Format("2006-01-02T15:04:05Z07:00"))
	e.outbox.Enqueue(ctx, Message{ID: "dead:254712000001", MSISDN: "254712000001", Group: "dead"})
	p := e.do("GET", "/api/v1/broadcasts/dead", e.read, "", "")
	if p.body["state"] != "failed_to_start" || p.body["cancelled"].(float64) != 1 {
		t.Fatalf("%s", p.raw)
	}
	// A fresh one is left alone.
	e.rdb.HSet(ctx, e.srv.recordKey("busy"), "id", "busy", "state", "starting", "heartbeat", e.now.Format("2006-01-02T15:04:05.999999999Z07:00"))
	if r := e.do("POST", "/api/v1/broadcasts", e.send, jsonCT, `{"id": "busy", "service": "market", "audience": {"numbers": ["0712000001"]}, "text": {"en": "Hi"}}`); r.code != 409 || !strings.Contains(r.raw, "being started") {
		t.Fatalf("%d %s", r.code, r.raw)
	}
}
