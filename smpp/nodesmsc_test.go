package smpp

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"
)

// nodeSMSC drives testdata/smsc/smsc.js: an SMSC built on node-smpp 0.5.1.
type nodeSMSC struct {
	t     testing.TB
	port  int
	stdin io.WriteCloser

	mu     sync.Mutex
	events []event
	notify chan struct{} // closed and replaced on each event
	tag    int
	stderr bytes.Buffer
}

// event is one JSON line from the SMSC.
type event map[string]any

func (e event) str(k string) string {
	s, _ := e[k].(string)
	return s
}

func (e event) num(k string) int {
	f, _ := e[k].(float64)
	return int(f)
}

// startNodeSMSC starts the node SMSC, or skips the test when node or the
// node package is missing.
func startNodeSMSC(t testing.TB) *nodeSMSC {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the node-smpp SMSC tests need node and `npm ci --prefix smpp/testdata/smsc`")
	}
	if _, err := os.Stat("testdata/smsc/node_modules/smpp"); err != nil {
		t.Skip("smpp/testdata/smsc/node_modules is missing: run `npm ci --prefix smpp/testdata/smsc`")
	}
	s := &nodeSMSC{t: t, notify: make(chan struct{})}
	cmd := exec.Command(node, "testdata/smsc/smsc.js")
	cmd.Stderr = &lockedWriter{mu: &s.mu, w: &s.stderr}
	s.stdin, err = cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting node smsc: %v", err)
	}
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			var e event
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				continue
			}
			s.mu.Lock()
			s.events = append(s.events, e)
			close(s.notify)
			s.notify = make(chan struct{})
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = s.stdin.Close() // the script exits when stdin closes
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		<-readDone
		s.mu.Lock()
		defer s.mu.Unlock()
		if t.Failed() {
			t.Logf("node smsc stderr:\n%s", s.stderr.String())
			for _, e := range s.events[max(0, len(s.events)-40):] {
				t.Logf("node event: %v", e)
			}
		}
	})
	e := s.waitFor(0, 10*time.Second, "listening", func(e event) bool { return e.str("ev") == "listening" })
	s.port = e.num("port")
	return s
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (s *nodeSMSC) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// mark returns the index the next event will have.
func (s *nodeSMSC) mark() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.events)
}

// do sends a command and waits until the SMSC has carried it out.
func (s *nodeSMSC) do(cmd map[string]any) {
	s.t.Helper()
	s.mu.Lock()
	s.tag++
	tag := fmt.Sprintf("t%d", s.tag)
	from := len(s.events)
	s.mu.Unlock()
	cmd["tag"] = tag
	b, _ := json.Marshal(cmd)
	if _, err := s.stdin.Write(append(b, '\n')); err != nil {
		s.t.Fatalf("writing to node smsc: %v", err)
	}
	if cmd["cmd"] == "stats" {
		return
	}
	s.waitFor(from, 10*time.Second, "done "+tag, func(e event) bool { return e.str("ev") == "done" && e.str("tag") == tag })
}

// send sends a PDU from the SMSC and returns the tag of its response event.
func (s *nodeSMSC) send(command string, fields map[string]any, hex map[string]string) string {
	s.t.Helper()
	s.mu.Lock()
	tag := fmt.Sprintf("t%d", s.tag+1)
	s.mu.Unlock()
	s.do(map[string]any{"cmd": "send", "command": command, "fields": fields, "hex": hex})
	return tag
}

// stats asks for the SMSC's counters.
func (s *nodeSMSC) stats() event {
	s.t.Helper()
	from := s.mark()
	s.do(map[string]any{"cmd": "stats"})
	return s.waitFor(from, 10*time.Second, "stats", func(e event) bool { return e.str("ev") == "stats" })
}

// sync returns once every event the SMSC emitted before it has been read:
// the SMSC writes events in order, so after the answer to a command all
// earlier events are in.
func (s *nodeSMSC) sync() { s.stats() }

// waitFor waits for the first event at index from or later that matches.
func (s *nodeSMSC) waitFor(from int, timeout time.Duration, what string, match func(event) bool) event {
	s.t.Helper()
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		for _, e := range s.events[min(from, len(s.events)):] {
			if match(e) {
				s.mu.Unlock()
				return e
			}
		}
		ch := s.notify
		s.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			s.t.Fatalf("node smsc: no %s event within %s", what, timeout)
		}
	}
}

// waitCount waits until n events from index from match.
func (s *nodeSMSC) waitCount(from, n int, timeout time.Duration, what string, match func(event) bool) []event {
	s.t.Helper()
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		ch := s.notify
		s.mu.Unlock()
		got := s.filter(from, match)
		if len(got) >= n {
			return got
		}
		select {
		case <-ch:
		case <-deadline:
			s.t.Fatalf("node smsc: %d of %d %s events within %s", len(got), n, what, timeout)
		}
	}
}

// filter returns the events from index from that match.
func (s *nodeSMSC) filter(from int, match func(event) bool) []event {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []event
	for _, e := range s.events[min(from, len(s.events)):] {
		if match(e) {
			out = append(out, e)
		}
	}
	return out
}

func isEv(name string) func(event) bool {
	return func(e event) bool { return e.str("ev") == name }
}
