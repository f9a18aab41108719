package main

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ussdgw/ussdgw/adapters/fixtures"
)

// docBlock is a shell block of a doc, and the output block after it
// (hasOut false: none).
type docBlock struct {
	line      int
	cmd, want string
	hasOut    bool
}

// readDocBlocks returns the ```sh blocks of a Markdown file, each with
// the plain ``` block that follows it directly, and the ```yaml blocks.
func readDocBlocks(t *testing.T, file string) (sh []docBlock, yamls []string) {
	t.Helper()
	f, err := os.Open(file)
	must(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	var inBlock, prevWasSh bool
	var kind string
	var block []string
	n, start := 0, 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if strings.HasPrefix(line, "```") {
			if !inBlock {
				inBlock, kind, block, start = true, strings.TrimPrefix(line, "```"), nil, n
				continue
			}
			inBlock = false
			text := strings.Join(block, "\n")
			switch {
			case kind == "sh":
				sh = append(sh, docBlock{line: start, cmd: text})
			case kind == "yaml":
				yamls = append(yamls, text)
			}
			if kind == "" && prevWasSh && !sh[len(sh)-1].hasOut {
				sh[len(sh)-1].want, sh[len(sh)-1].hasOut = text, true
			}
			prevWasSh = kind == "sh"
			continue
		}
		if inBlock {
			block = append(block, line)
		} else if strings.TrimSpace(line) != "" {
			prevWasSh = false // prose between a command and a block: not its output
		}
	}
	return sh, yamls
}

// TestTestingServicesDoc runs docs/testing-services.md's commands in
// order, in a copy of examples/ and flows-examples/ (an ussdgw line
// through run, the way the binary runs it; other lines with bash), and
// compares what each prints with the block the doc shows after it. The
// fixtures the doc shows must load.
func TestTestingServicesDoc(t *testing.T) {
	blocks, yamls := readDocBlocks(t, "../../docs/testing-services.md")
	if len(blocks) < 4 {
		t.Fatalf("found %d command blocks", len(blocks))
	}
	for _, y := range yamls {
		if _, err := fixtures.Parse("docs/testing-services.md", []byte(y)); err != nil {
			t.Errorf("the doc's fixtures do not load: %v", err)
		}
	}
	dir := t.TempDir()
	for _, d := range []string{"examples", "flows-examples"} {
		out, err := exec.Command("cp", "-r", filepath.Join("../..", d), dir).CombinedOutput()
		if err != nil {
			t.Fatalf("copying %s: %v %s", d, err, out)
		}
	}
	t.Chdir(dir)
	checked := 0
	for _, b := range blocks {
		var got bytes.Buffer
		for _, line := range strings.Split(b.cmd, "\n") {
			if args, ok := strings.CutPrefix(line, "ussdgw "); ok {
				_ = run(context.Background(), strings.Fields(args), env(nil), &got, &got, nil) // a failing test is shown, not an error here
				continue
			}
			out, err := exec.Command("bash", "-c", line).CombinedOutput()
			if err != nil {
				t.Fatalf("docs/testing-services.md:%d: %s: %v\n%s", b.line, line, err, out)
			}
			got.Write(out)
		}
		if !b.hasOut {
			continue
		}
		checked++
		if strings.TrimRight(got.String(), "\n") != b.want {
			t.Errorf("docs/testing-services.md:%d: the doc shows\n%s\nbut the command prints\n%s", b.line, b.want, got.String())
		}
	}
	if checked < 3 {
		t.Errorf("only %d outputs checked", checked)
	}
}
