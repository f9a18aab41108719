package ussd_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ussdgw/ussdgw/flows"
	"github.com/ussdgw/ussdgw/ussd"
	"github.com/ussdgw/ussdgw/ussd/transcript"
)

// quizFlow is a service in version v: version 2 renames the question node,
// so a session on version 1 cannot go on in version 2.
func quizFlow(t testing.TB, v int) *flows.Set {
	t.Helper()
	src := fmt.Sprintf(`id: quiz
codes: ["*600#"]
languages: [en]
nodes:
  main:
    type: menu
    text: {en: "Quiz v%[1]d"}
    options:
      - {label: {en: Start}, next: q%[1]d}
  q%[1]d:
    type: menu
    text: {en: "Question of v%[1]d"}
    options:
      - {label: {en: A}, next: done}
  done:
    type: end
    text: {en: "Done with v%[1]d"}
`, v)
	set, err := flows.Compile(map[string][]byte{"quiz.yaml": []byte(src)}, flows.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

type dialler struct {
	t *testing.T
	m *ussd.Manager
}

func (d dialler) step(session, dialled, input, want string) ussd.Response {
	d.t.Helper()
	req := ussd.Request{SessionID: session, MSISDN: "254700000001", Input: input}
	if dialled != "" {
		req.Dialled, req.New = dialled, true
	}
	resp, err := d.m.Handle(context.Background(), req)
	if err != nil {
		d.t.Fatalf("%s %q: %v", session, input, err)
	}
	if !strings.Contains(resp.Text, want) {
		d.t.Fatalf("%s %q: got %q, want it to contain %q", session, input, resp.Text, want)
	}
	return resp
}

// The versions a session runs on, case by case: a reload changes nothing
// for the sessions in progress, new sessions get the new version, and a
// session whose version is gone is told so.
func TestFlowVersions(t *testing.T) {
	v1, v2 := quizFlow(t, 1), quizFlow(t, 2)
	t.Run("a session in progress finishes on its version; a new one gets the new version", func(t *testing.T) {
		store := ussd.NewMemoryStore()
		defer store.Close()
		m := ussd.NewManager(ussd.Config{Store: store, Flows: v1})
		d := dialler{t, m}
		d.step("s1", "*600#", "", "Quiz v1")
		d.step("s1", "", "1", "Question of v1")
		m.SetFlows(v2)
		if kept := m.KeptVersions(); len(kept) != 1 || kept[0].Service != "quiz" {
			t.Errorf("kept %+v", kept)
		}
		d.step("s1", "", "1", "Done with v1")
		d2 := dialler{t, m}
		d2.step("s2", "*600#", "", "Quiz v2")
		d2.step("s2", "", "1", "Question of v2")
	})
	t.Run("a replaced version is forgotten once unused for a session's life", func(t *testing.T) {
		clock := transcript.NewClock(time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC))
		store := ussd.NewMemoryStore()
		defer store.Close()
		m := ussd.NewManager(ussd.Config{Store: store, Flows: v1, Now: clock.Now, SessionTimeout: 2 * time.Minute, ResumeWindow: time.Minute})
		d := dialler{t, m}
		d.step("s1", "*600#", "", "Quiz v1")
		m.SetFlows(v2)
		clock.Advance(90 * time.Second)
		d.step("s1", "", "1", "Question of v1") // used: kept another 3 minutes from now
		clock.Advance(150 * time.Second)
		m.SetFlows(v2)
		if n := len(m.KeptVersions()); n != 1 {
			t.Fatalf("%d versions kept 150 s after the last use, want 1", n)
		}
		clock.Advance(31 * time.Second)
		m.SetFlows(v2)
		if kept := m.KeptVersions(); len(kept) != 0 {
			t.Errorf("kept %+v past a session's life", kept)
		}
	})
	t.Run("a reload back to a kept version serves it as the current one", func(t *testing.T) {
		store := ussd.NewMemoryStore()
		defer store.Close()
		m := ussd.NewManager(ussd.Config{Store: store, Flows: v1})
		m.SetFlows(v2)
		m.SetFlows(quizFlow(t, 1))
		kept := m.KeptVersions()
		if len(kept) != 1 || kept[0].Version != v2.Flows()[0].Version {
			t.Errorf("kept %+v, want only v2", kept)
		}
	})
	t.Run("after a restart without the version the user is told, not sent to the start", func(t *testing.T) {
		store := ussd.NewMemoryStore()
		defer store.Close()
		before := dialler{t, ussd.NewManager(ussd.Config{Store: store, Flows: v1})}
		before.step("s1", "*600#", "", "Quiz v1")
		after := dialler{t, ussd.NewManager(ussd.Config{Store: store, Flows: v2})}
		resp := after.step("s1", "", "1", "This service was updated while you were using it. Please dial again.")
		if !resp.End || resp.Service != "quiz" {
			t.Errorf("%+v", resp)
		}
		after.step("s2", "*600#", "", "Quiz v2") // and dialling again starts v2
	})
	t.Run("an instance behind on the version loads the flows again", func(t *testing.T) {
		store := ussd.NewMemoryStore()
		defer store.Close()
		a := dialler{t, ussd.NewManager(ussd.Config{Store: store, Flows: v2})}
		refreshed := 0
		var b *ussd.Manager
		b = ussd.NewManager(ussd.Config{Store: store, Flows: v1, Refresh: func(context.Context) *flows.Set {
			refreshed++
			b.SetFlows(v2) // what the reloader does when the files have changed
			return v2
		}})
		a.step("s1", "*600#", "", "Quiz v2")
		dialler{t, b}.step("s1", "", "1", "Question of v2")
		if refreshed != 1 {
			t.Errorf("refreshed %d times", refreshed)
		}
	})
	t.Run("a session cut on v1 resumes on v1 after the reload", func(t *testing.T) {
		d := cutThenReloaded(t, v1, v2)
		d.step("s2", "*600#", "", "unfinished session")
		d.step("s2", "", "1", "Question of v1")
		d.step("s2", "", "1", "Done with v1")
		d.step("s3", "*600#", "", "Quiz v2")
	})
	t.Run("starting again from a resume offer starts the new version", func(t *testing.T) {
		d := cutThenReloaded(t, v1, v2)
		d.step("s2", "*600#", "", "unfinished session")
		d.step("s2", "", "2", "Quiz v2")
		d.step("s2", "", "1", "Question of v2")
	})
}

// cutThenReloaded starts a session on v1, answers its first screen, has
// the network cut it, and swaps v2 in; the next dial gets the resume
// offer.
func cutThenReloaded(t *testing.T, v1, v2 *flows.Set) dialler {
	t.Helper()
	store := ussd.NewMemoryStore()
	t.Cleanup(func() { store.Close() })
	m := ussd.NewManager(ussd.Config{Store: store, Flows: v1})
	d := dialler{t, m}
	d.step("s1", "*600#", "", "Quiz v1")
	d.step("s1", "", "1", "Question of v1")
	if err := m.Abort(context.Background(), "254700000001", "s1"); err != nil {
		t.Fatal(err)
	}
	m.SetFlows(v2)
	return d
}
