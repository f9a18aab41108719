package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/ussdgw/ussdgw/apikeys"
)

// broadcastCmd starts a broadcast through the API and follows it with a
// progress bar until it ends:
//
//	ussdgw broadcast -api http://127.0.0.1:8080 -key KEY -service market \
//	    -text-en "..." [-text-fr "..."] -numbers file.csv | -topic T | -service-users
//
// -text-<lang> may be given for any language of the service. The key may
// come from USSDGW_API_KEY instead of -key (then it is not in ps).
func broadcastCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	texts := map[string]string{}
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, isText := strings.CutPrefix(strings.TrimPrefix(a, "-"), "-text-")
		if !isText {
			name, isText = strings.CutPrefix(a, "-text-")
		}
		if !isText {
			rest = append(rest, a)
			continue
		}
		lang, val, hasVal := strings.Cut(name, "=")
		if !hasVal {
			if i+1 >= len(args) {
				return fmt.Errorf("%s needs a text", a)
			}
			i++
			val = args[i]
		}
		texts[lang] = val
	}
	fs := flag.NewFlagSet("ussdgw broadcast", flag.ContinueOnError)
	fs.SetOutput(stderr)
	base := fs.String("api", "http://127.0.0.1:8080", "the gateway's address")
	key := fs.String("key", "", "API key with the send and read scopes (env USSDGW_API_KEY)")
	service := fs.String("service", "", "service (flow id) the broadcast belongs to")
	numbers := fs.String("numbers", "", "file of numbers, one per line (CSV: the first column); - reads stdin")
	topic := fs.String("topic", "", "send to the subscribers of this topic instead")
	users := fs.Bool("service-users", false, "send to every number with a subscription of the service instead")
	id := fs.String("id", "", "broadcast id (idempotency: the same id starts one broadcast)")
	start := fs.String("start", "", "not before this time (RFC 3339)")
	end := fs.String("end", "", "messages not sent by this time (RFC 3339) fail as expired")
	poll := fs.Duration("poll", time.Second, "how often to read the progress")
	noWait := fs.Bool("no-wait", false, "start the broadcast and return")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: ussdgw broadcast -service ID -text-<lang> TEXT... (-numbers FILE | -topic TOPIC | -service-users) [flags]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *key == "" {
		*key = getenv("USSDGW_API_KEY")
	}
	c := &apiClient{base: strings.TrimSuffix(*base, "/"), key: *key, http: &http.Client{Timeout: 15 * time.Minute}}
	var res startAnswer
	var err error
	if *numbers != "" {
		if *topic != "" || *users {
			return errors.New("give one of -numbers, -topic and -service-users")
		}
		var body []byte
		if *numbers == "-" {
			body, err = io.ReadAll(os.Stdin)
		} else {
			body, err = os.ReadFile(*numbers)
		}
		if err != nil {
			return fmt.Errorf("reading numbers: %w", err)
		}
		q := url.Values{"service": {*service}}
		for l, t := range texts {
			q.Set("text_"+l, t)
		}
		for k, v := range map[string]string{"id": *id, "start": *start, "end": *end} {
			if v != "" {
				q.Set(k, v)
			}
		}
		err = c.do(ctx, "POST", "/api/v1/broadcasts?"+q.Encode(), "text/csv", body, &res)
	} else {
		req := map[string]any{"service": *service, "text": texts}
		switch {
		case *topic != "" && *users:
			return errors.New("give one of -numbers, -topic and -service-users")
		case *topic != "":
			req["audience"] = map[string]any{"topic": *topic}
		case *users:
			req["audience"] = map[string]any{"service_users": true}
		default:
			req["audience"] = map[string]any{}
		}
		if *id != "" {
			req["id"] = *id
		}
		if *start != "" || *end != "" {
			req["window"] = map[string]string{"start": *start, "end": *end}
		}
		body, _ := json.Marshal(req)
		err = c.do(ctx, "POST", "/api/v1/broadcasts", "application/json", body, &res)
	}
	if err != nil {
		return err
	}
	langs := make([]string, 0, len(res.Languages))
	for l, n := range res.Languages {
		langs = append(langs, fmt.Sprintf("%s %d", l, n))
	}
	sort.Strings(langs)
	if res.State == "" { // 200: the id had started before
		fmt.Fprintf(stdout, "broadcast %s was already started\n", res.ID)
	} else {
		fmt.Fprintf(stdout, "broadcast %s: %d recipients (%s), %d queued, %d already queued\n", res.ID, res.Recipients, strings.Join(langs, ", "), res.Queued, res.Duplicates)
	}
	if *noWait {
		return nil
	}
	return follow(ctx, c, res.ID, *poll, stdout, stderr)
}

type startAnswer struct {
	ID         string         `json:"id"`
	State      string         `json:"state"`
	Recipients int            `json:"recipients"`
	Queued     int            `json:"queued"`
	Duplicates int            `json:"duplicates"`
	Languages  map[string]int `json:"languages"`
}

type progressAnswer struct {
	State      string `json:"state"`
	Error      string `json:"error"`
	Total      int64  `json:"total"`
	Queued     int64  `json:"queued"`
	Sent       int64  `json:"sent"`
	Delivered  int64  `json:"delivered"`
	Failed     int64  `json:"failed"`
	Suppressed int64  `json:"suppressed"`
	Cancelled  int64  `json:"cancelled"`
}

// follow polls the progress and draws it until the broadcast ends or ctx
// does (the broadcast goes on: the bar only stops).
func follow(ctx context.Context, c *apiClient, id string, every time.Duration, stdout, stderr io.Writer) error {
	var bar *progressbar.ProgressBar
	var p progressAnswer
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := c.do(ctx, "GET", "/api/v1/broadcasts/"+url.PathEscape(id), "", nil, &p); err != nil {
			return err
		}
		if bar == nil {
			bar = progressbar.NewOptions64(max(p.Total, 1), progressbar.OptionSetWriter(stderr), progressbar.OptionShowCount(),
				progressbar.OptionSetWidth(30), progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(100*time.Millisecond))
		}
		bar.ChangeMax64(max(p.Total, 1))
		_ = bar.Set64(p.Total - p.Queued)
		bar.Describe(fmt.Sprintf("%s: sent %d, delivered %d, failed %d", p.State, p.Sent, p.Delivered, p.Failed))
		if p.State != "running" && p.State != "starting" && p.State != "cancelling" {
			_ = bar.Finish()
			fmt.Fprintln(stderr)
			fmt.Fprintf(stdout, "broadcast %s %s: %d messages: %d sent, %d delivered, %d failed, %d suppressed (opted out), %d cancelled\n",
				id, p.State, p.Total, p.Sent, p.Delivered, p.Failed, p.Suppressed, p.Cancelled)
			if p.State == "failed_to_start" {
				return fmt.Errorf("broadcast %s failed to start: %s", id, p.Error)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			fmt.Fprintf(stderr, "\nstopped following; broadcast %s goes on (cancel: POST /api/v1/broadcasts/%s/cancel)\n", id, id)
			return nil
		case <-t.C:
		}
	}
}

// apiClient calls the gateway's API.
type apiClient struct {
	base, key string
	http      *http.Client
}

// do calls the API and decodes a 2xx answer into out; an error answer
// becomes an error with its problems, one per line.
func (c *apiClient) do(ctx context.Context, method, path, ctype string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("calling the API: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("reading the API's answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error    string `json:"error"`
			Problems []struct {
				Field string `json:"field"`
				Line  int    `json:"line"`
				Value string `json:"value"`
				Error string `json:"error"`
			} `json:"problems"`
			More int `json:"more_problems"`
		}
		if json.Unmarshal(raw, &e) != nil || e.Error == "" {
			return fmt.Errorf("%s %s: %s", method, path, resp.Status)
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%s (HTTP %d)", e.Error, resp.StatusCode)
		if len(e.Problems) > 1 {
			for _, p := range e.Problems {
				where := p.Field
				if p.Line > 0 {
					where = fmt.Sprintf("line %d", p.Line)
				}
				if p.Value != "" {
					where += fmt.Sprintf(" (%q)", p.Value)
				}
				fmt.Fprintf(&b, "\n  %s: %s", where, p.Error)
			}
			if e.More > 0 {
				fmt.Fprintf(&b, "\n  ... and %d more", e.More)
			}
		}
		return errors.New(b.String())
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("reading the API's answer: %w", err)
		}
	}
	return nil
}

// apikeyCmd manages API keys in the gateway's Redis:
//
//	ussdgw apikey create -name NAME -scopes send,read
//	ussdgw apikey list
//	ussdgw apikey revoke ID
//
// with -redis-url, -redis-prefix and -config as the gateway reads them
// (flags, USSDGW_* environment, config file).
func apikeyCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	usage := "usage: ussdgw apikey create -name NAME -scopes read,send,admin,studio | list | revoke ID  [-redis-url URL] [-redis-prefix P] [-config FILE]"
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return errUsage
	}
	sub := args[0]
	fs := flag.NewFlagSet("ussdgw apikey "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("name", "", "what the key is for (create)")
	scopes := fs.String("scopes", "", "read, send, admin, studio, comma-separated (create; admin implies the others; studio opens the workbench only)")
	pass := map[string]*string{}
	for _, n := range []string{"redis-url", "redis-prefix", "config"} {
		pass[n] = fs.String(n, "", "as for the gateway (env "+envName(n)+")")
	}
	pos, err := parseMixed(fs, args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return errUsage
	}
	var gwArgs []string
	for n, v := range pass {
		if *v != "" {
			gwArgs = append(gwArgs, "-"+n, *v)
		}
	}
	s, err := parseSettings("ussdgw", gwArgs, getenv, stderr)
	if err != nil {
		return err
	}
	if s.RedisURL == "" {
		return errors.New("API keys live in the gateway's Redis: give -redis-url (or USSDGW_REDIS_URL), the same as the gateway's; a gateway without one keeps its push state in an embedded Redis the CLI cannot reach")
	}
	rc, err := redisClient(ctx, s.RedisURL)
	if err != nil {
		return err
	}
	defer rc.Close()
	store := apikeys.New(rc, s.RedisPrefix, nil)
	switch sub {
	case "create":
		if len(pos) > 0 {
			return fmt.Errorf("unexpected argument %q", pos[0])
		}
		sc, err := apikeys.ParseScopes(*scopes)
		if err != nil {
			return fmt.Errorf("-scopes: %w", err)
		}
		k, plain, err := store.Create(ctx, *name, sc)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, plain)
		fmt.Fprintf(stderr, "created key %s (%s, scopes %s); the key above is shown once: keep it now\n", k.ID, k.Name, joinScopes(k.Scopes))
		return nil
	case "list":
		keys, err := store.List(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%-10s %-20s %-16s %-20s %s\n", "ID", "CREATED", "SCOPES", "NAME", "REVOKED")
		for _, k := range keys {
			rev := "-"
			if !k.Revoked.IsZero() {
				rev = k.Revoked.Format(time.RFC3339)
			}
			fmt.Fprintf(stdout, "%-10s %-20s %-16s %-20s %s\n", k.ID, k.Created.Format(time.RFC3339), joinScopes(k.Scopes), k.Name, rev)
		}
		return nil
	case "revoke":
		if len(pos) != 1 {
			return errors.New("usage: ussdgw apikey revoke ID")
		}
		if err := store.Revoke(ctx, pos[0]); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked %s\n", pos[0])
		return nil
	}
	fmt.Fprintln(stderr, usage)
	return errUsage
}

func joinScopes(sc []apikeys.Scope) string {
	s := make([]string, len(sc))
	for i, x := range sc {
		s[i] = string(x)
	}
	return strings.Join(s, ",")
}
