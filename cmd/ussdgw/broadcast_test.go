package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ussdgw/ussdgw/alerts"
	"github.com/ussdgw/ussdgw/api"
	"github.com/ussdgw/ussdgw/apikeys"
	"github.com/ussdgw/ussdgw/consent"
	"github.com/ussdgw/ussdgw/flows"
	ob "github.com/ussdgw/ussdgw/outbox"

	"github.com/ussdgw/ussdgw/internal/logcheck"
)

// The broadcast command against the API over real Redis, with an outbox
// whose SMSC delivers at once: it uploads the file, follows the progress
// to the end and says what happened; bad input comes back by line.
func TestBroadcastCommand(t *testing.T) {
	url, prefix := testPrefix(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rc, err := redisClient(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	reg := consent.New(rc, prefix, consent.Options{})
	q := ob.New(rc, prefix, ob.Options{Allow: reg.Allowed})
	done := make(chan struct{})
	go func() {
		defer close(done)
		q.Run(ctx, ob.SenderFunc(func(ctx context.Context, msisdn, text, ref string) error { return q.Receipt(ctx, ref, true, "") }))
	}()
	defer func() { cancel(); <-done }()
	set, err := flows.Load("../../flows-examples", flows.Options{})
	if err != nil {
		t.Fatal(err)
	}
	quiet := logcheck.New(t)
	keys := apikeys.New(rc, prefix, nil)
	_, key, err := keys.Create(ctx, "cli", []apikeys.Scope{apikeys.Send, apikeys.Read})
	if err != nil {
		t.Fatal(err)
	}
	flowsFn := func() *flows.Set { return set }
	srv := httptest.NewServer(api.New(api.Config{Keys: keys, Redis: rc, Prefix: prefix, Flows: flowsFn, Consent: reg, Outbox: q,
		Prices: alerts.New(alerts.Config{Redis: rc, Prefix: prefix, Consent: reg, Outbox: q, Flows: flowsFn, Log: quiet}), Log: quiet}))
	defer srv.Close()
	if err := reg.Subscribe(ctx, "254716000003", consent.Subscription{Service: "market", Topic: "prices:maize:gulu", Lang: "sw", Channel: "ussd"}); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	var csv strings.Builder
	csv.WriteString("phone\n")
	for i := 0; i < 50; i++ {
		fmt.Fprintf(&csv, "+254 716 %06d\n", i)
	}
	good := filepath.Join(dir, "numbers.csv")
	os.WriteFile(good, []byte(csv.String()), 0o644)
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("0716000001\n0716\n+254716000002\n999\n"), 0o644)

	cli := func(key string, args ...string) (string, string, error) {
		var out, errb bytes.Buffer
		err := run(ctx, append([]string{"broadcast", "-api", srv.URL, "-service", "market", "-poll", "20ms"}, args...),
			env(map[string]string{"USSDGW_API_KEY": key}), &out, &errb, nil)
		return out.String(), errb.String(), err
	}
	out, bar, err := cli(key, "-text-en", "Market day moved to Friday", "--text-sw=Siku ya soko ni Ijumaa", "-numbers", good)
	if err != nil {
		t.Fatalf("%v\n%s", err, bar)
	}
	if !strings.Contains(out, ": 50 recipients (en 49, sw 1), 50 queued, 0 already queued") ||
		!strings.Contains(out, "done: 50 messages: 50 sent, 50 delivered, 0 failed") {
		t.Fatalf("stdout:\n%s", out)
	}
	if !strings.Contains(bar, "100%") || !strings.Contains(bar, "(50/50") {
		t.Fatalf("no finished progress bar on stderr:\n%q", bar)
	}
	_, _, err = cli(key, "-text-en", "Hi", "-numbers", bad)
	if err == nil || !strings.Contains(err.Error(), "2 problems") || !strings.Contains(err.Error(), `line 2 ("0716")`) || !strings.Contains(err.Error(), `line 4 ("999")`) {
		t.Fatalf("bad numbers: %v", err)
	}
	_, _, err = cli("ugw_nope_nope", "-text-en", "Hi", "-numbers", good)
	if err == nil || !strings.Contains(err.Error(), "wrong API key (HTTP 401)") {
		t.Fatalf("wrong key: %v", err)
	}
	_, _, err = cli(key, "-text-fr", "Salut", "-numbers", good)
	if err == nil || !strings.Contains(err.Error(), "text.en: missing") {
		t.Fatalf("no default language: %v", err)
	}
}
