package push

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/ussdgw/ussdgw/smpp"
	"github.com/ussdgw/ussdgw/smpp/nodetest"
)

// sink is a running sink.js.
type sink struct {
	port, httpPort int
}

func startSink(t *testing.T) *sink {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed")
	}
	if _, err := os.Stat(filepath.Join(nodetest.Dir(), "node_modules", "smpp")); err != nil {
		t.Skipf("node-smpp is not installed: run `npm ci --prefix %s`", nodetest.Dir())
	}
	cmd := exec.Command(node, "sink.js", "-users", "ussdgw:*,kannel:secret")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan map[string]any)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var ev map[string]any
			if json.Unmarshal(sc.Bytes(), &ev) == nil && ev["ev"] == "listening" {
				lines <- ev
			}
		}
	}()
	select {
	case ev := <-lines:
		return &sink{port: int(ev["port"].(float64)), httpPort: int(ev["http_port"].(float64))}
	case <-time.After(10 * time.Second):
		t.Fatal("sink.js did not start listening")
	}
	return nil
}

type stats struct {
	Submits, Unique, Duplicates         int
	ReceiptsSent, ReceiptsAcked         int
	Binds, BindFailures, Sessions       int
	FirstMS, LastMS                     float64
	DLRCallbacks, DLRCallbacksDelivered int
}

func (s *sink) do(t *testing.T, method, path string) stats {
	t.Helper()
	req, _ := http.NewRequest(method, "http://127.0.0.1:"+strconv.Itoa(s.httpPort)+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var raw map[string]float64
	_ = json.NewDecoder(resp.Body).Decode(&raw)
	i := func(k string) int { return int(raw[k]) }
	return stats{
		Submits: i("submits"), Unique: i("unique"), Duplicates: i("duplicates"),
		ReceiptsSent: i("receipts_sent"), ReceiptsAcked: i("receipts_acked"),
		Binds: i("binds"), BindFailures: i("bind_failures"), Sessions: i("sessions"),
		FirstMS: raw["first_ms"], LastMS: raw["last_ms"],
		DLRCallbacks: i("dlr_callbacks"), DLRCallbacksDelivered: i("dlr_callbacks_delivered"),
	}
}

// eventually polls the sink's stats until ok holds or 5s pass.
func (s *sink) eventually(t *testing.T, what string, ok func(stats) bool) stats {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st := s.do(t, http.MethodGet, "/stats")
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: stats are %+v", what, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func client(t *testing.T, s *sink, systemID string, h smpp.Handler) *smpp.Client {
	t.Helper()
	c := smpp.Defaults()
	c.Name, c.Address, c.SystemID, c.Password = systemID, "127.0.0.1:"+strconv.Itoa(s.port), systemID, "secret"
	c.Sources = []smpp.Source{{Addr: "777"}}
	c.RegisteredDelivery = 1
	c.Timeouts = smpp.Timeouts{Bind: 2 * time.Second, Response: 2 * time.Second, Write: 2 * time.Second}
	c.Reconnect = smpp.Backoff{Min: 10 * time.Millisecond, Max: 50 * time.Millisecond}
	cl, err := smpp.New(c, h)
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = cl.Close(ctx)
	})
	return cl
}

func waitBound(t *testing.T, c *smpp.Client, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return c.WaitBound(ctx)
}

// The sink answers, sends receipts the gateway's own parser reads as
// delivered for the ids it answered, and counts a second submit of the
// same text to the same number as a duplicate.
func TestSinkCountsDuplicatesAndSendsReceipts(t *testing.T) {
	s := startSink(t)
	receipts := make(chan smpp.Receipt, 10)
	c := client(t, s, "ussdgw", smpp.HandlerFunc(func(_ context.Context, in *smpp.Inbound) smpp.CommandStatus {
		r, err := smpp.ParseReceipt(in)
		if err != nil {
			t.Errorf("not a receipt: %v", err)
		}
		receipts <- r
		return smpp.StatusOK
	}))
	if err := waitBound(t, c, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ids := map[string]bool{}
	for _, m := range []smpp.Message{
		{Dst: "254700000001", Text: "Maize 3400"},
		{Dst: "254700000001", Text: "Maize 3400"}, // the duplicate
		{Dst: "254700000002", Text: "Maize 3400"},
		{Dst: "254700000001", Text: "Maize 3500"}, // another text: not a duplicate
	} {
		res, err := c.Send(ctx, m)
		if err != nil {
			t.Fatalf("send: %v", err)
		}
		ids[res.IDs[0]] = true
	}
	if len(ids) != 4 {
		t.Fatalf("ids %v: want 4 distinct", ids)
	}
	for range 4 {
		select {
		case r := <-receipts:
			if !ids[r.ID] || r.State != smpp.MsgDelivered || r.Stat != "DELIVRD" {
				t.Errorf("receipt %+v: want DELIVRD for one of %v", r, ids)
			}
			delete(ids, r.ID)
		case <-time.After(5 * time.Second):
			t.Fatalf("receipts missing for %v", ids)
		}
	}
	st := s.eventually(t, "4 receipts acked", func(st stats) bool { return st.ReceiptsAcked == 4 })
	if st.Submits != 4 || st.Unique != 3 || st.Duplicates != 1 || st.ReceiptsSent != 4 {
		t.Errorf("stats %+v: want 4 submits, 3 unique, 1 duplicate, 4 receipts", st)
	}
	if st.FirstMS == 0 || st.LastMS < st.FirstMS {
		t.Errorf("first %v last %v: want first <= last, both set", st.FirstMS, st.LastMS)
	}
	if before := s.do(t, http.MethodPost, "/reset"); before.Submits != 4 {
		t.Errorf("reset returned %+v: want the counts before it", before)
	}
	if st := s.do(t, http.MethodGet, "/stats"); st.Submits != 0 || st.Unique != 0 || st.ReceiptsAcked != 0 {
		t.Errorf("after reset %+v: want zero", st)
	}
	s.do(t, http.MethodGet, "/dlr?type=1") // Kannel's dlr-url; it answers text, not stats
	if st := s.do(t, http.MethodGet, "/stats"); st.DLRCallbacks != 1 || st.DLRCallbacksDelivered != 1 {
		t.Errorf("after one /dlr?type=1: %+v", st)
	}
}

// Binds are checked against the list, and /refuse keeps one system_id
// out (its sessions closed, new binds refused) until /accept.
func TestSinkBindsAndRefuse(t *testing.T) {
	s := startSink(t)
	bad := client(t, s, "nobody", nil)
	if err := waitBound(t, bad, 300*time.Millisecond); err == nil {
		t.Fatal("a system_id not in the list bound")
	}
	s.eventually(t, "a bind failure counted", func(st stats) bool { return st.BindFailures >= 1 })

	c := client(t, s, "ussdgw", nil)
	if err := waitBound(t, c, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	s.do(t, http.MethodPost, "/refuse?system_id=ussdgw")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	_, err := c.Send(ctx, smpp.Message{Dst: "254700000001", Text: "held"})
	cancel()
	if err == nil {
		t.Fatal("a submit went through while the sink refused the bind")
	}
	s.do(t, http.MethodPost, "/accept?system_id=ussdgw")
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.Send(ctx, smpp.Message{Dst: "254700000001", Text: "after"}); err != nil {
		t.Fatalf("after /accept: %v", err)
	}
	if st := s.do(t, http.MethodGet, "/stats"); st.Submits != 1 {
		t.Errorf("stats %+v: want only the submit after /accept", st)
	}
}
