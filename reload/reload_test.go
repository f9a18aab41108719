package reload

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/ussdgw/ussdgw/flows"
)

// flowFile is a one-service flow whose greeting says v.
func flowFile(v string) string {
	return fmt.Sprintf(`id: quiz
codes: ["*600#"]
languages: [en]
nodes:
  main:
    type: end
    text: {en: "Quiz %s"}
`, v)
}

// broken has a node pointing nowhere: it parses, and the checks refuse it.
const broken = `id: quiz
codes: ["*600#"]
languages: [en]
nodes:
  main:
    type: menu
    text: {en: "Quiz"}
    options:
      - {label: {en: Go}, next: nowhere}
`

// write replaces name in dir in one step (a rename), as editors and
// deployment tools do, so a reload never reads half a file.
func write(t *testing.T, dir, name, content string) {
	t.Helper()
	tmp := filepath.Join(dir, ".tmp-"+name)
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

type rig struct {
	t       *testing.T
	dir     string
	r       *Reloader
	mu      sync.Mutex
	applied []*flows.Set
	logs    *bytes.Buffer
}

func newRig(t *testing.T, now func() time.Time) *rig {
	dir := t.TempDir()
	write(t, dir, "quiz.yaml", flowFile("v1"))
	load := func() (*flows.Set, error) { return flows.Load(dir, flows.Options{}) }
	initial, err := load()
	if err != nil {
		t.Fatal(err)
	}
	g := &rig{t: t, dir: dir, logs: &bytes.Buffer{}}
	var logMu sync.Mutex
	g.r = New(Config{Dir: dir, Load: load, Debounce: 20 * time.Millisecond, Now: now,
		Apply: func(s *flows.Set) { g.mu.Lock(); g.applied = append(g.applied, s); g.mu.Unlock() },
		Log:   slog.New(slog.NewTextHandler(lockedWriter{&logMu, g.logs}, nil))}, initial)
	return g
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (g *rig) greeting() string {
	f, _ := g.r.Current().Flow("quiz")
	s, err := f.Start(context.Background(), &flows.Env{}, &flows.State{Vars: map[string]string{}})
	if err != nil {
		g.t.Fatal(err)
	}
	return s.Text
}

// waitFor waits, reload by reload, until ok holds of the status.
func (g *rig) waitFor(what string, ok func(Status) bool) Status {
	g.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		next := g.r.Next()
		if st := g.r.Status(); ok(st) {
			return st
		}
		select {
		case <-next:
		case <-deadline:
			g.t.Fatalf("%s: not within 10s; status %+v", what, g.r.Status())
		}
	}
}

// The watch reloads on a change, refuses a broken edit while the set
// before keeps serving, and takes the fixed file again.
func TestWatch(t *testing.T) {
	g := newRig(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done, err := g.r.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); <-done }()

	write(t, g.dir, "quiz.yaml", flowFile("v2"))
	st := g.waitFor("v2 swapped in", func(s Status) bool { return s.Generation == 1 })
	if st.Cause != CauseFile || g.greeting() != "Quiz v2" || len(g.applied) != 1 {
		t.Errorf("after v2: cause %q, greeting %q, %d applied", st.Cause, g.greeting(), len(g.applied))
	}

	write(t, g.dir, "quiz.yaml", broken)
	st = g.waitFor("the broken edit refused", func(s Status) bool { return s.Refused != nil })
	if g.greeting() != "Quiz v2" || st.Generation != 1 {
		t.Errorf("a broken edit changed what is served: %q, generation %d", g.greeting(), st.Generation)
	}
	if len(st.Refused.Problems) != 1 || !strings.HasPrefix(st.Refused.Problems[0], "quiz.yaml:9:") ||
		!strings.Contains(st.Refused.Problems[0], "nowhere") {
		t.Errorf("problems %q: want one, positioned in quiz.yaml (relative to the directory)", st.Refused.Problems)
	}
	if !strings.Contains(g.logs.String(), `level=WARN msg="flows not reloaded: the services loaded before keep serving" comp=reload cause="file change" problems=1`) {
		t.Errorf("no warning in the log:\n%s", g.logs.String())
	}

	write(t, g.dir, "quiz.yaml", flowFile("v3"))
	st = g.waitFor("v3 swapped in", func(s Status) bool { return s.Generation == 2 })
	if st.Refused != nil || g.greeting() != "Quiz v3" {
		t.Errorf("after the fix: refused %+v, greeting %q", st.Refused, g.greeting())
	}
}

// A reload by hand (SIGHUP, the API) reports what changed; nothing
// changed swaps nothing in; a removed service is listed.
func TestReload(t *testing.T) {
	g := newRig(t, nil)
	ctx := context.Background()
	res, err := g.r.Reload(ctx, CauseAPI)
	if err != nil || len(res.Changed) != 0 || res.Generation != 0 || len(g.applied) != 0 || res.Kept == nil {
		t.Fatalf("unchanged files: %+v %v, %d applied", res, err, len(g.applied))
	}
	write(t, g.dir, "quiz.yaml", flowFile("v2"))
	write(t, g.dir, "other.yaml", strings.ReplaceAll(strings.ReplaceAll(flowFile("x"), "quiz", "other"), "*600#", "*601#"))
	res, err = g.r.Reload(ctx, CauseSignal)
	v2, _ := g.r.Current().Flow("quiz")
	other, _ := g.r.Current().Flow("other")
	want := []string{"other@" + other.Version, "quiz@" + v2.Version}
	if err != nil || fmt.Sprint(res.Changed) != fmt.Sprint(want) || res.Cause != CauseSignal || res.Services["quiz"] != v2.Version {
		t.Fatalf("got %+v %v, want changed %v", res, err, want)
	}
	if err := os.Remove(filepath.Join(g.dir, "other.yaml")); err != nil {
		t.Fatal(err)
	}
	res, _ = g.r.Reload(ctx, CauseAPI)
	if fmt.Sprint(res.Changed) != "[other (removed)]" {
		t.Errorf("changed %v", res.Changed)
	}
	write(t, g.dir, "quiz.yaml", "id: [")
	res, err = g.r.Reload(ctx, CauseAPI)
	if err == nil || !strings.Contains(err.Error(), "flows not reloaded") || res.Refused == nil || res.Refused.Cause != CauseAPI {
		t.Errorf("broken: %+v %v", res, err)
	}
	if g.greeting() != "Quiz v2" {
		t.Errorf("serving %q after a refused reload", g.greeting())
	}
}

// Refresh reloads at most once per RefreshEvery, however many sessions
// of an unknown version ask.
func TestRefreshRate(t *testing.T) {
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	g := newRig(t, clock)
	write(t, g.dir, "quiz.yaml", flowFile("v2"))
	for range 5 {
		g.r.Refresh(context.Background())
	}
	if st := g.r.Status(); st.Attempts != 1 || st.Generation != 1 || st.Cause != CauseRefresh {
		t.Errorf("after 5 refreshes at once: %+v", st)
	}
	write(t, g.dir, "quiz.yaml", flowFile("v3"))
	mu.Lock()
	now = now.Add(time.Second)
	mu.Unlock()
	if g.r.Refresh(context.Background()) == nil || g.greeting() != "Quiz v3" || g.r.Status().Attempts != 2 {
		t.Errorf("a second later: %+v", g.r.Status())
	}
}

// Which events of the flows directory count as a change.
func TestRelevant(t *testing.T) {
	for _, tt := range []struct {
		name string
		op   fsnotify.Op
		want bool
	}{
		{"flows/market.yaml", fsnotify.Write, true},
		{"flows/market.yml", fsnotify.Create, true},
		{"flows/market.yaml", fsnotify.Remove, true},
		{"flows/market.yaml", fsnotify.Rename, true},
		{"flows/market.yaml", fsnotify.Chmod, false},
		{"flows/.market.yaml.swp", fsnotify.Write, false},
		{"flows/.tmp-market.yaml", fsnotify.Create, false},
		{"flows/market.yaml~", fsnotify.Write, false},
		{"flows/4913", fsnotify.Create, false},
		{"flows/notes.txt", fsnotify.Write, false},
		{"flows/..data", fsnotify.Create, true}, // a Kubernetes ConfigMap's new revision
	} {
		if got := relevant(fsnotify.Event{Name: tt.name, Op: tt.op}); got != tt.want {
			t.Errorf("%s %s: %v, want %v", tt.op, tt.name, got, tt.want)
		}
	}
}
