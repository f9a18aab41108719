package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ussdgw/ussdgw/smpp/smsc"
)

// The rolling restart of issue 9, with real processes: two gateway
// instances bound as the same system_id to one USSDC (package smsc, which
// sends each new dialogue and each reply to a bind that receives, taking
// turns, as an SMSC does with a bind group) and sharing one Redis. Under a
// load of four-step dialogues, instance A gets SIGTERM and is started
// again, then B. A dialogue fails when a step gets no screen or a wrong
// one. Then the same load with kill -9 of A instead, for comparison.
//
// It needs Redis at 127.0.0.1:6379 and builds the binary; -short skips it.
func TestRollingRestartUnderSMPPLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the gateway and runs two instances for ~30s")
	}
	rc := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	t.Cleanup(func() { rc.Close() })
	if err := rc.Ping(context.Background()).Err(); err != nil {
		t.Skipf("no Redis at 127.0.0.1:6379: %v", err)
	}
	prefix := fmt.Sprintf("rolltest-%d:", rand.Uint64())
	t.Cleanup(func() { deleteKeys(t, rc, prefix) })

	dir := t.TempDir()
	bin := os.Getenv("ROLLTEST_BIN") // another build to compare with
	if bin == "" {
		bin = filepath.Join(dir, "ussdgw")
		if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
			t.Fatalf("building the gateway: %v\n%s", err, out)
		}
	}
	srv, err := smsc.Start(smsc.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cfg := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(cfg, []byte(`log_level: info
smpp:
  connections:
    - name: usdc
      group: usdc
      address: `+srv.Addr()+`
      system_id: ussdgw
      password_env: ROLLTEST_SMPP_PASSWORD
      sources: [{addr: "777"}]
      reconnect: {min: 50ms, max: 1s}
      inbound: {workers: 16, queue: 1024}
      ussd: {profile: spec}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	start := func(name string) *gwProc {
		return startGateway(t, bin, name, dir, cfg, prefix)
	}
	waitBinds := func(n int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := srv.WaitBound(ctx, n); err != nil {
			t.Fatal(err)
		}
	}

	a, b := start("A"), start("B")
	waitBinds(2)

	// Rolling restart: SIGTERM A, start it again, then B.
	rolling := runLoad(srv, 16, 254711000000, func() {
		pause(2 * time.Second)
		for i, p := range []**gwProc{&a, &b} {
			took, code := (*p).term(t)
			t.Logf("instance %s: SIGTERM to exit %s, exit code %d", (*p).name, took.Round(time.Millisecond), code)
			if code != 0 {
				t.Errorf("instance %s exited %d after SIGTERM", (*p).name, code)
			}
			for _, l := range (*p).lines("shutdown phase", "shut down", "receiving bind kept") {
				t.Logf("  %s", l)
			}
			*p = start([]string{"A", "B"}[i])
			waitBinds(2)
			pause(2 * time.Second)
		}
	})
	t.Logf("rolling restart (SIGTERM A, restart, SIGTERM B, restart): %s", rolling)
	if rolling.failed != 0 {
		t.Errorf("%d sessions failed in the rolling restart: %v", rolling.failed, rolling.examples)
	}
	if rolling.ok < 100 {
		t.Errorf("only %d sessions completed: the load did not run", rolling.ok)
	}

	// The same with kill -9 of A: the steps A had taken get no answer.
	crash := runLoad(srv, 16, 254722000000, func() {
		pause(2 * time.Second)
		a.kill(t)
		a = start("A")
		waitBinds(2)
		pause(2 * time.Second)
	})
	t.Logf("kill -9 of A and restart: %s", crash)
	a.term(t)
	b.term(t)
}

var number = regexp.MustCompile(`[0-9]{6,}`)

func pause(d time.Duration) { <-time.After(d) }

// loadTally counts the dialogues of a run.
type loadTally struct {
	mu       sync.Mutex
	ok       int
	failed   int
	steps    int
	reasons  map[string]int
	examples []string
}

func (l *loadTally) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var rs []string
	for r, n := range l.reasons {
		rs = append(rs, fmt.Sprintf("%s: %d", r, n))
	}
	sort.Strings(rs)
	return fmt.Sprintf("%d sessions completed, %d failed (%d screens) %v", l.ok, l.failed, l.steps, rs)
}

// runLoad runs conc dialogues at a time (dial *777#, then 1, 2, 3; every
// screen checked, the last an END) while during runs; then lets those
// under way finish.
func runLoad(srv *smsc.Server, conc int, base uint64, during func()) *loadTally {
	inputs := []string{"1", "2", "3"}
	expect := []string{"Welcome", "Choose a crop", "Beans: choose a market", "Beans at Kisumu"}
	l := &loadTally{reasons: map[string]int{}}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := range conc {
		wg.Go(func() {
			for n := uint64(0); !stop.Load(); n++ {
				msisdn := fmt.Sprint(base + uint64(w)*10000 + n%10000)
				steps, err := dialogue(srv, msisdn, inputs, expect)
				l.mu.Lock()
				l.steps += steps
				if err == nil {
					l.ok++
				} else {
					l.failed++
					reason := number.ReplaceAllString(err.Error(), "N")
					if i := strings.Index(reason, " ("); i >= 0 {
						reason = reason[:i]
					}
					l.reasons[reason]++
					if len(l.examples) < 10 {
						l.examples = append(l.examples, err.Error())
					}
				}
				l.mu.Unlock()
			}
		})
	}
	during()
	stop.Store(true)
	wg.Wait()
	return l
}

// dialogue plays one session and returns how many screens it got.
func dialogue(srv *smsc.Server, msisdn string, inputs, expect []string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second*time.Duration(len(expect)))
	defer cancel()
	ss, err := srv.Dial(ctx, msisdn, "*777#")
	if err != nil {
		return 0, fmt.Errorf("step 1: %w", err)
	}
	defer ss.Close()
	for step := range expect {
		if step > 0 {
			if err := ss.Reply(inputs[step-1]); err != nil {
				return step, fmt.Errorf("step %d: %w", step+1, err)
			}
		}
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		sc, err := ss.Next(sctx)
		cancel()
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return step, fmt.Errorf("step %d: no screen within 5s", step+1)
			}
			return step, fmt.Errorf("step %d: %w", step+1, err)
		}
		if !strings.Contains(sc.Text, expect[step]) || sc.End != (step == len(expect)-1) {
			return step + 1, fmt.Errorf("step %d: wrong screen (end %v %q, want %q)", step+1, sc.End, sc.Text, expect[step])
		}
	}
	return len(expect), nil
}

// gwProc is one gateway process.
type gwProc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

func startGateway(t *testing.T, bin, name, dir, cfg, prefix string) *gwProc {
	t.Helper()
	log := filepath.Join(dir, fmt.Sprintf("gateway-%s-%d.log", name, time.Now().UnixNano()))
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-config", cfg, "-listen", "127.0.0.1:0", "-flows", "../loadtest/flows",
		"-redis-url", "redis://127.0.0.1:6379/0", "-redis-prefix", prefix)
	cmd.Env = append(os.Environ(), "ROLLTEST_SMPP_PASSWORD=any", "USSDGW_SHUTDOWN_TIMEOUT=20s")
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &gwProc{name: name, cmd: cmd, log: log, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); f.Close(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			b, _ := os.ReadFile(log)
			t.Logf("gateway %s log (last 4k):\n%s", name, b[max(0, len(b)-4096):])
		}
	})
	return p
}

// term sends SIGTERM and waits for the exit.
func (p *gwProc) term(t *testing.T) (time.Duration, int) {
	t.Helper()
	select {
	case <-p.done:
		return 0, p.cmd.ProcessState.ExitCode()
	default:
	}
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("instance %s still running 30s after SIGTERM", p.name)
	}
	return time.Since(start), p.cmd.ProcessState.ExitCode()
}

// kill is kill -9.
func (p *gwProc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-p.done
}

// lines returns the lines of the process's log that contain any of subs.
func (p *gwProc) lines(subs ...string) []string {
	f, err := os.Open(p.log)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		for _, s := range subs {
			if strings.Contains(sc.Text(), s) {
				out = append(out, sc.Text())
				break
			}
		}
	}
	return out
}

func deleteKeys(t *testing.T, rc *redis.Client, prefix string) {
	ctx := context.Background()
	iter := rc.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
		if len(keys) == 500 {
			rc.Del(ctx, keys...)
			keys = keys[:0]
		}
	}
	if len(keys) > 0 {
		rc.Del(ctx, keys...)
	}
	if err := iter.Err(); err != nil {
		t.Logf("deleting test keys: %v", err)
	}
}
