package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	benchflow "github.com/ussdgw/ussdgw/cmd/loadtest/flows"
	"github.com/ussdgw/ussdgw/smpp"
	"github.com/ussdgw/ussdgw/smpp/smsc"

	"github.com/ussdgw/ussdgw/internal/logcheck"
)

// syncBuffer is an io.Writer safe for the shell's concurrent prints.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitFor(t *testing.T, out *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in output:\n%s", want, out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// startGateway binds a stand-in for the gateway: the bench menu over
// USSD, and an SMS answer to any MO.
func startGateway(t *testing.T, srv *smsc.Server, receipts chan<- string) {
	t.Helper()
	cfg := smpp.Defaults()
	cfg.Name, cfg.Address, cfg.SystemID, cfg.Password = "gw", srv.Addr(), "ussdgw", "secret"
	cfg.Sources = []smpp.Source{{Addr: "384", TON: 3}}
	cfg.Reconnect = smpp.Backoff{Min: 10 * time.Millisecond, Max: 100 * time.Millisecond}
	ussd := smsc.ESMEHandler(srv.Profile(), benchMenu)
	var c *smpp.Client
	h := smpp.HandlerFunc(func(ctx context.Context, in *smpp.Inbound) smpp.CommandStatus {
		switch {
		case in.IsReceipt():
			r, err := smpp.ParseReceipt(in)
			if err != nil {
				t.Error(err)
			}
			receipts <- r.Stat
		case in.TLVs != nil && len(in.TLVs[smpp.TagUssdServiceOp]) > 0:
			return ussd.HandleInbound(ctx, in)
		default:
			text, _ := in.Text()
			go func() {
				if _, err := c.Send(context.Background(), smpp.Message{Dst: in.Source.Addr, Text: "Re " + text + ": Maize KES 2,900 {90kg} " + strings.Repeat("x", 160)}); err != nil {
					t.Error(err)
				}
			}()
		}
		return smpp.StatusOK
	})
	var err error
	c, err = smpp.New(cfg, h, smpp.WithLogger(logcheck.New(t)))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := srv.WaitBound(ctx, 1); err != nil {
		t.Fatal(err)
	}
}

func TestShell(t *testing.T) {
	out := &syncBuffer{}
	sh := &shell{out: out, msisdn: "254700000001", shortcode: "384", wait: 5 * time.Second}
	srv, err := smsc.Start(smsc.Config{Profile: smsc.Mica, DLR: true, DLRDelay: time.Millisecond,
		Accounts:  []smsc.Account{{SystemID: "ussdgw", Password: "secret"}},
		OnMessage: sh.onMessage, OnBind: sh.onBind, OnSubmit: sh.onSubmit})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	sh.srv = srv
	receipts := make(chan string, 10)
	startGateway(t, srv, receipts)

	in, w := io.Pipe()
	done := make(chan error)
	go func() { done <- sh.run(t.Context(), in) }()
	say := func(line string) { io.WriteString(w, line+"\n") }

	say(benchflow.Code)
	waitFor(t, out, benchScreen(t))
	say("1")
	waitFor(t, out, benchScreen(t, "1"))
	say("2")
	waitFor(t, out, benchScreen(t, "1", "2"))
	say("3")
	waitFor(t, out, benchScreen(t, "1", "2", "3")+"\n-- session ended --\n> ")
	say("sms PRICE MAIZE")
	waitFor(t, out, "[sms 254700000001 -> 384] delivered to the gateway")
	waitFor(t, out, "[SMS 384 -> 254700000001] (2 parts) Re PRICE MAIZE: Maize KES 2,900 {90kg} xxx")
	if st := <-receipts; st != "DELIVRD" {
		t.Errorf("receipt stat %q", st)
	}
	say("*777#")
	waitFor(t, out, "reply> ")
	say("abort")
	waitFor(t, out, "-- session released by the network --")
	say("from 254799999999")
	waitFor(t, out, "you are now 254799999999")
	say("binds")
	waitFor(t, out, "ussdgw transceiver from 127.0.0.1:")
	say("*777")
	waitFor(t, out, "a USSD code ends with #")
	say("frobnicate")
	waitFor(t, out, `unknown command "frobnicate"`)
	w.Close() // Ctrl-D
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + out.String())
}

// TestShellNoBind: dialling before the gateway binds says so.
func TestShellNoBind(t *testing.T) {
	out := &syncBuffer{}
	code := run(t.Context(), []string{"-listen", "127.0.0.1:0"}, strings.NewReader("*384#\nquit\n"), out, io.Discard)
	if code != 0 || !strings.Contains(out.String(), "nothing is bound yet") {
		t.Errorf("exit %d, output:\n%s", code, out.String())
	}
	if code := run(t.Context(), []string{"-profile", "nope"}, strings.NewReader(""), io.Discard, io.Discard); code != 1 {
		t.Errorf("bad profile: exit %d", code)
	}
	if code := run(t.Context(), []string{"-h"}, strings.NewReader(""), io.Discard, io.Discard); code != 2 {
		t.Errorf("-h: exit %d", code)
	}
}

// TestLoadSelf runs the load generator against its built-in ESME in each
// profile: every screen as expected, latencies measured.
func TestLoadSelf(t *testing.T) {
	for _, p := range []string{"spec", "tata", "mica", "sixdee"} {
		t.Run(p, func(t *testing.T) {
			out := &syncBuffer{}
			code := run(t.Context(), []string{"load", "-self", "-listen", "127.0.0.1:0", "-profile", p,
				"-sessions", "200", "-duration", "0", "-warmup", "0", "-concurrency", "20"}, nil, out, out)
			if code != 0 {
				t.Fatalf("exit %d:\n%s", code, out.String())
			}
			for _, want := range []string{"steps: 800 = ", "sessions: 200 completed", "mismatches: 0; errors: 0", "reply 3"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("no %q in\n%s", want, out.String())
				}
			}
		})
	}
}

// TestLoadMismatch: a screen that is not the expected one is counted and
// fails the run.
func TestLoadMismatch(t *testing.T) {
	out := &syncBuffer{}
	code := run(t.Context(), []string{"load", "-self", "-listen", "127.0.0.1:0", "-sessions", "10", "-duration", "0",
		"-warmup", "0", "-concurrency", "2", "-expect", "Welcome|Choose a crop|Nope|Beans at Kisumu"}, nil, out, out)
	if code != 1 || !strings.Contains(out.String(), "mismatches: 10") {
		t.Errorf("exit %d:\n%s", code, out.String())
	}
}

func TestMT(t *testing.T) {
	out := &syncBuffer{}
	code := run(t.Context(), []string{"mt", "-n", "2000", "-dlr", "-text", strings.Repeat("Maize {1200} ", 20)}, nil, out, out)
	if code != 0 || !strings.Contains(out.String(), "whole at the sink 2000") || !strings.Contains(out.String(), "of 2 segment(s)") {
		t.Errorf("exit %d:\n%s", code, out.String())
	}
}

// benchScreen is the screen cmd/loadtest/flows/bench.yaml shows after
// inputs: what the built-in ESME and the gateway answer.
func benchScreen(t *testing.T, inputs ...string) string {
	t.Helper()
	s, err := benchflow.Screen(inputs)
	if err != nil {
		t.Fatal(err)
	}
	return s.Text
}
