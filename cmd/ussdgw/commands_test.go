package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
)

// TestHelp: ussdgw -h lists every command with its line; ussdgw help CMD,
// ussdgw CMD -h and ussdgw CMD --help show the command's usage on stdout
// and succeed, for every command.
func TestHelp(t *testing.T) {
	run1 := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(context.Background(), args, env(nil), &out, &errOut, nil)
		if errOut.Len() > 0 {
			t.Errorf("ussdgw %s wrote to stderr: %s", strings.Join(args, " "), errOut.String())
		}
		return out.String(), err
	}
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}} {
		out, err := run1(args...)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		for _, c := range commands() {
			if !strings.Contains(out, "  "+c.name+" ") || !strings.Contains(out, c.summary) {
				t.Errorf("ussdgw %s does not list %s with %q", strings.Join(args, " "), c.name, c.summary)
			}
		}
		if !strings.Contains(out, "-redis-url string") || !strings.Contains(out, "(env USSDGW_REDIS_URL)") {
			t.Errorf("ussdgw %s does not show the gateway's flags", strings.Join(args, " "))
		}
	}
	for _, name := range commandNames() {
		var first string
		for i, args := range [][]string{{"help", name}, {name, "-h"}, {name, "--help"}, {name, "-help"}} {
			out, err := run1(args...)
			if err != nil {
				t.Errorf("ussdgw %s: %v", strings.Join(args, " "), err)
			}
			if !strings.HasPrefix(out, "usage: ussdgw "+name) {
				t.Errorf("ussdgw %s: %q", strings.Join(args, " "), out)
			}
			if i == 0 {
				first = out
			} else if out != first {
				t.Errorf("ussdgw %s and ussdgw help %s differ", strings.Join(args, " "), name)
			}
		}
	}
	// Commands with flags list them.
	for name, flag := range map[string]string{"test": "-update", "broadcast": "-numbers string"} {
		if out, _ := run1("help", name); !strings.Contains(out, flag) {
			t.Errorf("ussdgw help %s lacks %s:\n%s", name, flag, out)
		}
	}
	for _, args := range [][]string{{"nosuch"}, {"help", "nosuch"}} {
		if _, err := run1(args...); err == nil || !strings.Contains(err.Error(), `unknown command "nosuch" (commands: lint, test,`) {
			t.Errorf("ussdgw %s: %v", strings.Join(args, " "), err)
		}
	}
}

// TestFlowSchemaCommand: ussdgw flow-schema prints the committed schema.
func TestFlowSchemaCommand(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"flow-schema"}, env(nil), &out, &out, nil); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("../../flows/schema/flow.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Error("ussdgw flow-schema does not print flows/schema/flow.schema.json")
	}
}
