package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ussdgw/ussdgw/internal/logcheck"
)

// lockedBuffer is a log sink shared by the gateway's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// linesSince returns the log lines written after offset, and the new offset.
func (b *lockedBuffer) linesSince(off int) ([]string, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.b.String()[off:]
	return strings.Split(strings.TrimSpace(s), "\n"), b.b.Len()
}

func (b *lockedBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Len()
}

// redisServer is a redis-server of the test's own, so that it can be
// killed and started again on the same port.
type redisServer struct {
	t    *testing.T
	port int
	cmd  *exec.Cmd
}

func startRedis(t *testing.T, port int) *redisServer {
	t.Helper()
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting redis-server: %v", err)
	}
	r := &redisServer{t: t, port: port, cmd: cmd}
	t.Cleanup(r.kill)
	c := redis.NewClient(&redis.Options{Addr: r.addr(), MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for c.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatal("redis-server did not answer within 5 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return r
}

func (r *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

func (r *redisServer) kill() {
	if r.cmd.ProcessState == nil {
		r.cmd.Process.Kill()
		r.cmd.Wait()
	}
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

const outageFlow = `id: shop
title: Boutique
codes: ["*500#"]
languages: [fr]
nodes:
  main:
    type: menu
    text: Bienvenue
    options:
      - {label: Fruits, next: fruits}
  fruits:
    type: menu
    text: Choisissez un fruit
    options:
      - {label: Pommes, set: {fruit: pommes}, next: qty}
      - {label: Bananes, set: {fruit: bananes}, next: qty}
  qty:
    type: input
    text: "Combien de {{fruit}} ?"
    save: qty
    validate: {type: integer, min: 1, max: 99}
    next: done
  done:
    type: end
    text: "Commande : {{qty}} {{fruit}}."
`

// The screens of the dialogue, by the text the aggregator sends.
var outageSteps = []struct{ text, want string }{
	{"", "CON Bienvenue\n1. Fruits"},
	{"1", "CON Choisissez un fruit\n1. Pommes\n2. Bananes\n0. Retour\n00. Menu principal"},
	{"1*2", "CON Combien de bananes ?\n0. Retour\n00. Menu principal"},
	{"1*2*5", "END Commande : 5 bananes."},
}

const resumeFR = "CON Vous avez une session inachevée.\n1. Reprendre où vous en étiez\n2. Recommencer"

const unavailableFR = "END Désolé, le service n'est pas disponible pour le moment. Réessayez plus tard."

// TestRedisOutage kills the gateway's Redis under load and starts it again
// (empty, as a Redis without persistence comes back): users get the
// localized "unavailable" END within a second, /readyz says why, the log
// says it a bounded number of times, the gateway recovers by itself, and
// no user in the middle of a dialogue is sent back to the main menu.
func TestRedisOutage(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server is not installed")
	}
	port := freePort(t)
	srv := startRedis(t, port)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "shop.yaml"), []byte(outageFlow), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := parseSettings("ussdgw", nil, env(map[string]string{
		"USSDGW_FLOWS": dir, "USSDGW_REDIS_URL": "redis://" + srv.addr(), "USSDGW_LIMIT_STEPS": "0", "USSDGW_LIMIT_DIALS": "0", "USSDGW_REDIS_AUTOPIPELINE": os.Getenv("AP"),
	}), nil)
	if err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	log := logcheck.Wrap(t, slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: logLevel()}))
	a, err := wire(context.Background(), s, log, wireOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	h := a.handler

	var (
		mainMenuAgain atomic.Int64 // a later hop answered with the main menu: the failure this test is about
		wrong         atomic.Int64
		served        atomic.Int64
		unavailable   atomic.Int64
		mu            sync.Mutex
		wrongSamples  []string
	)
	// The timeline, in Unix nanoseconds (0: not yet), and what happened
	// after each point.
	var killedAt, restartedAt atomic.Int64
	var slowest, firstOK atomic.Int64 // after the kill; after the restart
	// hop sends text and checks the answer against want; a hop with text
	// answered by the main menu (when that is not want) is a user sent
	// back to the start without a word.
	hop := func(session, phone, text, want string) (string, bool) {
		start := time.Now()
		_, body, _ := postForm(h, session, phone, "*500#", text)
		lat := time.Since(start)
		ok := body == want
		switch {
		case ok:
			served.Add(1)
		case body == unavailableFR:
			unavailable.Add(1)
		case text != "" && body == outageSteps[0].want:
			mainMenuAgain.Add(1)
		case text == "" && body == resumeFR:
			// A dial after a cut session offers to resume it: right.
		default:
			wrong.Add(1)
			mu.Lock()
			if len(wrongSamples) < 5 {
				wrongSamples = append(wrongSamples, fmt.Sprintf("%q: %q", text, body))
			}
			mu.Unlock()
		}
		if k := killedAt.Load(); k != 0 && start.UnixNano() > k {
			for {
				old := slowest.Load()
				if int64(lat) <= old || slowest.CompareAndSwap(old, int64(lat)) {
					break
				}
			}
		}
		if r := restartedAt.Load(); ok && r != 0 && start.UnixNano() > r {
			firstOK.CompareAndSwap(0, start.UnixNano())
		}
		return body, ok
	}
	step := func(session, phone string, i int) (string, bool) {
		return hop(session, phone, outageSteps[i].text, outageSteps[i].want)
	}
	// dialogue runs one dialogue to its end or its first failure; offered
	// to resume a cut one, the user starts again ("2").
	dialogue := func(session, phone string) {
		body, ok := step(session, phone, 0)
		prefix := ""
		if body == resumeFR {
			if _, ok = hop(session, phone, "2", outageSteps[0].want); !ok {
				return
			}
			prefix = "2*"
		} else if !ok {
			return
		}
		for _, st := range outageSteps[1:] {
			if _, ok := hop(session, phone, prefix+st.text, st.want); !ok {
				return
			}
		}
	}

	// Users parked in the middle of a dialogue (at the quantity) across
	// the whole outage: Redis comes back without their sessions.
	const parked = 5
	for u := range parked {
		for i := range 3 {
			if _, ok := step(fmt.Sprintf("park-%d", u), fmt.Sprintf("2547100000%02d", u), i); !ok {
				t.Fatalf("parked user %d, step %d failed before the outage", u, i)
			}
		}
	}

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	const users = 4
	for u := range users {
		wg.Go(func() {
			for n := 0; ctx.Err() == nil; n++ {
				dialogue(fmt.Sprintf("load-%d-%d", u, n), fmt.Sprintf("2547200000%02d", u))
			}
		})
	}
	readyz := func() (int, string) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		return w.Code, w.Body.String()
	}
	waitFor := func(what string, limit time.Duration, cond func() bool) time.Duration {
		start := time.Now()
		for !cond() {
			if time.Since(start) > limit {
				t.Fatalf("%s: not within %s", what, limit)
			}
			time.Sleep(5 * time.Millisecond)
		}
		return time.Since(start)
	}
	waitFor("load before the outage", 5*time.Second, func() bool { return served.Load() > 200 })

	// Kill Redis.
	logOff := logs.Len()
	srv.kill()
	killed := time.Now()
	killedAt.Store(killed.UnixNano())
	firstApology := waitFor("the first 'unavailable' screen", time.Second, func() bool { return unavailable.Load() > 0 })
	notReady := waitFor("/readyz 503", time.Second, func() bool { c, _ := readyz(); return c == 503 })
	_, why := readyz()
	if !strings.Contains(why, "session store (redis)") || strings.Contains(why, srv.addr()) {
		t.Errorf("/readyz during the outage: %s", why)
	}
	// Let the outage last (OUTAGE_SECONDS, 3 s by default), then check
	// every answer during it was fast.
	outage := 3 * time.Second
	if v, err := strconv.Atoi(os.Getenv("OUTAGE_SECONDS")); err == nil && v > 0 {
		outage = time.Duration(v) * time.Second
	}
	time.Sleep(outage)
	outageServed := unavailable.Load()

	// Start Redis again, empty, on the same port.
	restarted := time.Now()
	restartedAt.Store(restarted.UnixNano())
	startRedis(t, port) // stopped by its cleanup
	redisUp := time.Since(restarted)
	before := served.Load()
	recovery := waitFor("recovery", 10*time.Second, func() bool {
		if time.Since(restarted) > 9*time.Second {
			lines, _ := logs.linesSince(logOff)
			c, why := readyz()
			mu.Lock()
			t.Logf("not recovered: readyz %d %s; served %d, unavailable %d, main menu %d, wrong %d %v; log:\n%s", c, why,
				served.Load(), unavailable.Load(), mainMenuAgain.Load(), wrong.Load(), wrongSamples, strings.Join(lines[max(0, len(lines)-40):], "\n"))
			mu.Unlock()
		}
		return served.Load() > before+20
	})
	waitFor("/readyz 200", 5*time.Second, func() bool { c, _ := readyz(); return c == 200 })
	stop()
	wg.Wait()
	outageLines, _ := logs.linesSince(logOff)

	// The parked users type their quantity: their sessions were lost with
	// Redis, and are rebuilt from the text Africa's Talking sends.
	for u := range parked {
		if body, ok := step(fmt.Sprintf("park-%d", u), fmt.Sprintf("2547100000%02d", u), 3); !ok {
			t.Errorf("parked user %d after the outage: %q", u, body)
		}
	}

	t.Logf("first 'unavailable' %s after the kill, /readyz 503 after %s; %d answered 'unavailable' during the outage; slowest answer after the kill %s",
		firstApology.Round(time.Millisecond), notReady.Round(time.Millisecond), outageServed, time.Duration(slowest.Load()).Round(time.Millisecond))
	t.Logf("redis answering %s after its restart; first served request began %s after the restart (20 served after %s)",
		redisUp.Round(time.Millisecond), time.Duration(firstOK.Load()-restarted.UnixNano()).Round(time.Millisecond), recovery.Round(time.Millisecond))
	t.Logf("%d log lines from the kill to the end:\n%s", len(outageLines), strings.Join(outageLines, "\n"))
	if d := time.Duration(slowest.Load()); d > time.Second {
		t.Errorf("an answer took %s after the kill", d)
	}
	if n := mainMenuAgain.Load(); n > 0 {
		t.Errorf("%d later hops were answered with the main menu", n)
	}
	if n := wrong.Load(); n > 0 {
		t.Errorf("%d unexpected answers, e.g. %v", n, wrongSamples)
	}
	if len(outageLines) > 6 {
		t.Errorf("%d log lines for one outage", len(outageLines))
	}
}

func logLevel() slog.Level {
	if os.Getenv("OUTAGE_DEBUG") != "" {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}
