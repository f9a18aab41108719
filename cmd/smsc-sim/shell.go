package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ussdgw/ussdgw/smpp/smsc"
)

var errUsage = errors.New("usage")

// simFlags are the flags every mode shares: where to listen, who may
// bind, the USSD profile.
type simFlags struct {
	listen   string
	systemID string
	password string
	profile  string
}

func (f *simFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.listen, "listen", "127.0.0.1:2775", "address the gateway binds to")
	fs.StringVar(&f.systemID, "system-id", "", "system_id the gateway must bind with (empty: any)")
	fs.StringVar(&f.password, "password", "", "password the gateway must bind with (with -system-id)")
	fs.StringVar(&f.profile, "profile", "spec", "USSD profile: spec, tata, mica or sixdee")
}

func (f *simFlags) config() (smsc.Config, error) {
	p, err := smsc.ProfileByName(f.profile)
	if err != nil {
		return smsc.Config{}, err
	}
	cfg := smsc.Config{Addr: f.listen, Profile: p}
	if f.systemID != "" {
		cfg.Accounts = []smsc.Account{{SystemID: f.systemID, Password: f.password}}
	}
	return cfg, nil
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errUsage
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	return nil
}

func runShell(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("smsc-sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sf simFlags
	sf.register(fs)
	msisdn := fs.String("msisdn", "254700000001", "the phone number you play")
	shortcode := fs.String("shortcode", "384", "where 'sms TEXT' goes")
	dlr := fs.Duration("dlr-delay", time.Second, "delay of the delivery receipts for MT SMS that ask for one (negative: none)")
	wait := fs.Duration("wait", 10*time.Second, "how long to wait for a screen")
	verbose := fs.Bool("v", false, "print every submit_sm, and log at debug level")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: smsc-sim [flags]
       smsc-sim load -h | smsc-sim mt -h

A simulated operator on loopback: bind the gateway to it, then dial USSD
codes (*384#), answer screens, send SMS (sms PRICE MAIZE) and read the SMS
the gateway sends. Type 'help' at the prompt.

`)
		fs.PrintDefaults()
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := sf.config()
	if err != nil {
		return err
	}
	sh := &shell{out: stdout, msisdn: *msisdn, shortcode: *shortcode, wait: *wait, verbose: *verbose}
	if *dlr >= 0 {
		cfg.DLR, cfg.DLRDelay = true, *dlr
	}
	cfg.OnMessage = sh.onMessage
	cfg.OnBind = sh.onBind
	cfg.OnSubmit = sh.onSubmit
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	srv, err := smsc.Start(cfg)
	if err != nil {
		return err
	}
	defer srv.Close()
	sh.srv = srv
	return sh.run(ctx, stdin)
}

// shell is the interactive loop: lines in, screens and SMS out. Events
// from the server (binds, MT SMS) are printed as they come.
type shell struct {
	srv       *smsc.Server
	msisdn    string
	shortcode string
	wait      time.Duration
	verbose   bool

	mu    sync.Mutex // serialises writes to out
	out   io.Writer
	shown string // the prompt on screen while waiting for a line, else ""

	sess *smsc.Session
}

func (sh *shell) printf(format string, args ...any) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	fmt.Fprintf(sh.out, format, args...)
}

// event prints a line that comes from the server while the person may be
// typing: on a line of its own, then the prompt again.
func (sh *shell) event(format string, args ...any) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.shown != "" {
		fmt.Fprint(sh.out, "\n")
	}
	fmt.Fprintf(sh.out, format, args...)
	fmt.Fprint(sh.out, sh.shown)
}

func (sh *shell) onBind(b smsc.Bind) {
	if b.Bound {
		sh.event("[bind] %s bound as %s from %s\n", b.SystemID, b.Kind, b.Remote)
	} else {
		sh.event("[bind] %s (%s) is gone\n", b.SystemID, b.Kind)
	}
}

func (sh *shell) onMessage(m *smsc.Message) {
	text := m.Text
	if !m.Decoded {
		text = fmt.Sprintf("(%d octets, data_coding 0x%02X)", len(m.Raw), m.DataCoding)
	}
	parts := ""
	if m.Parts > 1 {
		parts = fmt.Sprintf(" (%d parts)", m.Parts)
	}
	sh.event("[SMS %s -> %s]%s %s\n", m.Source.Addr, m.Dest.Addr, parts, text)
}

func (sh *shell) onSubmit(s *smsc.Submit) {
	switch {
	case s.USSD != nil && s.USSD.Session == nil:
		sh.event("[ussd] a screen for %s in no open session (op 0x%02X): %s\n", s.Dest.Addr, s.USSD.Op, s.Text)
	case sh.verbose:
		sh.event("[submit_sm] seq %d %s -> %s dc 0x%02X id %s status %s\n", s.Seq, s.Source.Addr, s.Dest.Addr, s.DataCoding, s.MessageID, s.Status)
	}
}

const help = `  *384#          dial a USSD code (also *384*1*2#)
  1              while a session is open: your answer to the screen
  abort          while a session is open: the network releases it
  sms TEXT       send an SMS to the short code (-shortcode)
  sms @CODE TEXT send an SMS to CODE
  from MSISDN    play another phone number
  binds          list the binds
  help           this text
  quit           leave (or Ctrl-D)
`

func (sh *shell) prompt() {
	p := "> "
	if sh.sess != nil {
		p = "reply> "
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.shown = p
	fmt.Fprint(sh.out, p)
}

// busy notes that the prompt is no longer on screen.
func (sh *shell) busy() {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.shown = ""
}

func (sh *shell) run(ctx context.Context, in io.Reader) error {
	sh.printf("smsc-sim: listening on %s, USSD profile %s, you are %s.\n", sh.srv.Addr(), sh.srv.Profile().Name, sh.msisdn)
	sh.printf("Bind the gateway here, then dial a code such as *384#. Type 'help' for more.\n")
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	for {
		sh.prompt()
		var line string
		var ok bool
		select {
		case line, ok = <-lines:
		case <-ctx.Done():
			ok = false
		}
		sh.busy()
		if !ok {
			sh.printf("\n")
			sh.endSession()
			return nil
		}
		if !sh.do(ctx, strings.TrimSpace(line)) {
			sh.endSession()
			return nil
		}
	}
}

// endSession aborts an open session on the way out.
func (sh *shell) endSession() {
	if sh.sess != nil {
		_ = sh.sess.Abort()
		sh.sess = nil
	}
}

// do runs one line and reports whether to go on.
func (sh *shell) do(ctx context.Context, line string) bool {
	cmd, rest, _ := strings.Cut(line, " ")
	rest = strings.TrimSpace(rest)
	switch {
	case line == "":
	case line == "quit" || line == "exit":
		return false
	case line == "help" || line == "?":
		sh.printf("%s", help)
	case line == "binds":
		bs := sh.srv.Binds()
		sort.Slice(bs, func(i, j int) bool { return bs[i].ID < bs[j].ID })
		if len(bs) == 0 {
			sh.printf("no binds yet: start the gateway with an smpp section pointing at %s\n", sh.srv.Addr())
		}
		for _, b := range bs {
			sh.printf("  #%d %s %s from %s\n", b.ID, b.SystemID, b.Kind, b.Remote)
		}
	case line == "abort" && sh.sess != nil:
		if err := sh.sess.Abort(); err != nil {
			sh.printf("abort: %v\n", err)
		}
		sh.sess = nil
		sh.printf("-- session released by the network --\n")
	case cmd == "from" && sh.sess == nil:
		if rest == "" {
			sh.printf("you are %s\n", sh.msisdn)
			break
		}
		sh.msisdn = rest
		sh.printf("you are now %s\n", sh.msisdn)
	case cmd == "sms" && sh.sess == nil:
		to := sh.shortcode
		if strings.HasPrefix(rest, "@") {
			to, rest, _ = strings.Cut(rest[1:], " ")
			rest = strings.TrimSpace(rest)
		}
		if rest == "" {
			sh.printf("usage: sms TEXT, or sms @CODE TEXT\n")
			break
		}
		ctx, cancel := context.WithTimeout(ctx, sh.wait)
		defer cancel()
		if err := sh.srv.SendMO(ctx, sh.msisdn, to, rest); err != nil {
			sh.printf("sms: %v\n", err)
			break
		}
		sh.printf("[sms %s -> %s] delivered to the gateway\n", sh.msisdn, to)
	case sh.sess != nil:
		if err := sh.sess.Reply(line); err != nil {
			sh.printf("reply: %v\n", err)
			sh.sess = nil
			break
		}
		sh.screen(ctx)
	case strings.HasPrefix(line, "*") || strings.HasPrefix(line, "#"):
		if !strings.HasSuffix(line, "#") {
			sh.printf("a USSD code ends with #, e.g. *384#\n")
			break
		}
		ctx, cancel := context.WithTimeout(ctx, sh.wait)
		defer cancel()
		s, err := sh.srv.Dial(ctx, sh.msisdn, line)
		if errors.Is(err, smsc.ErrNotBound) {
			sh.printf("nothing is bound yet: start the gateway with an smpp section pointing at %s\n", sh.srv.Addr())
			break
		}
		if err != nil {
			sh.printf("dial: %v\n", err)
			break
		}
		sh.sess = s
		sh.screen(ctx)
	default:
		sh.printf("unknown command %q; type 'help'\n", line)
	}
	return true
}

// screen waits for the session's next screen and prints it.
func (sh *shell) screen(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, sh.wait)
	defer cancel()
	sc, err := sh.sess.Next(ctx)
	if err != nil {
		sh.printf("no screen: %v\n-- session closed --\n", err)
		sh.sess.Close()
		sh.sess = nil
		return
	}
	sh.printf("%s\n", sc.Text)
	if sc.End {
		sh.printf("-- session ended --\n")
		sh.sess = nil
	}
}
