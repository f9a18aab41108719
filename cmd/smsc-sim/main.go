// Command smsc-sim is a simulated operator: an SMSC and USSDC on
// loopback that the gateway binds to, so the whole SMPP path can be tried
// on one machine. A command: it may import anything of ours and nothing
// imports it.
//
//	smsc-sim [flags]            a person dials USSD codes and answers screens from the terminal
//	smsc-sim load [flags]       USSD load generator: many concurrent sessions, latency per step
//	smsc-sim mt [flags]         MT benchmark: an smpp.Client sends SMS into the simulator's sink
//
// Run "smsc-sim -h", "smsc-sim load -h" or "smsc-sim mt -h" for the flags.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var err error
	switch {
	case len(args) > 0 && args[0] == "load":
		err = runLoad(ctx, args[1:], stdout, stderr)
	case len(args) > 0 && args[0] == "mt":
		err = runMT(ctx, args[1:], stdout, stderr)
	default:
		err = runShell(ctx, args, stdin, stdout, stderr)
	}
	if err == errUsage {
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "smsc-sim:", err)
		return 1
	}
	return 0
}
