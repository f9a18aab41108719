package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ussdgw/ussdgw/apikeys"
	"github.com/ussdgw/ussdgw/flows"
	"github.com/ussdgw/ussdgw/internal/logcheck"
	"github.com/ussdgw/ussdgw/reload"
)

// quizYAML is a service in version v. Version 2 renames the question
// node: a session begun on version 1 cannot go on in version 2, so one
// that finishes right finished on version 1.
func quizYAML(v int) string {
	return fmt.Sprintf(`id: quiz
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
}

// brokenQuiz has a branch to a node that does not exist.
const brokenQuiz = `id: quiz
codes: ["*600#"]
languages: [en]
nodes:
  main:
    type: menu
    text: {en: "Quiz v3"}
    options:
      - {label: {en: Start}, next: nowhere}
`

func quizVersion(t *testing.T, v int) string {
	t.Helper()
	set, err := flows.Compile(map[string][]byte{"quiz.yaml": []byte(quizYAML(v))}, flows.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f, _ := set.Flow("quiz")
	return f.Version
}

// writeFlow replaces a flow file in one step (a rename), as editors and
// deployment tools do.
func writeFlow(t *testing.T, dir, content string) {
	t.Helper()
	tmp := filepath.Join(dir, ".quiz.yaml.tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "quiz.yaml")); err != nil {
		t.Fatal(err)
	}
}

// wireQuiz wires the gateway over a flows directory holding quiz v1.
func wireQuiz(t *testing.T, watch bool) (*app, string) {
	t.Helper()
	dir := t.TempDir()
	writeFlow(t, dir, quizYAML(1))
	s := defaults()
	s.Flows, s.FlowsWatch = dir, watch
	a, err := wire(context.Background(), s, logcheck.New(t), wireOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.close)
	return a, dir
}

// waitReload waits, reload by reload (no sleeps), until ok holds.
func waitReload(t *testing.T, r *reload.Reloader, what string, ok func(reload.Status) bool) reload.Status {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		next := r.Next()
		if st := r.Status(); ok(st) {
			return st
		}
		select {
		case <-next:
		case <-deadline:
			t.Fatalf("%s: not within 20s; status %+v", what, r.Status())
		}
	}
}

// quizSession is a user going through the quiz by the HTTP callback.
type quizSession struct {
	t     *testing.T
	h     http.Handler
	id    string
	phone string
	text  []string
}

func (q *quizSession) send(input string) string {
	if input != "" || len(q.text) > 0 {
		q.text = append(q.text, input)
	}
	code, body, _ := postForm(q.h, q.id, q.phone, "*600#", strings.Join(q.text, "*"))
	if code != 200 {
		q.t.Errorf("%s: %d %s", q.id, code, body)
	}
	return firstLine(body)
}

// firstLine is the screen's text without its options.
func firstLine(s string) string { return strings.SplitN(s, "\n", 2)[0] }

// The Must-show of hot reload, under the race detector: a broken edit is
// refused while v1 keeps serving, and /readyz says why; sessions begun on
// v1 finish on v1 after the file changes to v2 while new ones get v2, and
// sessions begun during the swap run wholly on one version.
func TestHotReload(t *testing.T) {
	a, dir := wireQuiz(t, true)
	v1, v2 := quizVersion(t, 1), quizVersion(t, 2)

	// Twenty users are on the question of v1 when the file changes.
	const inFlight = 20
	var users []*quizSession
	for i := range inFlight {
		u := &quizSession{t: t, h: a.handler, id: fmt.Sprintf("v1-%d", i), phone: fmt.Sprintf("+2547001%05d", i)}
		if got := u.send(""); got != "CON Quiz v1" {
			t.Fatalf("dial: %q", got)
		}
		if got := u.send("1"); got != "CON Question of v1" {
			t.Fatalf("step: %q", got)
		}
		users = append(users, u)
	}
	// A broken edit: refused, v1 serves on, /readyz says why and stays 200.
	writeFlow(t, dir, brokenQuiz)
	st := waitReload(t, a.reloader, "the broken edit refused", func(s reload.Status) bool { return s.Refused != nil })
	if st.Services["quiz"] != v1 || st.Generation != 0 {
		t.Errorf("serving %v (generation %d) after a broken edit", st.Services, st.Generation)
	}
	during := &quizSession{t: t, h: a.handler, id: "v1-new", phone: "+254700300002"}
	if got := during.send(""); got != "CON Quiz v1" {
		t.Errorf("a new session after the broken edit: %q", got)
	}
	w := httptest.NewRecorder()
	a.handler.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	var ready struct {
		Status string
		Flows  struct {
			Status   string
			Services map[string]string
			Problems []string
		}
	}
	if err := json.Unmarshal(w.Body.Bytes(), &ready); err != nil {
		t.Fatal(err)
	}
	if w.Code != 200 || ready.Status != "ready" || ready.Flows.Status != "reload refused" || ready.Flows.Services["quiz"] != v1 ||
		len(ready.Flows.Problems) != 1 || !strings.HasPrefix(ready.Flows.Problems[0], `quiz.yaml:9:36: nodes.main.options[1].next: unknown node "nowhere"`) {
		t.Errorf("/readyz after a broken edit: %d %s", w.Code, w.Body.String())
	}

	// Others dial while the swap happens: each runs on one version from
	// its first screen to its last.
	stop := make(chan struct{})
	on := map[string]*atomic.Int64{"v1": {}, "v2": {}}
	v2Done := make(chan struct{}, 1<<16)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				u := &quizSession{t: t, h: a.handler, id: fmt.Sprintf("during-%d-%d", w, i), phone: fmt.Sprintf("+2547002%02d%03d", w, i%1000)}
				first := u.send("")
				v := strings.TrimPrefix(first, "CON Quiz ")
				u.send("1")
				if last := u.send("1"); last != "END Done with "+v {
					t.Errorf("%s began on %s and ended with %q", u.id, v, last)
				} else {
					on[v].Add(1)
					if v == "v2" {
						v2Done <- struct{}{}
					}
				}
			}
		})
	}
	writeFlow(t, dir, quizYAML(2))
	st = waitReload(t, a.reloader, "v2 swapped in", func(s reload.Status) bool { return s.Services["quiz"] == v2 })
	for range 8 { // the dialling goes on over the swap, until some sessions ran on v2
		select {
		case <-v2Done:
		case <-time.After(20 * time.Second):
			t.Fatal("no session on v2 within 20s of the swap")
		}
	}
	close(stop)
	if st.Refused != nil {
		t.Errorf("the refusal is still shown once the files are valid: %+v", st.Refused)
	}
	wg.Wait()

	for _, u := range users {
		if got := u.send("1"); got != "END Done with v1" {
			t.Errorf("%s, begun on v1, ended with %q", u.id, got)
		}
	}
	fresh := &quizSession{t: t, h: a.handler, id: "v2-1", phone: "+254700300001"}
	if got := fresh.send(""); got != "CON Quiz v2" {
		t.Errorf("a new session after the change: %q", got)
	}
	if st := a.reloader.Status(); st.Cause != reload.CauseFile || len(st.Kept) != 1 || st.Kept[0].Service != "quiz" {
		t.Errorf("status after the change: %+v", st)
	}
	t.Logf("%d sessions ran during the swap: %d on v1, %d on v2", on["v1"].Load()+on["v2"].Load(), on["v1"].Load(), on["v2"].Load())
}

// POST /api/v1/flows/reload (admin) reloads; a broken set is refused with
// its problems and the flows served before go on; GET /api/v1/flows
// reports. The watch is off, so only the API reloads here.
func TestReloadAPI(t *testing.T) {
	a, dir := wireQuiz(t, false)
	keys := apikeys.New(a.push.client, defaults().RedisPrefix, nil)
	_, admin, err := keys.Create(context.Background(), "ops", []apikeys.Scope{apikeys.Admin})
	if err != nil {
		t.Fatal(err)
	}
	_, reader, err := keys.Create(context.Background(), "reader", []apikeys.Scope{apikeys.Read})
	if err != nil {
		t.Fatal(err)
	}
	call := func(method, path, key string) (int, map[string]any) {
		t.Helper()
		req := httptest.NewRequest(method, path, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		w := httptest.NewRecorder()
		a.handler.ServeHTTP(w, req)
		var body map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, w.Body.String())
		}
		return w.Code, body
	}

	writeFlow(t, dir, quizYAML(2))
	if code, body := call("POST", "/api/v1/flows/reload", reader); code != 403 {
		t.Errorf("a read key reloaded: %d %v", code, body)
	}
	if a.reloader.Status().Attempts != 0 {
		t.Fatal("something reloaded without the API")
	}
	code, body := call("POST", "/api/v1/flows/reload", admin)
	v2 := quizVersion(t, 2)
	if code != 200 || fmt.Sprint(body["changed"]) != "[quiz@"+v2+"]" || body["cause"] != "api" || body["generation"] != 1.0 {
		t.Errorf("reload: %d %v", code, body)
	}
	session := &quizSession{t: t, h: a.handler, id: "api-1", phone: "+254700400001"}
	if got := session.send(""); got != "CON Quiz v2" {
		t.Errorf("after the API reload: %q", got)
	}

	writeFlow(t, dir, brokenQuiz)
	code, body = call("POST", "/api/v1/flows/reload", admin)
	problems, _ := body["problems"].([]any)
	if code != 422 || !strings.Contains(fmt.Sprint(body["error"]), "the services loaded before keep serving") || len(problems) != 1 ||
		!strings.Contains(fmt.Sprint(problems[0]), `quiz.yaml:9:36: nodes.main.options[1].next: unknown node "nowhere"`) {
		t.Errorf("a broken reload: %d %v", code, body)
	}
	code, body = call("GET", "/api/v1/flows", reader)
	refused, _ := body["refused"].(map[string]any)
	services, _ := body["services"].(map[string]any)
	if code != 200 || refused == nil || refused["cause"] != "api" || services["quiz"] != v2 {
		t.Errorf("GET /api/v1/flows: %d %v", code, body)
	}
	if got := session.send("1"); got != "CON Question of v2" {
		t.Errorf("serving after the refused reload: %q", got)
	}
}

// SIGHUP reloads the real binary's flows (the watch off, so the signal
// is what reloads): the session begun before finishes on v1, a new one
// gets v2. /readyz is polled, with a deadline, for the new version.
func TestReloadSIGHUP(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go is not installed")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "ussdgw")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("building ussdgw: %v\n%s", err, out)
	}
	flowsDir := filepath.Join(dir, "flows")
	if err := os.Mkdir(flowsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFlow(t, flowsDir, quizYAML(1))
	cmd := exec.Command(bin, "-listen", "127.0.0.1:0", "-flows", flowsDir, "-flows-watch=false")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	var logMu sync.Mutex
	var logs strings.Builder
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logMu.Lock()
			logs.WriteString(sc.Text() + "\n")
			logMu.Unlock()
			if m := regexp.MustCompile(`msg="gateway listening" addr=http://(\S+)`).FindStringSubmatch(sc.Text()); m != nil {
				addrc <- m[1]
			}
		}
		exited <- cmd.Wait()
	}()
	defer func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			logMu.Lock()
			t.Logf("gateway log:\n%s", logs.String())
			logMu.Unlock()
		}
	}()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-exited:
		t.Fatalf("the gateway exited: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the gateway did not listen within 30s")
	}
	post := func(session, phone, text string) string {
		t.Helper()
		resp, err := http.PostForm("http://"+addr+"/ussd/africastalking", url.Values{
			"sessionId": {session}, "phoneNumber": {phone}, "serviceCode": {"*600#"}, "text": {text}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return firstLine(string(b))
	}
	if got := post("hup-1", "+254700500001", "1"); got != "CON Question of v1" {
		t.Fatalf("before the reload: %q", got)
	}
	writeFlow(t, flowsDir, quizYAML(2))
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	v2 := quizVersion(t, 2)
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		var ready struct {
			Flows struct{ Services map[string]string }
		}
		err = json.NewDecoder(resp.Body).Decode(&ready)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if ready.Flows.Services["quiz"] == v2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still shows %v 20s after SIGHUP", ready.Flows.Services)
		}
		time.Sleep(20 * time.Millisecond) // polling a deadline, not ordering events
	}
	if got := post("hup-1", "+254700500001", "1*1"); got != "END Done with v1" {
		t.Errorf("the session begun before SIGHUP: %q", got)
	}
	if got := post("hup-2", "+254700500002", ""); got != "CON Quiz v2" {
		t.Errorf("a new session after SIGHUP: %q", got)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no exit 30s after SIGTERM")
	}
	logMu.Lock()
	defer logMu.Unlock()
	logcheck.Text(t, logs.String())
	if !strings.Contains(logs.String(), `msg="flows reloaded" comp=reload cause=SIGHUP generation=1 changed=quiz@`+v2) {
		t.Errorf("no reload line in the log:\n%s", logs.String())
	}
}
