package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ussdgw/ussdgw/internal/rediscluster"

	"github.com/ussdgw/ussdgw/internal/logcheck"
)

// syncBuffer is a log sink several goroutines write to.
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

// lines counts the log lines that contain what.
func (s *syncBuffer) lines(what string) int {
	n := 0
	for _, l := range strings.Split(s.String(), "\n") {
		if strings.Contains(l, what) {
			n++
		}
	}
	return n
}

// instance is one gateway started with run(), as the binary would be.
type instance struct {
	addr string
	logs *syncBuffer
}

// startInstances starts n gateways on one Redis URL and prefix, each with
// its own HTTP listener, stopped when the test ends.
func startInstances(t *testing.T, n int, redisURL, prefix string, extra ...string) []instance {
	t.Helper()
	var out []instance
	for i := range n {
		ctx, cancel := context.WithCancel(context.Background())
		ready := make(chan string, 1)
		done := make(chan error, 1)
		logs := &syncBuffer{}
		go func() {
			done <- run(ctx, append([]string{"-listen", "127.0.0.1:0", "-flows", "../../flows-examples",
				"-redis-url", redisURL, "-redis-prefix", prefix, "-log-level", "warn"}, extra...), env(nil), io.Discard, logs, ready)
		}()
		select {
		case addr := <-ready:
			out = append(out, instance{addr: addr, logs: logs})
		case err := <-done:
			cancel()
			t.Fatalf("instance %d ended: %v\n%s", i, err, logs.String())
		case <-time.After(30 * time.Second):
			cancel()
			t.Fatalf("instance %d not ready", i)
		}
		t.Cleanup(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("instance %d: %v", i, err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("instance %d did not stop", i)
			}
		})
	}
	return out
}

// referenceScreens plays the market path on a gateway with sessions in
// memory: the screens every session of the load must see.
func referenceScreens(t *testing.T) []string {
	t.Helper()
	s := defaults()
	s.Flows = "../../flows-examples"
	a, err := wire(context.Background(), s, logcheck.New(t), wireOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	var want []string
	for _, text := range marketPath {
		code, body, _ := postForm(a.handler, "ref", "+254700000001", "*384#", text)
		if code != 200 || !strings.HasPrefix(body, "CON ") {
			t.Fatalf("reference step %q: %d %q", text, code, body)
		}
		want = append(want, body)
	}
	return want
}

// stepResult is one USSD step of the load.
type stepResult struct {
	start, end time.Time
	ok         bool
	mainMenu   bool // a continuing step answered with the main menu
	got        string
	phone      string // digits only
}

// load drives market sessions over HTTP, their steps alternating between
// the instances (step i of session k goes to instance (k+i) mod n), so no
// instance answers two steps of a session in a row.
type load struct {
	client *http.Client
	inst   []instance
	want   []string
	run    string // unique per load, in session ids
	base   int    // numbers of this load: base*1e6 + session

	mu    sync.Mutex
	steps []stepResult
	okN   atomic.Int64
}

// loads numbers the loads of a test, so that no two share a phone number
// (a session left at the price screen offers to resume it).
var loads atomic.Int64

func newLoad(inst []instance, want []string) *load {
	b := make([]byte, 3)
	rand.Read(b)
	return &load{
		client: &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
		inst:   inst, want: want, run: hex.EncodeToString(b), base: int(loads.Add(1)),
	}
}

// session plays session k to its end or its first wrong screen, which
// ends it as a real user's would end (an END or an unexpected screen).
func (l *load) session(k int) (failed bool) {
	phone := fmt.Sprintf("+2547%02d%06d", l.base, k)
	sid := fmt.Sprintf("cl-%s-%d", l.run, k)
	for i, text := range marketPath {
		r := stepResult{start: time.Now(), phone: phone[1:]}
		form := url.Values{"sessionId": {sid}, "phoneNumber": {phone}, "serviceCode": {"*384#"}, "text": {text}}
		resp, err := l.client.PostForm("http://"+l.inst[(k+i)%len(l.inst)].addr+"/ussd/africastalking", form)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			r.got = fmt.Sprintf("%d %s", resp.StatusCode, body)
			r.ok = resp.StatusCode == 200 && string(body) == l.want[i]
			r.mainMenu = i > 0 && string(body) == l.want[0]
		} else {
			r.got = err.Error()
		}
		r.end = time.Now()
		l.mu.Lock()
		l.steps = append(l.steps, r)
		l.mu.Unlock()
		if !r.ok {
			return true
		}
		l.okN.Add(1)
	}
	return false
}

// results returns the steps so far, in the order they were answered.
func (l *load) results() []stepResult {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := append([]stepResult(nil), l.steps...)
	sort.Slice(out, func(i, j int) bool { return out[i].end.Before(out[j].end) })
	return out
}

// TestClusterTwoInstances: two gateways on a Redis Cluster (3 masters, a
// replica each) serve one population of USSD sessions: a bounded load
// whose steps alternate between the instances sees every expected screen;
// then a coordinated failover and a killed master under load, with the
// failed steps and the time to recover reported.
func TestClusterTwoInstances(t *testing.T) {
	c := rediscluster.Start(t, rediscluster.Options{NodeTimeout: 2 * time.Second, PartialCoverage: true})
	want := referenceScreens(t)
	b := make([]byte, 6)
	rand.Read(b)
	prefix := "test:" + hex.EncodeToString(b) + ":"
	inst := startInstances(t, 2, c.URL(), prefix)

	t.Run("200 sessions across instances and slots", func(t *testing.T) {
		l := newLoad(inst, want)
		const sessions, workers = 200, 16
		work := make(chan int)
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for k := range work {
					l.session(k)
				}
			})
		}
		for k := range sessions {
			work <- k
		}
		close(work)
		wg.Wait()
		res := l.results()
		bad := 0
		for _, r := range res {
			if !r.ok {
				if bad < 5 {
					t.Errorf("mismatch: %q", r.got)
				}
				bad++
			}
		}
		if len(res) != sessions*len(marketPath) || bad != 0 {
			t.Fatalf("%d steps, %d mismatches; want %d steps, 0 mismatches", len(res), bad, sessions*len(marketPath))
		}
		// The sessions really are spread over the cluster's masters.
		cl := c.Client()
		defer cl.Close()
		var mu sync.Mutex
		perMaster := map[string]int64{}
		err := cl.ForEachMaster(context.Background(), func(ctx context.Context, mc *redis.Client) error {
			n, err := mc.DBSize(ctx).Result()
			mu.Lock()
			perMaster[mc.Options().Addr] = n
			mu.Unlock()
			return err
		})
		if err != nil || len(perMaster) != 3 {
			t.Fatalf("keys per master: %v %v", perMaster, err)
		}
		for m, n := range perMaster {
			if n == 0 {
				t.Errorf("master %s holds no session key", m)
			}
		}
		t.Logf("%d sessions x %d steps over 2 instances: 0 mismatches", sessions, len(marketPath))
	})

	t.Run("coordinated failover under load", func(t *testing.T) {
		// Coordinated: the replica catches up before it takes over and
		// clients follow MOVED, so no step should fail.
		failover(t, inst, want, "CLUSTER FAILOVER", 0, 5*time.Second, func(ctx context.Context) error {
			masters, err := c.Masters(ctx)
			if err != nil {
				return err
			}
			rep, err := c.ReplicaOf(ctx, masters[0])
			if err != nil {
				return err
			}
			return c.Failover(ctx, rep)
		}, c.WaitOK, nil)
	})
	t.Run("master killed under load", func(t *testing.T) {
		shardOf := c.Client()
		defer shardOf.Close()
		// Crash: the steps on the dead master's slots fail (fast, with the
		// localized apology) for cluster-node-timeout + election + reload.
		failover(t, inst, want, "master killed (kill -9)", -1, 15*time.Second, func(ctx context.Context) error {
			masters, err := c.Masters(ctx)
			if err != nil {
				return err
			}
			return c.Kill(masters[1])
		}, c.WaitOK, func(msisdn string) string {
			mc, err := shardOf.MasterForKey(context.Background(), prefix+"s:{"+msisdn+"}")
			if err != nil {
				return err.Error()
			}
			return mc.Options().Addr
		})
	})
}

// sessionEvery paces the sessions of a failover run: 400 sessions (1,600
// steps) a second, well under what two instances serve on this machine.
const sessionEvery = 2500 * time.Microsecond

// failover runs market sessions over the instances over the instances, does
// act (a failover) once 200 steps have passed, waits for heal (the
// deployment says it is whole again) and then for 3 s without a failed
// step, and reports the failed steps and the time from act to the last
// failure. Continuing steps answered with the main menu are errors, and so
// are more failures (maxFailed >= 0) or a longer recovery than allowed.
// Sessions start at a steady pace (sessionEvery), so the share of failed
// steps is comparable between runs.
//
// shard, when not nil, names where a number's keys live (the master's
// address at the end of the run): the failed sessions are counted per shard.
func failover(t *testing.T, inst []instance, want []string, name string, maxFailed int, maxRecovery time.Duration,
	act, heal func(ctx context.Context) error, shard func(msisdn string) string) {
	l := newLoad(inst, want)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	stop := make(chan struct{})
	var failedSessions, notStarted atomic.Int64
	var wg sync.WaitGroup
	// Sessions start at a steady pace (the users' dialling does not
	// speed up when the gateway answers faster), served by 32 workers.
	work := make(chan int, 64)
	wg.Go(func() {
		defer close(work)
		tick := time.NewTicker(sessionEvery)
		defer tick.Stop()
		for k := 0; ; k++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			select {
			case work <- k:
			default: // the workers are behind: this user gave up dialling
				notStarted.Add(1)
			}
		}
	})
	for range 32 {
		wg.Go(func() {
			for k := range work {
				if l.session(k) {
					failedSessions.Add(1)
				}
			}
		})
	}
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}()
	// Some load first, so that sessions are in flight on every master.
	for l.okN.Load() < 400 {
		if ctx.Err() != nil {
			t.Fatal("no load before the failover")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t0 := time.Now()
	if err := act(ctx); err != nil {
		t.Fatal(err)
	}
	if err := heal(ctx); err != nil {
		t.Fatal(err)
	}
	healed := time.Now()
	// Done: 3 s of clean steps after the last failure (and after the
	// deployment is whole again), or give up at the deadline.
	for {
		res := l.results()
		last := t0
		for _, r := range res {
			if !r.ok && r.end.After(last) {
				last = r.end
			}
		}
		if time.Since(last) > 3*time.Second && time.Since(healed) > 3*time.Second {
			break
		}
		if ctx.Err() != nil {
			t.Errorf("%s: still failing at the deadline", name)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	res := l.results()
	failed, mainMenu, after := 0, 0, 0
	var slowest time.Duration
	slow, lastSlow := 0, t0 // steps over 1 s: waiting on the failover, not failed
	var lastFail time.Time
	kinds := map[string]int{}
	for _, r := range res {
		if r.end.After(t0) {
			after++
		}
		slowest = max(slowest, r.end.Sub(r.start))
		if r.end.Sub(r.start) > time.Second {
			slow++
			lastSlow = r.end
		}
		if r.ok {
			continue
		}
		failed++
		if r.mainMenu {
			mainMenu++
		}
		if r.end.After(lastFail) {
			lastFail = r.end
		}
		kinds[strings.SplitN(r.got, "\n", 2)[0]]++
	}
	// Recovered: the last failed step answered (that is the figure the
	// bound is about); normal: the last step slower than 1 s answered.
	recovery := time.Duration(0)
	if failed > 0 {
		recovery = lastFail.Sub(t0)
	}
	normal := max(recovery, lastSlow.Sub(t0))
	inWindow := 0 // steps answered between act and the last failure
	for _, r := range res {
		if r.end.After(t0) && !r.end.After(lastFail) {
			inWindow++
		}
	}
	logLines := 0
	for _, in := range inst {
		logLines += in.logs.lines("level=")
	}
	t.Logf("%s: %d steps (%d after it began), %d failed steps (of %d answered until the last failure) in %d sessions, the last %v after it began; "+
		"%d steps over 1 s (slowest %v), normal again %v after it began; the deployment whole again after %v; "+
		"%d sessions restarted at the main menu; %d log lines; %d sessions not started (all workers busy)",
		name, len(res), after, failed, inWindow, failedSessions.Load(), recovery.Round(time.Millisecond),
		slow, slowest.Round(time.Millisecond), normal.Round(time.Millisecond), healed.Sub(t0).Round(time.Millisecond),
		mainMenu, logLines, notStarted.Load())
	for k, n := range kinds {
		t.Logf("  %5d x %q", n, k)
	}
	if shard != nil {
		per := map[string]int{}
		for _, r := range res {
			if !r.ok {
				per[shard(r.phone)]++
			}
		}
		t.Logf("  failed steps per master of their keys: %v", per)
		// Only the sessions of the dead master's slots may fail.
		if len(per) > 1 {
			t.Errorf("steps failed on %d masters, want only on the one that died", len(per))
		}
	}
	if mainMenu > 0 {
		t.Errorf("%d continuing steps were answered with the main menu", mainMenu)
	}
	// go-redis's default slot-map reload (60 s) kept the dead master's
	// slots failing for 56 s; ussd.NewRedisClient reloads every second.
	if recovery > maxRecovery {
		t.Errorf("recovered after %v, want under %v", recovery, maxRecovery)
	}
	if maxFailed >= 0 && failed > maxFailed {
		t.Errorf("%d failed steps, want at most %d", failed, maxFailed)
	}
}

// TestSentinelTwoInstances: two gateways on a Sentinel-managed Redis (a
// master, a replica, three sentinels; the gateway's Sentinel URL form)
// serve market sessions, and the master is killed under load.
func TestSentinelTwoInstances(t *testing.T) {
	s := rediscluster.StartSentinel(t)
	want := referenceScreens(t)
	b := make([]byte, 6)
	rand.Read(b)
	inst := startInstances(t, 2, s.URL(), "test:"+hex.EncodeToString(b)+":")
	var old string
	// Sentinel: down-after 1 s, then an election among the sentinels.
	failover(t, inst, want, "sentinel: master killed (kill -9)", -1, 15*time.Second, func(ctx context.Context) error {
		var err error
		old, err = s.KillMaster(ctx)
		return err
	}, func(ctx context.Context) error { return s.WaitNewMaster(ctx, old) }, nil)
}
