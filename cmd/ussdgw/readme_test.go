package main

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"testing"
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
	addr := serveInProcess(t, "-flows", "../../flows-examples")
	playSteps(t, "README.md", addr, steps)
}
