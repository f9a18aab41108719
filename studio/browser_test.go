package studio_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium finds the browser: $CHROMIUM, else chromium or
// chromium-browser on the PATH.
func chromium() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// TestBrowser drives the workbench in headless Chromium as an owner
// would: log in, dial *384# and go through three screens to the SMS in
// Amharic and then in English, see the end screen, the length gauge and
// both SMS in the inbox; hang up a third session half-way; open the
// diagram and see counts on it. With UPDATE_SCREENSHOTS=1 it rewrites
// docs/img/studio-simulator.png and docs/img/studio-diagram.png.
func TestBrowser(t *testing.T) {
	exe := chromium()
	if exe == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is missing and CI is set: .ci/run installs it (apt-get install -y chromium)")
		}
		t.Skip("chromium not found: install Debian's chromium (apt-get install -y chromium) to run the browser test; in CI (CI set) this fails instead")
	}
	r := newRig(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox, // CI runs as root, where Chromium's sandbox cannot start
		chromedp.WindowSize(1280, 860),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancelCtx := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	defer cancelCtx()
	ctx, cancel := context.WithTimeout(ctx, 40*time.Second)
	defer cancel()

	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		for i, st := range steps {
			if err := chromedp.Do(ctx, st); err != nil {
				t.Fatalf("%s (action %d): %v", what, i+1, err)
			}
		}
	}
	step := 0
	// answered waits until the page has shown the answer to its step-th
	// request (app.js counts them in body's data-step).
	answered := func() chromedp.Action[chromedp.Void] {
		step++
		return chromedp.Poll[chromedp.Void](fmt.Sprintf("document.body.dataset.step === %q", fmt.Sprint(step)), chromedp.WithPollingTimeout(20*time.Second))
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("reading %s: %v", sel, err)
		}
		return s
	}
	id := func(s string) chromedp.ID { return chromedp.ID(s) }

	do("logging in",
		chromedp.Navigate(r.srv.URL+"/studio/"),
		chromedp.WaitVisible(id("key")),
		chromedp.SendKeys(id("key"), r.key),
		chromedp.Click(id("login")),
		chromedp.WaitVisible(id("screen")),
		answered(), // the phone's first state
		// Choose the market service as a user does (the change event fills
		// in its code and languages).
		chromedp.Evaluate[chromedp.Void](`(() => { const s = document.getElementById("service"); s.value = "market"; s.dispatchEvent(new Event("change")); })()`),
	)
	runs := []struct {
		lang, first, end, encoding, max, sms string
	}{
		{"am", "የገበያ ዋጋ", "ተልኳል።", "UCS-2", "/ 80 ", "በቆሎ"},
		{"en", "Market prices", "Sent. Check your messages.", "GSM 03.38", "/ 182 ", "Maize at Eldoret"},
	}
	for i, lr := range runs {
		do("dialling in "+lr.lang, chromedp.SetValue(id("lang"), lr.lang), chromedp.Click(id("dial")), answered())
		if got := text("#screen"); !strings.HasPrefix(got, lr.first) {
			t.Fatalf("%s: first screen %q", lr.lang, got)
		}
		// Main menu → crop → market → price → "send me this by SMS".
		for _, in := range []string{"1", "1", "2", "2"} {
			do("answering "+in, chromedp.SetValue(id("input"), in), chromedp.Click(id("send")), answered())
		}
		if got := text("#screen"); !strings.HasPrefix(got, lr.end) {
			t.Fatalf("%s: end screen %q, want %q", lr.lang, got, lr.end)
		}
		if got := text("#encoding"); got != lr.encoding {
			t.Errorf("%s: encoding %q, want %q", lr.lang, got, lr.encoding)
		}
		if got := text("#gauge-text"); !strings.Contains(got, lr.max) || !strings.HasSuffix(got, "characters") {
			t.Errorf("%s: gauge %q, want … %s characters", lr.lang, got, lr.max)
		}
		inbox, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#inbox .sms-text")].map(e => e.textContent)`))
		if err != nil {
			t.Fatalf("reading the inbox: %v", err)
		}
		if len(inbox) != i+1 || !strings.HasPrefix(inbox[0], lr.sms) {
			t.Fatalf("%s: inbox %q", lr.lang, inbox)
		}
		if got := text("#vars"); !strings.Contains(got, "crop") || !strings.Contains(got, "maize") {
			t.Errorf("%s: variables %q", lr.lang, got)
		}
	}
	simPNG, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot of the simulator: %v", err)
	}

	// A third session gives up on the crop list.
	do("a session left half-way",
		chromedp.Click(id("dial")), answered(),
		chromedp.SetValue(id("input"), "1"), chromedp.Click(id("send")), answered(),
		chromedp.Click(id("hangup")), answered(),
	)
	do("opening the diagram",
		chromedp.Click(id("tab-diagram")),
		chromedp.Poll[chromedp.Void](`document.body.dataset.diagram === "market"`, chromedp.WithPollingTimeout(20*time.Second)),
	)
	entered, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(`#diagram g[data-node="main"]`), "data-entered"))
	if err != nil {
		t.Fatal(err)
	}
	left, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(`#diagram g.worst`), "data-left"))
	if err != nil {
		t.Fatal(err)
	}
	if entered.Value != "3" || left.Value != "1" {
		t.Errorf("diagram: main entered %q (want 3), the node that loses most left %q (want 1)", entered.Value, left.Value)
	}
	if note, _ := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS("#diagram .worst-note"))); !strings.Contains(note, "Most people leave at pick_crop") {
		t.Errorf("diagram note %q", note)
	}
	diagramPNG, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS("#diagram svg")))
	if err != nil {
		t.Fatalf("screenshot of the diagram: %v", err)
	}
	if len(simPNG) < 1000 || len(diagramPNG) < 1000 {
		t.Fatalf("screenshots of %d and %d bytes", len(simPNG), len(diagramPNG))
	}
	if os.Getenv("UPDATE_SCREENSHOTS") != "" {
		dir := filepath.Join("..", "docs", "img")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, png := range map[string][]byte{"studio-simulator.png": simPNG, "studio-diagram.png": diagramPNG} {
			if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
