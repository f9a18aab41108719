package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/ussdgw/ussdgw/adapters"
	"github.com/ussdgw/ussdgw/flows"
	"github.com/ussdgw/ussdgw/problem"
	"github.com/ussdgw/ussdgw/ussd"
)

// lintAbout is lint's help text (its usage line comes from the commands
// table, commands.go).
const lintAbout = `Checks what the gateway would load, without starting anything: the flow
files of DIR (or one FILE; default: the config's flows setting, else
./flows-examples) and, with -config, the gateway config: its settings, its
adapters (built, not started) and its smpp: section. Actions are checked
against the adapters: their names, and their op: and params: against the
operations each adapter declares. Every problem of every section comes out
in one run, sorted by file and position, as
file:line:col: path: message (rule); docs/lint.md lists the rules.
Exit status 1 when there is a problem.`

// lintFlags declares lint's flags (also for its help).
func lintFlags(fs *flag.FlagSet) (config, format *string) {
	config = fs.String("config", "", "gateway config file (YAML): its settings, adapters and smpp: section are checked, and the flows against its adapters")
	format = fs.String("format", "text", "text (one problem a line) or json (an array of {file, line, col, path, rule, msg, hint})")
	return config, format
}

// lint checks flows and, with -config, the gateway config, and prints
// every problem. It returns errUsage (exit status 1, nothing more
// printed) when there are problems.
func lint(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("ussdgw lint", flag.ContinueOnError)
	fs.SetOutput(stdout)
	config, format := lintFlags(fs)
	fs.Usage = func() { commandHelp(stdout, "lint") }
	// Flags may come after the path too: ussdgw lint flows -format json.
	var paths []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			return errUsage
		}
		if fs.NArg() == 0 {
			break
		}
		paths = append(paths, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(paths) > 1 {
		return fmt.Errorf("lint: one directory or file, not %d", len(paths))
	}
	if *format != "text" && *format != "json" {
		return fmt.Errorf("lint: -format %q: use text or json", *format)
	}
	target := ""
	if len(paths) == 1 {
		target = paths[0]
	}
	ps := lintAll(*config, target)
	if *format == "json" {
		if err := problem.WriteJSON(stdout, ps); err != nil {
			return err
		}
	} else {
		if err := problem.WriteText(stdout, ps); err != nil {
			return err
		}
		if len(ps) == 0 {
			fmt.Fprintln(stdout, "ok")
		} else {
			fmt.Fprintf(stdout, "%d problem(s)\n", len(ps))
		}
	}
	if len(ps) > 0 {
		return errUsage
	}
	return nil
}

// lintAll returns every problem of the config file (none when config is
// "") and of the flows at target (a directory or a file; "" is the
// config's flows setting), checked against the config's adapters the
// way the gateway would load them.
func lintAll(config, target string) []*problem.Problem {
	var ps []*problem.Problem
	s := defaults()
	unread := false // the config could not be read at all: its adapters are unknown
	if config != "" {
		s.Config = config
		for _, p := range problem.List(s.readFile(s.options(), func(string) bool { return false })) {
			ps = append(ps, p)
			unread = unread || p.Rule == "error" || p.Path == "" || strings.HasPrefix(p.Rule, "yaml-")
		}
	}
	if target != "" {
		s.Flows = target
	}
	file := ""
	if st, err := os.Stat(s.Flows); err == nil && !st.IsDir() {
		file = s.Flows
		if config == "" {
			// The default adapters are built over the data beside the flows.
			s.Flows = filepath.Dir(file)
		}
	}
	if s.smpp != nil {
		_, err := decodeSMPP(s.file, s.smpp)
		ps = append(ps, problem.List(err)...)
	}
	opts := flows.Options{}
	if !unread {
		var aps []*problem.Problem
		opts.Adapters, opts.Ops, aps = lintAdapters(s)
		ps = append(ps, aps...)
	}
	if file != "" {
		data, err := os.ReadFile(file)
		if err == nil {
			_, err = flows.Parse(file, data, opts)
		}
		ps = append(ps, problem.List(err)...)
	} else {
		_, err := flows.Load(s.Flows, opts)
		ps = append(ps, problem.List(err)...)
	}
	problem.Sort(ps)
	return ps
}

// lintAdapters builds the adapters as the gateway builds them, with a
// store in memory and no log, and never starts them: no connection, no
// fetch. It returns their names and declared ops for checking the flows,
// and their problems. When some do not build, each is built alone, so
// that the flows are still checked against those that do; the names of
// those that do not are returned too (nil ops), so that the actions
// calling them are not reported a second time as calling an unknown
// adapter.
func lintAdapters(s *settings) ([]string, map[string][]adapters.OpSpec, []*problem.Problem) {
	store := ussd.NewMemoryStore()
	defer store.Close()
	log := slog.New(slog.DiscardHandler)
	reg, err := buildAdapters(s, store, log, nil)
	if err == nil {
		return reg.Names(), reg.Ops(), nil
	}
	ps := problem.List(err)
	if s.adapters == nil || s.adapters.Kind != yaml.MappingNode {
		return nil, nil, ps // which adapters there are is unknown: actions are not checked
	}
	var names []string
	ops := map[string][]adapters.OpSpec{}
	for i := 0; i+1 < len(s.adapters.Content); i += 2 {
		k, v := s.adapters.Content[i], s.adapters.Content[i+1]
		names = append(names, k.Value)
		one := *s
		one.adapters = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{k, v}}
		if reg, err := buildAdapters(&one, store, log, nil); err == nil {
			maps.Copy(ops, reg.Ops())
		}
	}
	return names, ops, ps
}
