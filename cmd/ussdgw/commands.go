package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/ussdgw/ussdgw/flows/schema"
)

// The subcommands, in one table: `ussdgw -h` lists them, `ussdgw help
// CMD` and `ussdgw CMD -h` show one, and run dispatches through it.

// command is one subcommand of ussdgw.
type command struct {
	name    string
	args    string // what follows "ussdgw name" in its usage line
	summary string // one line for the list
	about   string // what it does, for its help
	// flags, when set, declares the command's own flag set so that its
	// help lists the flags the command really takes.
	flags func(fs *flag.FlagSet)
	// flagHelp, for a command whose flag set is built inside it, writes
	// its flags.
	flagHelp func(w io.Writer)
	run      func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error
}

// commands returns the table (a function: entries refer to functions that
// refer back to it through help).
func commands() []command {
	return []command{
		{
			name: "lint", args: "[-config FILE] [-format text|json] [DIR|FILE]",
			summary: "check flows and the gateway config; exit 1 on any problem",
			about:   lintAbout,
			flags:   func(fs *flag.FlagSet) { lintFlags(fs) },
			run: func(_ context.Context, args []string, _ func(string) string, stdout, _ io.Writer) error {
				return lint(args, stdout)
			},
		},
		{
			name: "test", args: "[-config FILE] [-update] [flags] [DIR|FILE...]",
			summary: "play transcripts against the flows and config, adapters answered from fixtures",
			about: `Plays transcript files (*.txt in DIR; default: the transcripts folder beside the
flows) through the gateway as the config wires it, in memory: no Redis, no
SMSC, no Go needed. Adapters named in a fixtures file (fixtures.yaml beside
the transcripts, or -fixtures) answer from it; the others run as configured.
Each screen that differs is shown with its file:line, expected lines with -
and what came instead with +. Exits 1 when a transcript fails.
-update writes the screens the gateway shows into the transcripts.
Guide: docs/testing-services.md.`,
			flags: func(fs *flag.FlagSet) { newOwnerTestFlags(fs) },
			run:   ownerTestCmd,
		},
		{
			name: "broadcast", args: "-service ID -text-<lang> TEXT... (-numbers FILE | -topic TOPIC | -service-users) [flags]",
			summary: "start a broadcast through the gateway's API and follow it",
			about: `Starts a broadcast of SMS through a running gateway's API (/api/v1) and shows
its progress until it ends. -text-<lang> is given for each language of the
service; the key may come from USSDGW_API_KEY instead of -key.`,
			flagHelp: func(w io.Writer) {
				// broadcast's flag set is its own: let it print its flags,
				// without its usage line (above already).
				var b bytes.Buffer
				_ = broadcastCmd(context.Background(), []string{"-h"}, func(string) string { return "" }, &b, &b)
				_, flags, _ := strings.Cut(b.String(), "\n")
				fmt.Fprint(w, flags)
			},
			run: apiCommandFor("broadcast"),
		},
		{
			name: "apikey", args: "create -name NAME -scopes read,send,admin | list | revoke ID  [-redis-url URL] [-redis-prefix P] [-config FILE]",
			summary: "create, list and revoke API keys (in the gateway's Redis)",
			about: `Manages the API's keys in the gateway's Redis. create prints the new key once;
list shows them (never the key itself); revoke ID stops one at once.
-redis-url, -redis-prefix and -config are read as the gateway reads them
(flag, USSDGW_* variable, config file).`,
			run: apiCommandFor("apikey"),
		},
		{
			name: "deny", args: "add|remove MSISDN | list  [-redis-url URL] [-redis-prefix P] [-config FILE]",
			summary: "the deny-list: numbers the gateway does not serve (in Redis)",
			about: `Adds a phone number to the deny-list, removes it, or lists the list. Every
instance reads it on each message. The Redis settings are read as the
gateway reads them (flag, USSDGW_* variable, config file).`,
			run: func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
				return deny(ctx, args, getenv, stdout, stderr)
			},
		},
		{
			name: "flow-schema", args: "",
			summary: "print the JSON Schema of flow files, for editors",
			about: `Prints the JSON Schema of flow files (flows/schema/flow.schema.json in the
repository), so that an editor can complete keys and underline mistakes as you
type: save it beside your flows and point the editor at it (docs/editor.md).`,
			run: func(_ context.Context, _ []string, _ func(string) string, stdout, _ io.Writer) error {
				_, err := stdout.Write(schema.JSON)
				return err
			},
		},
		{
			name: "config-reference", args: "",
			summary: "print the settings table (Markdown) the README carries",
			about:   `Prints every setting of the gateway: its flag, environment variable, config key, default and meaning.`,
			run: func(_ context.Context, _ []string, _ func(string) string, stdout, _ io.Writer) error {
				configReference(stdout)
				return nil
			},
		},
		{
			name: "help", args: "[COMMAND]",
			summary: "show the commands, or one command's usage",
			about:   `Without a command, lists the commands and the gateway's flags; with one, shows its usage.`,
			run: func(_ context.Context, args []string, getenv func(string) string, stdout, _ io.Writer) error {
				if len(args) == 0 {
					gatewayHelp(stdout)
					return nil
				}
				if _, ok := findCommand(args[0]); !ok {
					return unknownCommand(args[0])
				}
				commandHelp(stdout, args[0])
				return nil
			},
		},
	}
}

func apiCommandFor(name string) func(context.Context, []string, func(string) string, io.Writer, io.Writer) error {
	return func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
		return apiCommand(ctx, append([]string{name}, args...), getenv, stdout, stderr)
	}
}

func findCommand(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

func unknownCommand(name string) error {
	return fmt.Errorf("unknown command %q (commands: %s; ussdgw help shows them)", name, strings.Join(commandNames(), ", "))
}

// runCommand runs args[0]'s command, or its help when the arguments ask
// for it (-h, -help or --help, before any --).
func runCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c, ok := findCommand(args[0])
	if !ok {
		return unknownCommand(args[0])
	}
	if wantsHelp(args[1:]) {
		commandHelp(stdout, c.name)
		return nil
	}
	return c.run(ctx, args[1:], getenv, stdout, stderr)
}

// wantsHelp reports whether args ask for help.
func wantsHelp(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if a == "-h" || a == "-help" || a == "--help" {
			return true
		}
	}
	return false
}

// commandHelp writes a command's usage, what it does and its flags.
func commandHelp(w io.Writer, name string) {
	c, _ := findCommand(name)
	fmt.Fprintf(w, "usage: ussdgw %s %s\n\n%s\n", c.name, c.args, c.about)
	if c.flags != nil {
		fs := flag.NewFlagSet("ussdgw "+c.name, flag.ContinueOnError)
		c.flags(fs)
		fs.SetOutput(w)
		fmt.Fprintln(w, "\nflags:")
		fs.PrintDefaults()
	}
	if c.flagHelp != nil {
		fmt.Fprintln(w, "\nflags:")
		c.flagHelp(w)
	}
}

// gatewayHelp writes `ussdgw -h`: the commands, then the gateway's flags.
func gatewayHelp(w io.Writer) {
	fmt.Fprint(w, `ussdgw: the SMS/USSD gateway.

usage:
  ussdgw [flags]               run the gateway (flags below)
  ussdgw COMMAND [args]        run a command
  ussdgw help COMMAND          a command's usage (also: ussdgw COMMAND -h)

commands:
`)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range commands() {
		fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.summary)
	}
	tw.Flush()
	fmt.Fprintln(w, "\ngateway flags (each is also a USSDGW_<NAME> variable and a key of the -config file):")
	fs := flag.NewFlagSet("ussdgw", flag.ContinueOnError)
	fs.SetOutput(w)
	for _, o := range defaults().options() {
		usage := fmt.Sprintf("%s (env %s)", o.usage, envName(o.name))
		switch {
		case o.str != nil:
			fs.String(o.name, *o.str, usage)
		case o.num != nil:
			fs.Int(o.name, *o.num, usage)
		case o.flag != nil:
			fs.Bool(o.name, *o.flag, usage)
		default:
			fs.Duration(o.name, *o.dur, usage)
		}
	}
	fs.PrintDefaults()
}

// commandNames lists the commands.
func commandNames() []string {
	var out []string
	for _, c := range commands() {
		out = append(out, c.name)
	}
	return out
}

// parseMixed parses args with fs where flags may come after the
// positional arguments (apikey revoke ID -redis-url URL, test DIR
// -update), and returns the positional ones; flag.ErrHelp when -h was
// asked.
func parseMixed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos, rest = append(pos, fs.Arg(0)), fs.Args()[1:]
	}
}
