package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"github.com/ussdgw/ussdgw/internal/redistest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	mtq "github.com/ussdgw/ussdgw/outbox"
	"github.com/ussdgw/ussdgw/smpp/nodetest"
	"github.com/ussdgw/ussdgw/ussd"

	"github.com/ussdgw/ussdgw/internal/logcheck"
)

// TestGatewayKilledMidBroadcast: 5,000 alerts queued from this process
// into the gateway's Redis; the gateway (the real binary) is killed with
// SIGKILL while it sends them, and started again. Every message is
// delivered (its receipt reached the queue), and the SMSC accepted no
// more duplicates than there were messages in flight (taken and marked
// "sending", not recorded) when the process died.
func TestGatewayKilledMidBroadcast(t *testing.T) {
	const n = 5000
	r := newBroadcastRig(t, n, "kill", "warn", 2)
	c, prefix, q, smsc := r.c, r.prefix, r.q, r.smsc
	group, waitGroup := r.group, r.wait

	first := r.start()
	waitGroup("a third sent", 60*time.Second, func(g mtq.GroupStats) bool { return g.Sent >= n/3 })
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.cmd.Wait()
	sentBefore := group().Sent
	inFlight := markedSending(t, c, prefix)
	t.Logf("killed with %d of %d recorded as sent, %d marked sending", sentBefore, n, inFlight)
	if sentBefore >= n {
		t.Fatal("the gateway finished before it was killed: nothing was tested")
	}

	second := r.start()
	waitGroup("all delivered", 120*time.Second, func(g mtq.GroupStats) bool { return g.Delivered == n })
	_ = second.cmd.Process.Signal(syscall.SIGTERM)
	if err := second.cmd.Wait(); err != nil {
		t.Errorf("the second gateway did not stop cleanly: %v\n%s", err, second.logs.String())
	}
	counts := smsc.Counts()
	st, _ := q.Stats(context.Background())
	dups := counts.Num("total") - counts.Num("distinct")
	t.Logf("smsc accepted %d (%d distinct): %d duplicates; %d in flight at the kill; queue %+v; group %+v",
		counts.Num("total"), counts.Num("distinct"), dups, inFlight, st, group())
	if counts.Num("distinct") != n {
		t.Errorf("the smsc got %d distinct messages, want %d", counts.Num("distinct"), n)
	}
	if dups > inFlight {
		t.Errorf("%d duplicates, more than the %d messages in flight", dups, inFlight)
	}
	if int64(dups) > st.Resent {
		t.Errorf("%d duplicates but only %d counted as possibly resent", dups, st.Resent)
	}
	if g := group(); g.Failed != 0 || g.Queued != 0 || g.Sent != n {
		t.Errorf("group %+v", g)
	}
}

// broadcastRig is what the broadcast fault tests share: the gateway
// binary, a node-smpp SMSC that counts what it accepts, a config with
// binds of it sharing a Redis prefix, and n bulk messages of group g
// queued in that Redis from this process.
type broadcastRig struct {
	t           *testing.T
	c           redis.UniversalClient
	url, prefix string
	bin, cfg    string
	smsc        *nodetest.SMSC
	q           *mtq.Queue
	g           string
	n           int
}

func newBroadcastRig(t *testing.T, n int, g, logLevel string, binds int) *broadcastRig {
	t.Helper()
	if testing.Short() {
		t.Skipf("builds the gateway and sends %d SMS", n)
	}
	r := &broadcastRig{t: t, url: os.Getenv("REDIS_URL"), g: g, n: n}
	if r.url == "" {
		r.url = "redis://127.0.0.1:6379/0"
	}
	c, err := ussd.NewRedisClient(r.url)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(t.Context()).Err(); err != nil {
		t.Skipf("no redis at %s: %v", r.url, err)
	}
	r.c, r.prefix = c, "test:"+randomHex(6)+":"
	t.Cleanup(func() { redistest.DeletePrefix(c, r.prefix); c.Close() })

	r.bin = filepath.Join(t.TempDir(), "ussdgw")
	if out, err := exec.Command("go", "build", "-o", r.bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("building the gateway: %v\n%s", err, out)
	}
	r.smsc = nodetest.Start(t)
	r.smsc.Do(map[string]any{"cmd": "set", "quiet": true, "count": true, "dlr": map[string]any{"mode": "tlv"}})
	var conns strings.Builder
	for i := range binds {
		fmt.Fprintf(&conns, `    - name: sim-%c
      group: sim
      address: %s
      system_id: test
      password_env: USSDGW_TEST_SMPP_PW
      sources: [{addr: "384", ton: 3, npi: 0}]
      reconnect: {min: 10ms, max: 100ms}
      window: 20
`, 'a'+i, r.smsc.Addr())
	}
	r.cfg = writeConfig(t, withoutQuietHours(t, examplesConfig(t))+fmt.Sprintf(`redis_prefix: %q
outbox_claim_idle: 2s
log_level: %s
smpp:
  connections:
%s  sms: {source: "384"}
`, r.prefix, logLevel, conns.String()))

	r.q = mtq.New(c, r.prefix, mtq.Options{})
	for i := 0; i < n; i += 1000 {
		var msgs []mtq.Message
		for j := i; j < min(i+1000, n); j++ {
			msgs = append(msgs, mtq.Message{ID: fmt.Sprintf("%s%05d", g, j), MSISDN: fmt.Sprintf("2547%08d", j),
				Text: fmt.Sprintf("alert %d", j), Service: "market", Kind: "alert", Priority: mtq.Bulk, Group: g})
		}
		if _, _, err := r.q.Enqueue(t.Context(), msgs...); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// withoutQuietHours points cfg (examplesConfig's) at a copy of the
// examples whose services have no quiet hours: the market service's
// (21:00-07:00 in Nairobi) would defer every alert of a run made then,
// and the rig would wait for sends that come in the morning.
func withoutQuietHours(t *testing.T, cfg string) string {
	t.Helper()
	src, err := filepath.Abs("../../flows-examples")
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "flows")
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dst, "*.yaml"))
	quiet := regexp.MustCompile(`quiet_hours: *"[^"]*", *`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, quiet.ReplaceAll(b, nil), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := strings.Replace(cfg, "flows: "+src+"\n", "flows: "+dst+"\n", 1)
	if out == cfg {
		t.Fatal("examplesConfig has no flows: line to replace")
	}
	return out
}

// start runs the gateway binary on the rig's config.
func (r *broadcastRig) start() *gatewayProc { return startGateway(r.t, r.bin, r.cfg, r.url) }

// group is the counts of the rig's messages.
func (r *broadcastRig) group() mtq.GroupStats {
	g, err := r.q.Group(context.Background(), r.g)
	if err != nil {
		r.t.Fatal(err)
	}
	return g
}

// wait polls the counts until ok, failing after within.
func (r *broadcastRig) wait(what string, within time.Duration, ok func(mtq.GroupStats) bool) {
	r.t.Helper()
	deadline := time.Now().Add(within)
	for !ok(r.group()) {
		if time.Now().After(deadline) {
			st, _ := r.q.Stats(context.Background())
			r.t.Fatalf("%s: not within %s: group %+v, queue %+v", what, within, r.group(), st)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type gatewayProc struct {
	cmd  *exec.Cmd
	logs *syncWriter
}

func startGateway(t *testing.T, bin, cfg, url string) *gatewayProc {
	t.Helper()
	g := &gatewayProc{logs: &syncWriter{w: &bytes.Buffer{}}}
	g.cmd = exec.Command(bin, "-config", cfg, "-redis-url", url)
	g.cmd.Env = append(os.Environ(), "USSDGW_TEST_SMPP_PW=secret")
	g.cmd.Stdout, g.cmd.Stderr = g.logs, g.logs
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	t.Cleanup(func() {
		once.Do(func() {
			if g.cmd.ProcessState == nil {
				_ = g.cmd.Process.Kill()
				_ = g.cmd.Wait()
			}
			logcheck.Text(t, g.logs.String())
			if t.Failed() {
				t.Logf("gateway logs:\n%s", g.logs.String())
			}
		})
	})
	return g
}

// markedSending counts the messages taken for sending whose result was
// not recorded: the sends in flight (marked sd, still waiting; a done
// message keeps its mark, which then means nothing).
func markedSending(t *testing.T, c redis.UniversalClient, prefix string) int {
	ctx := context.Background()
	n := 0
	iter := c.Scan(ctx, 0, prefix+"{outbox}:m:*", 1000).Iterator()
	for iter.Next(ctx) {
		if f, _ := c.HMGet(ctx, iter.Val(), "sd", "st").Result(); len(f) == 2 && f[0] != nil && (f[1] == "queued" || f[1] == "deferred") {
			n++
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
