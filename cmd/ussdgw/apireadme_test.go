package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ussdgw/ussdgw/consent"
	"github.com/ussdgw/ussdgw/internal/logcheck"
	mtq "github.com/ussdgw/ussdgw/outbox"
)

// apiDoc is the API reference whose examples TestAPIReadme runs.
const apiDoc = "../../api/README.md"

// docExample is a ```sh block of the API reference and the block after
// it: what the commands print.
type docExample struct {
	line      int
	cmd, want string
	json      bool
}

func readDocExamples(t *testing.T, path string) []docExample {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []docExample
	var pending *docExample
	var inBlock bool
	var kind string
	var block []string
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n++
		line := sc.Text()
		if strings.HasPrefix(line, "```") {
			if !inBlock {
				inBlock, kind, block = true, strings.TrimPrefix(line, "```"), nil
				continue
			}
			inBlock = false
			text := strings.Join(block, "\n")
			switch {
			case kind == "sh":
				pending = &docExample{line: n - len(block), cmd: text}
			case pending != nil && (kind == "" || kind == "json"):
				pending.want, pending.json = text, kind == "json"
				out = append(out, *pending)
				pending = nil
			}
			continue
		}
		if inBlock {
			block = append(block, line)
		} else if strings.TrimSpace(line) != "" {
			pending = nil
		}
	}
	return out
}

// TestAPIReadme runs the curl examples of the API reference, in order and
// in one shell, against the gateway as its run command wires it (on the
// shared Redis under a random prefix), with the ussdgw binary on the
// PATH for the key commands. Each answer must match the one the reference
// shows: JSON field by field, where "<...>" stands for any value; text
// line by line, where <...> stands for any word.
func TestAPIReadme(t *testing.T) {
	for _, tool := range []string{"curl", "bash", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skip(tool + " is not installed")
		}
	}
	examples := readDocExamples(t, apiDoc)
	if len(examples) < 8 {
		t.Fatalf("found %d examples with output in %s", len(examples), apiDoc)
	}
	url, prefix := testPrefix(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if out, err := exec.Command("go", "build", "-o", filepath.Join(bin, "ussdgw"), ".").CombinedOutput(); err != nil {
		t.Fatalf("building ussdgw: %v\n%s", err, out)
	}
	addr := serveInProcess(t, "-flows", "../../flows-examples", "-redis-url", url, "-redis-prefix", prefix)
	ctx := t.Context()
	// Two farmers follow maize prices at Eldoret (as the market menu
	// subscribes them).
	rc, err := redisClient(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	reg := consent.New(rc, prefix, consent.Options{})
	for _, sub := range []struct {
		msisdn string
		s      consent.Subscription
	}{
		{"254712345678", consent.Subscription{Service: "market", Topic: "prices:maize:eldoret", Label: "Maize at Eldoret", Lang: "en", Channel: "ussd",
			Params: map[string]string{"threshold": "5", "digest": "yes"}}},
		{"254722000001", consent.Subscription{Service: "market", Topic: "prices:maize:eldoret", Label: "Mahindi Eldoret", Lang: "sw", Channel: "ussd"}},
	} {
		if err := reg.Subscribe(ctx, sub.msisdn, sub.s); err != nil {
			t.Fatal(err)
		}
	}

	// A reply the SMSC refused for good: the dead letter of the reference
	// (the gateway runs no SMSC here, so a queue of the test's own on the
	// same keys makes it).
	q := mtq.New(rc, prefix, mtq.Options{Log: logcheck.New(t)})
	if _, _, err := q.Enqueue(ctx, mtq.Message{ID: "reply-1", MSISDN: "254712345678", Text: "Your order is confirmed", Kind: "reply"}); err != nil {
		t.Fatal(err)
	}
	qctx, qstop := context.WithCancel(ctx)
	qdone := make(chan struct{})
	go func() {
		defer close(qdone)
		_ = q.Run(qctx, mtq.SenderFunc(func(context.Context, string, string, string) error {
			return errors.New("invalid destination address")
		}))
	}()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if d, _ := q.Dead(ctx, 1); len(d) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the example's dead letter was not made")
		}
	}
	qstop()
	<-qdone

	runDocExamples(t, apiDoc, examples, bin, prefix, dir, addr, nil)
}

// runDocExamples runs a document's examples in one shell, in order, with
// the built ussdgw in bin on PATH, key prefix prefix and working
// directory dir; the documented 127.0.0.1:8080 becomes addr, a line that
// starts the gateway is left out (it runs already), and rewrite, if set,
// changes each command further. Each output must match what the document
// shows after its command.
func runDocExamples(t *testing.T, doc string, examples []docExample, bin, prefix, dir, addr string, rewrite func(string) string) {
	t.Helper()
	var script strings.Builder
	fmt.Fprintf(&script, "set -e\nexport PATH=%s:$PATH USSDGW_REDIS_PREFIX=%s\ncd %s\n", bin, prefix, dir)
	for i, ex := range examples {
		cmd := strings.ReplaceAll(ex.cmd, "127.0.0.1:8080", addr)
		cmd = regexp.MustCompile(`(?m)^ussdgw -listen .*&.*$`).ReplaceAllString(cmd, ": the gateway runs already")
		if rewrite != nil {
			cmd = rewrite(cmd)
		}
		fmt.Fprintf(&script, "echo '@@@ %d'\n%s\necho\n", i, cmd)
	}
	sh := exec.Command("bash", "-c", script.String())
	var stderr bytes.Buffer
	sh.Stderr = &stderr
	out, err := sh.Output()
	if err != nil {
		t.Fatalf("running the examples: %v\n%s\n%s", err, out, stderr.String())
	}
	parts := regexp.MustCompile(`(?m)^@@@ \d+\n`).Split(string(out), -1)[1:]
	if len(parts) != len(examples) {
		t.Fatalf("%d outputs for %d examples:\n%s", len(parts), len(examples), out)
	}
	for i, ex := range examples {
		got := strings.TrimSpace(parts[i])
		if ex.json {
			if err := matchJSONStream(ex.want, got); err != nil {
				t.Errorf("%s:%d: %v\nthe document shows\n%s\nthe gateway answers\n%s", doc, ex.line, err, ex.want, got)
			}
			continue
		}
		if err := matchText(ex.want, got); err != nil {
			t.Errorf("%s:%d: %v\nthe document shows\n%s\nthe command prints\n%s", doc, ex.line, err, ex.want, got)
		}
	}
}

// matchJSONStream compares the JSON values of want and got in order.
func matchJSONStream(want, got string) error {
	wd, gd := json.NewDecoder(strings.NewReader(want)), json.NewDecoder(strings.NewReader(got))
	for i := 0; ; i++ {
		var w, g any
		werr, gerr := wd.Decode(&w), gd.Decode(&g)
		if werr == io.EOF && gerr == io.EOF {
			return nil
		}
		if werr != nil {
			if werr == io.EOF {
				return fmt.Errorf("answer %d is more than the reference shows", i+1)
			}
			return fmt.Errorf("the reference's JSON: %v", werr)
		}
		if gerr != nil {
			return fmt.Errorf("answer %d: %v", i+1, gerr)
		}
		if err := matchJSON("", w, g); err != nil {
			return fmt.Errorf("answer %d: %v", i+1, err)
		}
	}
}

// matchJSON checks that got has every field of want with the same value;
// a want string like "<time>" matches any value.
func matchJSON(path string, want, got any) error {
	if s, ok := want.(string); ok && strings.HasPrefix(s, "<") && strings.HasSuffix(s, ">") && strings.Count(s, "<") == 1 {
		if got == nil {
			return fmt.Errorf("%s: missing", path)
		}
		return nil
	}
	if s, ok := want.(string); ok && strings.Contains(s, "<") {
		pat := regexp.MustCompile(`<[^>]*>`).ReplaceAllString(regexp.QuoteMeta(s), `\S+`)
		if g, ok := got.(string); !ok || !regexp.MustCompile("^"+pat+"$").MatchString(g) {
			return fmt.Errorf("%s: got %v, want %s", path, got, s)
		}
		return nil
	}
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: got %v, want an object", path, got)
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				return fmt.Errorf("%s.%s: missing", path, k)
			}
			if err := matchJSON(path+"."+k, wv, gv); err != nil {
				return err
			}
		}
		for k := range g {
			if _, ok := w[k]; !ok {
				return fmt.Errorf("%s.%s: not in the reference", path, k)
			}
		}
		return nil
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Errorf("%s: got %v, want %d items", path, got, len(w))
		}
		for i := range w {
			if err := matchJSON(fmt.Sprintf("%s[%d]", path, i), w[i], g[i]); err != nil {
				return err
			}
		}
		return nil
	}
	if fmt.Sprint(want) != fmt.Sprint(got) {
		return fmt.Errorf("%s: got %v, want %v", path, got, want)
	}
	return nil
}

// matchText compares line by line, spaces collapsed; <...> in want
// matches one word.
func matchText(want, got string) error {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	if len(wl) != len(gl) {
		return fmt.Errorf("%d lines, want %d", len(gl), len(wl))
	}
	for i := range wl {
		pat := regexp.QuoteMeta(strings.Join(strings.Fields(wl[i]), " "))
		pat = regexp.MustCompile(`<[^>]*>`).ReplaceAllString(pat, `\S+`)
		if !regexp.MustCompile("^" + pat + "$").MatchString(strings.Join(strings.Fields(gl[i]), " ")) {
			return fmt.Errorf("line %d: %q", i+1, gl[i])
		}
	}
	return nil
}
