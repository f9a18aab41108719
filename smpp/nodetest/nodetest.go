// Package nodetest runs an SMSC/USSDC for tests: smpp/testdata/smsc/smsc.js,
// built on node-smpp 0.5.1, an SMPP implementation we did not write. A test
// starts one with Start, points a Client at Addr, and drives it with JSON
// commands (send a deliver_sm, answer submits with a status, drop the
// connection) while it reports what happens as events (binds, submit_sm as
// node-smpp decoded them, whole reassembled messages, responses). A test
// helper: it imports nothing of ours; only tests import it.
//
// Start skips the test when node is not installed. When the node package is
// not installed yet and npm is, it runs `npm ci` in the script's folder
// once (tests in several packages may ask at the same time; one installs,
// the others wait), so that `go test ./...` works on a fresh checkout.
package nodetest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Dir is the folder of the SMSC script and its package.json.
func Dir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return filepath.Join("testdata", "smsc")
	}
	return filepath.Join(filepath.Dir(file), "..", "testdata", "smsc")
}

// SMSC is a running smsc.js. Its methods are safe for concurrent use; they
// fail the test (t.Fatal) when the SMSC does not answer in time, so call
// them from the test's goroutine.
type SMSC struct {
	t     testing.TB
	port  int
	stdin io.WriteCloser
	wmu   sync.Mutex

	mu     sync.Mutex
	events []Event
	notify chan struct{} // closed and replaced on each event
	tag    int
	stderr bytes.Buffer
}

// Event is one JSON line from the SMSC, e.g. {"ev":"submit_sm",...}.
type Event map[string]any

// Str returns a string field, or "".
func (e Event) Str(k string) string {
	s, _ := e[k].(string)
	return s
}

// Num returns a number field, or 0.
func (e Event) Num(k string) int {
	f, _ := e[k].(float64)
	return int(f)
}

// Has reports whether the field is present.
func (e Event) Has(k string) bool {
	_, ok := e[k]
	return ok
}

// IsEv matches events named name.
func IsEv(name string) func(Event) bool {
	return func(e Event) bool { return e.Str("ev") == name }
}

// Start starts an SMSC for the test and stops it at cleanup. It skips the
// test when node, or the node package that cannot be installed, is missing.
func Start(t testing.TB) *SMSC {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the node-smpp SMSC tests need node and `npm ci --prefix smpp/testdata/smsc`")
	}
	dir := Dir()
	if err := ensureModules(dir); err != nil {
		t.Skipf("the node-smpp SMSC is not installed and could not be (%v): run `npm ci --prefix %s`", err, dir)
	}
	s := &SMSC{t: t, notify: make(chan struct{})}
	cmd := exec.Command(node, filepath.Join(dir, "smsc.js"))
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
			var e Event
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
	e := s.WaitFor(0, 10*time.Second, "listening", IsEv("listening"))
	s.port = e.Num("port")
	return s
}

var (
	installMu   sync.Mutex
	installErrs = map[string]error{}
)

// ensureModules installs the node package into dir with `npm ci` when it
// is missing, once per process; across processes (go test runs packages
// in parallel) a lock file lets one install while the others wait.
func ensureModules(dir string) error {
	marker := filepath.Join(dir, "node_modules", "smpp", "package.json")
	if _, err := os.Stat(marker); err == nil {
		return nil
	}
	installMu.Lock()
	defer installMu.Unlock()
	if err, done := installErrs[dir]; done {
		return err
	}
	err := install(dir, marker)
	installErrs[dir] = err
	return err
}

func install(dir, marker string) error {
	npm, err := exec.LookPath("npm")
	if err != nil {
		return errors.New("npm is not installed")
	}
	sum := sha256.Sum256([]byte(dir))
	lock := filepath.Join(os.TempDir(), "ussdgw-npm-ci-"+hex.EncodeToString(sum[:8])+".lock")
	deadline := time.Now().Add(3 * time.Minute)
	for {
		f, err := os.OpenFile(lock, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err == nil {
			f.Close()
			break
		}
		if _, err := os.Stat(marker); err == nil {
			return nil // another process installed it
		}
		if st, err := os.Stat(lock); err == nil && time.Since(st.ModTime()) > 5*time.Minute {
			os.Remove(lock) // left by a killed run
			continue
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("waited 3m for another npm ci (lock %s)", lock)
		}
		time.Sleep(200 * time.Millisecond)
	}
	defer os.Remove(lock)
	if _, err := os.Stat(marker); err == nil {
		return nil
	}
	fmt.Fprintf(os.Stderr, "nodetest: %s/node_modules is missing: running npm ci --prefix %s (once)\n", dir, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--prefix", dir, "--no-audit", "--no-fund", "--loglevel=error")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("npm ci: %w: %s", err, bytes.TrimSpace(out))
	}
	if _, err := os.Stat(marker); err != nil {
		return fmt.Errorf("npm ci did not install smpp: %w", err)
	}
	return nil
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

// Addr is the SMSC's host:port.
func (s *SMSC) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// Mark returns the index the next event will have.
func (s *SMSC) Mark() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.events)
}

// Do sends a command and waits until the SMSC has carried it out. See
// smsc.js for the commands.
func (s *SMSC) Do(cmd map[string]any) {
	s.t.Helper()
	s.mu.Lock()
	s.tag++
	tag := fmt.Sprintf("t%d", s.tag)
	from := len(s.events)
	s.mu.Unlock()
	cmd["tag"] = tag
	b, _ := json.Marshal(cmd)
	s.wmu.Lock()
	_, err := s.stdin.Write(append(b, '\n'))
	s.wmu.Unlock()
	if err != nil {
		s.t.Fatalf("writing to node smsc: %v", err)
	}
	if cmd["cmd"] == "stats" || cmd["cmd"] == "counts" {
		return
	}
	s.WaitFor(from, 10*time.Second, "done "+tag, func(e Event) bool { return e.Str("ev") == "done" && e.Str("tag") == tag })
}

// Send sends a PDU from the SMSC (fields by node-smpp name; hex fields are
// Buffers given in hex) and returns the tag of its "response" event.
// Options in opts: "session" (the SMSC session to send on; default the
// newest that can receive), "seq" (force the sequence number).
func (s *SMSC) Send(command string, fields map[string]any, hexFields map[string]string, opts ...map[string]any) string {
	s.t.Helper()
	s.mu.Lock()
	tag := fmt.Sprintf("t%d", s.tag+1)
	s.mu.Unlock()
	cmd := map[string]any{"cmd": "send", "command": command, "fields": fields, "hex": hexFields}
	for _, o := range opts {
		for k, v := range o {
			cmd[k] = v
		}
	}
	s.Do(cmd)
	return tag
}

// Response waits for the response to the PDU sent with tag.
func (s *SMSC) Response(from int, tag string, timeout time.Duration) Event {
	s.t.Helper()
	return s.WaitFor(from, timeout, "response "+tag, func(e Event) bool { return e.Str("ev") == "response" && e.Str("tag") == tag })
}

// Stats asks for the SMSC's counters.
func (s *SMSC) Stats() Event {
	s.t.Helper()
	from := s.Mark()
	s.Do(map[string]any{"cmd": "stats"})
	return s.WaitFor(from, 10*time.Second, "stats", IsEv("stats"))
}

// Counts asks for what the SMSC counted since {"cmd":"set","count":true}:
// total and distinct texts it accepted (answered ESME_ROK), dups (the
// texts accepted more than once, each {text, n}) and dropped (the texts
// of submits it took and dropped the connection on, unanswered).
func (s *SMSC) Counts() Event {
	s.t.Helper()
	from := s.Mark()
	s.Do(map[string]any{"cmd": "counts"})
	return s.WaitFor(from, 10*time.Second, "counts", IsEv("counts"))
}

// Sync returns once every event the SMSC emitted before it has been read:
// the SMSC writes events in order, so after the answer to a command all
// earlier events are in.
func (s *SMSC) Sync() { s.Stats() }

// WaitFor waits for the first event at index from or later that matches.
func (s *SMSC) WaitFor(from int, timeout time.Duration, what string, match func(Event) bool) Event {
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

// WaitCount waits until n events from index from match, and returns them.
func (s *SMSC) WaitCount(from, n int, timeout time.Duration, what string, match func(Event) bool) []Event {
	s.t.Helper()
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		ch := s.notify
		s.mu.Unlock()
		got := s.Filter(from, match)
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

// Filter returns the events from index from that match.
func (s *SMSC) Filter(from int, match func(Event) bool) []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Event
	for _, e := range s.events[min(from, len(s.events)):] {
		if match(e) {
			out = append(out, e)
		}
	}
	return out
}
