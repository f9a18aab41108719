package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"github.com/ussdgw/ussdgw/internal/redistest"
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

	"github.com/ussdgw/ussdgw/smpp/nodetest"
	"github.com/ussdgw/ussdgw/smpp/smsc"

	"github.com/ussdgw/ussdgw/internal/logcheck"
)

// The rolling restart of issue 9, with real processes: two gateway
// instances bound as the same system_id to one USSDC, sharing one Redis.
// The USSDC sends each new dialogue and each reply to a bind that
// receives and has not unbound, taking turns, as an SMSC does with the
// binds of one system_id, and matches a screen to its dialogue whatever
// bind it comes on. Under a load of four-step dialogues, instance A gets
// SIGTERM and is started again, then B. A dialogue fails when a step gets
// no screen or a wrong one, or its deliver_sm is refused or lost with its
// bind. Then the same load with kill -9 of A instead, for comparison.
//
// The USSDC is smsc.js on node-smpp (an SMPP implementation we did not
// write) in TestRollingRestartUnderSMPPLoad, and package smsc (ours, the
// one cmd/smsc-sim load uses) in TestRollingRestartGoSMSC. Both need
// Redis at 127.0.0.1:6379 and build the binary (ROLLTEST_BIN runs another
// build instead, e.g. an older one to compare); -short skips them.
func TestRollingRestartUnderSMPPLoad(t *testing.T) {
	skipRolling(t)
	n := nodetest.Start(t)
	n.Do(map[string]any{"cmd": "set", "quiet": true})
	rollingRestart(t, &nodeUSSDC{n})
}

func TestRollingRestartGoSMSC(t *testing.T) {
	skipRolling(t)
	srv, err := smsc.Start(smsc.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	rollingRestart(t, &goUSSDC{srv})
}

func skipRolling(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the gateway and runs two instances for ~15s")
	}
}

// usdc is the USSDC side of the rolling test.
type usdc interface {
	addr() string
	waitBinds(t *testing.T, n int) // receiving binds
	// load runs dialogues from numbers base+... while during runs, lets
	// those under way finish, and counts them.
	load(t *testing.T, base uint64, during func()) (ok, failed int, summary string)
}

func rollingRestart(t *testing.T, u usdc) {
	rc := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	t.Cleanup(func() { rc.Close() })
	if err := rc.Ping(context.Background()).Err(); err != nil {
		t.Skipf("no Redis at 127.0.0.1:6379: %v", err)
	}
	prefix := fmt.Sprintf("rolltest-%d:", rand.Uint64())
	t.Cleanup(func() { redistest.DeletePrefix(rc, prefix) })

	dir := t.TempDir()
	bin := os.Getenv("ROLLTEST_BIN") // another build to compare with
	if bin == "" {
		bin = filepath.Join(dir, "ussdgw")
		if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
			t.Fatalf("building the gateway: %v\n%s", err, out)
		}
	}
	cfg := filepath.Join(dir, "gateway.yaml")
	// redis_timeout: the guard's short Redis deadline answers "service
	// unavailable" when the shared Redis of a loaded test machine is slow;
	// that is not what this test is about.
	if err := os.WriteFile(cfg, []byte(`log_level: info
redis_timeout: 2s
smpp:
  connections:
    - name: usdc
      group: usdc
      address: `+u.addr()+`
      system_id: test
      password_env: ROLLTEST_SMPP_PASSWORD
      sources: [{addr: "777"}]
      reconnect: {min: 50ms, max: 1s}
      inbound: {workers: 16, queue: 1024}
      ussd: {profile: spec}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	start := func(name string) *gwProc {
		return startInstance(t, bin, name, dir, cfg, prefix)
	}

	a, b := start("A"), start("B")
	u.waitBinds(t, 2)

	// Rolling restart: SIGTERM A, start it again, then B.
	ok, failed, summary := u.load(t, 254711000000, func() {
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
			u.waitBinds(t, 2)
			pause(2 * time.Second)
		}
	})
	t.Logf("rolling restart (SIGTERM A, restart, SIGTERM B, restart): %s", summary)
	if failed != 0 {
		t.Errorf("%d sessions failed in the rolling restart", failed)
	}
	if ok < 100 {
		t.Errorf("only %d sessions completed: the load did not run", ok)
	}

	// The same with kill -9 of A: the steps A had taken get no answer.
	_, _, summary = u.load(t, 254722000000, func() {
		pause(2 * time.Second)
		a.kill(t)
		a = start("A")
		u.waitBinds(t, 2)
		pause(2 * time.Second)
	})
	t.Logf("kill -9 of A and restart: %s", summary)
	a.term(t)
	b.term(t)
}

var (
	loadInputs = []string{"1", "2", "3"}
	loadExpect = []string{"Welcome", "Choose a crop", "Beans: choose a market", "Beans at Kisumu"}
)

// nodeUSSDC is smsc.js's ussd_load.
type nodeUSSDC struct{ s *nodetest.SMSC }

func (n *nodeUSSDC) addr() string { return n.s.Addr() }

func (n *nodeUSSDC) waitBinds(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for n.s.Stats().Num("receivers") < want {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d receiving binds after 20s", want)
		}
		pause(20 * time.Millisecond)
	}
}

func (n *nodeUSSDC) load(t *testing.T, base uint64, during func()) (int, int, string) {
	t.Helper()
	from := n.s.Mark()
	n.s.Do(map[string]any{"cmd": "ussd_load", "concurrency": 16, "code": "*777#", "dest": "777",
		"inputs": loadInputs, "expect": loadExpect, "base": base, "timeout_ms": 5000})
	during()
	n.s.Do(map[string]any{"cmd": "ussd_load_stop"})
	e := n.s.WaitFor(from, 30*time.Second, "ussd_load result", nodetest.IsEv("ussd_load"))
	ok, failed := e.Num("ok"), e.Num("failed")
	return ok, failed, fmt.Sprintf("%d sessions completed, %d failed %v %v", ok, failed, e["reasons"], e["examples"])
}

// goUSSDC is package smsc's Dial/Reply/Next.
type goUSSDC struct{ srv *smsc.Server }

func (g *goUSSDC) addr() string { return g.srv.Addr() }

func (g *goUSSDC) waitBinds(t *testing.T, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := g.srv.WaitBound(ctx, n); err != nil {
		t.Fatal(err)
	}
}

func (g *goUSSDC) load(t *testing.T, base uint64, during func()) (int, int, string) {
	l := runLoad(g.srv, 16, base, during)
	return l.ok, l.failed, l.String()
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
	inputs, expect := loadInputs, loadExpect
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

func startInstance(t *testing.T, bin, name, dir, cfg, prefix string) *gwProc {
	t.Helper()
	log := filepath.Join(dir, fmt.Sprintf("gateway-%s-%d.log", name, time.Now().UnixNano()))
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-config", cfg, "-listen", "127.0.0.1:0", "-flows", "../loadtest/flows",
		"-redis-url", "redis://127.0.0.1:6379/0", "-redis-prefix", prefix)
	cmd.Env = append(os.Environ(), "ROLLTEST_SMPP_PASSWORD=secret", "USSDGW_SHUTDOWN_TIMEOUT=20s")
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
		if b, err := os.ReadFile(log); err == nil {
			logcheck.Text(t, string(b))
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
