package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ussdgw/ussdgw/flows"
	"github.com/ussdgw/ussdgw/internal/logcheck"
	"github.com/ussdgw/ussdgw/ussd"
)

// tinyFlow is a flow file with no adapter call.
const tinyFlow = "id: tiny\ncodes: ['*399#']\nlanguages: [en]\nnodes:\n  main: {type: end, text: Hello}\n"

// ownerDir lays out what a service owner keeps in one folder: the config,
// flows/ and data/, and returns the config's path.
func ownerDir(t *testing.T, config string) string {
	t.Helper()
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "flows"), 0o755))
	must(t, os.MkdirAll(filepath.Join(dir, "data"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "flows", "tiny.yaml"), []byte(tinyFlow), 0o644))
	prices, err := os.ReadFile("../../flows-examples/data/prices.yaml")
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dir, "data", "prices.yaml"), prices, 0o644))
	cfg := filepath.Join(dir, "gateway.yaml")
	must(t, os.WriteFile(cfg, []byte(config), 0o644))
	return cfg
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestConfigPathsRelativeToConfig: flows: and the adapters' files in a
// config file are found beside the file, whatever the working directory
// (here cmd/ussdgw, not the config's folder); a flag or variable stays
// relative to the working directory.
func TestConfigPathsRelativeToConfig(t *testing.T) {
	cfg := ownerDir(t, "flows: flows\nadapters:\n  prices: {kind: prices, file: data/prices.yaml}\n")
	dir := filepath.Dir(cfg)
	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"from the file", []string{"-config", cfg}, nil, filepath.Join(dir, "flows")},
		{"flag beats the file, from the working directory", []string{"-config", cfg, "-flows", "../../flows-examples"}, nil, "../../flows-examples"},
		{"variable beats the file, from the working directory", []string{"-config", cfg}, map[string]string{"USSDGW_FLOWS": "some/where"}, "some/where"},
		{"absolute in the file", []string{"-config", ownerDir(t, "flows: "+filepath.Join(dir, "flows")+"\n")}, nil, filepath.Join(dir, "flows")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := parseSettings("ussdgw", tt.args, env(tt.env), io.Discard)
			must(t, err)
			if s.Flows != tt.want {
				t.Errorf("flows = %q, want %q", s.Flows, tt.want)
			}
		})
	}
	s, err := parseSettings("ussdgw", []string{"-config", cfg}, env(nil), io.Discard)
	must(t, err)
	a, err := wire(context.Background(), s, logcheck.New(t), wireOptions{})
	if err != nil {
		t.Fatalf("the owner's folder does not wire from another working directory: %v", err)
	}
	defer a.close()
	if got := a.reg.Names(); len(got) != 1 || got[0] != "prices" {
		t.Errorf("adapters %v, want [prices]", got)
	}
	if _, ok := a.set.Flow("tiny"); !ok {
		t.Error("the flow beside the config is not served")
	}
}

// TestConfigPathErrorsNameFullPath: a missing config, flows folder or data
// file is reported with the absolute path that was looked in.
func TestConfigPathErrorsNameFullPath(t *testing.T) {
	noFlows := ownerDir(t, "flows: flowz\n")
	noData := ownerDir(t, "flows: flows\nadapters:\n  prices: {kind: prices, file: data/prizes.yaml}\n")
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"config", []string{"-config", "no/such/gateway.yaml"}, fullPath("no/such/gateway.yaml")},
		{"flows", []string{"-config", noFlows}, filepath.Join(filepath.Dir(noFlows), "flowz")},
		{"adapter file", []string{"-config", noData}, filepath.Join(filepath.Dir(noData), "data", "prizes.yaml")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := parseSettings("ussdgw", tt.args, env(nil), io.Discard)
			if err == nil {
				var a *app
				a, err = wire(context.Background(), s, logcheck.New(t), wireOptions{})
				if err == nil {
					a.close()
				}
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v\ndoes not name %s", err, tt.want)
			}
			if !filepath.IsAbs(tt.want) {
				t.Fatalf("test bug: %s is not absolute", tt.want)
			}
		})
	}
}

// TestShippedConfigsResolve: the config files the repository ships find
// their flows and data from any working directory (the test runs in
// cmd/ussdgw).
func TestShippedConfigsResolve(t *testing.T) {
	files, _ := filepath.Glob("../../examples/*/gateway.yaml")
	files = append(files, "../smsc-sim/gateway.yaml")
	for _, cfg := range files {
		t.Run(cfg, func(t *testing.T) {
			s, err := parseSettings("ussdgw", []string{"-config", cfg}, env(nil), io.Discard)
			must(t, err)
			s.lookupEnv = func(string) (string, bool) { return "secret", true }
			reg, err := buildAdapters(s, ussd.NewMemoryStore(), logcheck.New(t), nil)
			must(t, err)
			if _, err := flows.Load(s.Flows, flows.Options{Adapters: reg.Names()}); err != nil {
				t.Errorf("flows of %s: %v", cfg, err)
			}
		})
	}
}
