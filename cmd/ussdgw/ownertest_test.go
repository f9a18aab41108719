package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// copyAppointments copies examples/appointments to a temporary folder
// and returns its config's path.
func copyAppointments(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	src := "../../examples/appointments"
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	must(t, err)
	return filepath.Join(dst, "gateway.yaml")
}

func edit(t *testing.T, file, old, new string) {
	t.Helper()
	data, err := os.ReadFile(file)
	must(t, err)
	if !bytes.Contains(data, []byte(old)) {
		t.Fatalf("%s has no %q", file, old)
	}
	must(t, os.WriteFile(file, bytes.Replace(data, []byte(old), []byte(new), 1), 0o644))
}

func ownerTestRun(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(context.Background(), append([]string{"test"}, args...), env(nil), &out, &out, nil)
	return out.String(), err
}

// TestOwnerTestFailures: what a service owner sees when a transcript
// fails: the file and line, the screen as a diff, the call no fixture
// answers with the fixtures there are; the exit status says so.
func TestOwnerTestFailures(t *testing.T) {
	cfg := copyAppointments(t)
	dir := filepath.Join(filepath.Dir(cfg), "flows", "transcripts")
	book := filepath.Join(dir, "book-en.txt")
	edit(t, book, "2. Book an appointment", "2. Book a visit")
	edit(t, filepath.Join(dir, "fixtures.yaml"), "    - op: book\n      result: {ref: BK-2041}\n", "")
	out, err := ownerTestRun(t, "-config", cfg)
	if !errors.Is(err, errUsage) {
		t.Fatalf("want the failure exit, got %v\n%s", err, out)
	}
	for _, want := range []string{
		"FAIL " + book + "\n",
		book + ":2: > *388#: the screen differs (- expected, + got):\n      CON Clinic appointments\n      1. My next appointment\n    - 2. Book a visit\n    + 2. Book an appointment\n      3. Language\n",
		book + `:24: no fixture answers clinic book {msisdn: "254700000001", slot: "s1"}; ` + filepath.Join(dir, "fixtures.yaml") + " has for clinic:\n",
		filepath.Join(dir, "fixtures.yaml") + `:19: book {slot: "s2"}`,
		"    + END Sorry, the service is not available right now.",
		"0 passed, 2 failed\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks\n%s\nin\n%s", want, out)
		}
	}
}

// TestOwnerTestUpdate: -update writes the screens of a transcript that has
// only what the user types, and the next run passes.
func TestOwnerTestUpdate(t *testing.T) {
	cfg := copyAppointments(t)
	dir := filepath.Join(filepath.Dir(cfg), "flows", "transcripts")
	file := filepath.Join(dir, "new.txt")
	must(t, os.WriteFile(file, []byte("# new\n> *388#\n> 1\n"), 0o644))
	out, err := ownerTestRun(t, "-config", cfg, file)
	if !errors.Is(err, errUsage) || !strings.Contains(out, file+":2: > *388#: no screen written after it") {
		t.Fatalf("a transcript without screens must fail and say so: %v\n%s", err, out)
	}
	if out, err := ownerTestRun(t, "-config", cfg, file, "-update"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	got, _ := os.ReadFile(file)
	want := "# new\n> *388#\nCON Clinic appointments\n1. My next appointment\n2. Book an appointment\n3. Language\n> 1\nCON Your next appointment: 2026-12-03 at 09:30, Kibera Health Centre.\n1. Book another\n0. Back\n00. Main menu\n"
	if string(got) != want {
		t.Errorf("written:\n%s\nwant:\n%s", got, want)
	}
	if out, err := ownerTestRun(t, "-config", cfg, file); err != nil || !strings.Contains(out, "1 passed, 0 failed") {
		t.Errorf("after -update: %v\n%s", err, out)
	}
}

// TestOwnerTestSetupErrors: problems with the setup, not a transcript,
// are errors that say where.
func TestOwnerTestSetupErrors(t *testing.T) {
	cfg := copyAppointments(t)
	dir := filepath.Join(filepath.Dir(cfg), "flows", "transcripts")
	badFx := filepath.Join(t.TempDir(), "fx.yaml")
	must(t, os.WriteFile(badFx, []byte("adapters:\n  crm:\n    - error: not_found\n"), 0o644))
	typo := filepath.Join(t.TempDir(), "fx.yaml")
	must(t, os.WriteFile(typo, []byte("adapters:\n  clinic:\n    - op: next\n      reslt: {}\n"), 0o644))
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"no transcripts folder", []string{"-flows", t.TempDir()}, "transcripts: "},
		{"empty folder", []string{"-config", cfg, t.TempDir()}, "no transcripts (*.txt) in /"},
		{"fixtures for an adapter the config lacks", []string{"-config", cfg, "-fixtures", badFx, dir}, badFx + `: adapter "crm" is not in the config (it has: clinic)`},
		{"a typo in the fixtures", []string{"-config", cfg, "-fixtures", typo, dir}, typo + `:4:7: adapters.clinic: unknown key "reslt"`},
		{"bad -now", []string{"-config", cfg, "-now", "monday"}, `-now "monday"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, err := ownerTestRun(t, tt.args...)
			if err == nil || errors.Is(err, errUsage) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v (%s), want an error with %q", err, out, tt.want)
			}
		})
	}
}

func TestLineDiff(t *testing.T) {
	for _, tt := range []struct{ want, got, diff string }{
		{"a\nb\nc", "a\nb\nc", "      a\n      b\n      c"},
		{"a\nb\nc", "a\nB\nc", "      a\n    - b\n    + B\n      c"},
		{"a\nc", "a\nb\nc", "      a\n    + b\n      c"},
		{"a\nb\nc", "a\nc", "      a\n    - b\n      c"},
		{"CON x", "END x", "    - CON x\n    + END x"},
	} {
		if d := lineDiff(tt.want, tt.got); d != tt.diff {
			t.Errorf("lineDiff(%q, %q) =\n%s\nwant\n%s", tt.want, tt.got, d, tt.diff)
		}
	}
}

// TestOwnerTestUpdateRefusesBrokenPlay: -update leaves a transcript that
// cannot be played to the end as it was, and says why.
func TestOwnerTestUpdateRefusesBrokenPlay(t *testing.T) {
	cfg := copyAppointments(t)
	file := filepath.Join(filepath.Dir(cfg), "flows", "transcripts", "broken.txt")
	src := "> *388#\n@ sms\n> 1\n"
	must(t, os.WriteFile(file, []byte(src), 0o644))
	out, err := ownerTestRun(t, "-config", cfg, "-update", file)
	if !errors.Is(err, errUsage) || !strings.Contains(out, file+":2: @ sms: no SMS was sent") || !strings.Contains(out, "1 could not be played to the end") {
		t.Errorf("got %v\n%s", err, out)
	}
	if got, _ := os.ReadFile(file); string(got) != src {
		t.Errorf("the transcript was rewritten:\n%s", got)
	}
}
