package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// tourStep is a shell block of the README's tour and the output block that
// follows it.
type tourStep struct {
	line      int
	cmd, want string
}

// readTour returns the ```sh blocks of the README section "A five-minute
// tour" that are followed by an output block.
func readTour(t *testing.T) []tourStep {
	f, err := os.Open("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var steps []tourStep
	var inTour, inBlock bool
	var kind string
	var block []string
	var pending *tourStep
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			inTour = strings.HasPrefix(line, "## A five-minute tour")
			continue
		}
		if !inTour {
			continue
		}
		if strings.HasPrefix(line, "```") {
			if !inBlock {
				inBlock, kind, block = true, strings.TrimPrefix(line, "```"), nil
				continue
			}
			inBlock = false
			text := strings.Join(block, "\n")
			switch {
			case kind == "sh":
				pending = &tourStep{line: n - len(block), cmd: text}
			case kind == "" && pending != nil:
				pending.want = text
				steps = append(steps, *pending)
				pending = nil
			default:
				pending = nil
			}
			continue
		}
		if inBlock {
			block = append(block, line)
		} else if strings.TrimSpace(line) != "" {
			pending = nil // prose between a command and a block: not its output
		}
	}
	return steps
}

// TestReadmeTour runs the README's five-minute tour against the gateway
// as its run command starts it, and compares every output it shows.
func TestReadmeTour(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	steps := readTour(t)
	if len(steps) < 3 {
		t.Fatalf("found %d tour steps with output in README.md", len(steps))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-listen", "127.0.0.1:0", "-flows", "../../flows-examples"}, env(nil), io.Discard, io.Discard, ready)
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatal(err)
	case <-time.After(20 * time.Second):
		t.Fatal("gateway not ready")
	}
	for _, st := range steps {
		cmd := strings.ReplaceAll(st.cmd, "127.0.0.1:8080", addr)
		out, err := exec.Command("bash", "-c", cmd).CombinedOutput()
		if err != nil {
			t.Fatalf("README.md:%d: %v\n%s", st.line, err, out)
		}
		if got := strings.TrimRight(string(out), "\n"); got != st.want {
			t.Errorf("README.md:%d: the tour shows\n%s\nbut the gateway answers\n%s", st.line, st.want, got)
		}
	}
	cancel()
	<-done
}
