// Command direct is the ceiling row of the MT fan-out benchmark
// (cmd/loadtest/push/run.sh, SIDES=direct): the gateway's own SMPP client
// (package smpp) sending n messages straight into the sink from c
// goroutines, with receipts requested and counted, and no queue, no Redis
// and no HTTP in between. It shows what the sink and the SMPP layer allow
// on this machine, so the other rows can be read against it. A command: it
// may import anything of ours and nothing imports it.
//
//	direct -addr 127.0.0.1:2775 -n 100000 -c 128 -binds 1 -window 100
//
// The last line on stdout is one JSON object with the counts.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ussdgw/ussdgw/smpp"
)

type result struct {
	Sent     int64   `json:"sent"`
	Failed   int64   `json:"failed"`
	Receipts int64   `json:"receipts"`
	Seconds  float64 `json:"seconds"`
	Rate     float64 `json:"rate"`
	CPU      float64 `json:"cpu_seconds"`
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "direct:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("direct", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:2775", "the sink's SMPP address")
	n := fs.Int("n", 10000, "messages")
	conc := fs.Int("c", 128, "sending goroutines")
	binds := fs.Int("binds", 1, "SMPP binds (transceivers)")
	window := fs.Int("window", 100, "SMPP window per bind")
	base := fs.Int64("base", 254700000000, "first destination number")
	text := fs.String("text", "Maize at Eldoret: 3400 KES/90kg (+6%). Reply STOP to end.", "message text")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 1 || *conc < 1 || *binds < 1 {
		return errors.New("-n, -c and -binds must be at least 1")
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	var r result
	receipt := smpp.HandlerFunc(func(_ context.Context, in *smpp.Inbound) smpp.CommandStatus {
		if rc, err := smpp.ParseReceipt(in); err == nil && rc.State == smpp.MsgDelivered {
			atomic.AddInt64(&r.Receipts, 1)
		}
		return smpp.StatusOK
	})
	clients := make([]*smpp.Client, 0, *binds)
	defer func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer ccancel()
		for _, c := range clients {
			_ = c.Close(cctx)
		}
	}()
	for b := range *binds {
		cfg := smpp.Defaults()
		cfg.Name, cfg.Address, cfg.SystemID, cfg.Password = "direct-"+strconv.Itoa(b+1), *addr, "ussdgw", "direct"
		cfg.Sources = []smpp.Source{{Addr: "777"}}
		cfg.RegisteredDelivery = 1
		cfg.Window = *window
		c, err := smpp.New(cfg, receipt, smpp.WithLogger(log))
		if err != nil {
			return fmt.Errorf("configuring bind %d: %w", b+1, err)
		}
		if err := c.Start(); err != nil {
			return fmt.Errorf("starting bind %d: %w", b+1, err)
		}
		clients = append(clients, c)
		if err := c.WaitBound(ctx); err != nil {
			return fmt.Errorf("binding to the sink: %w", err)
		}
	}

	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for g := range *conc {
		c := clients[g%len(clients)]
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(*n) || ctx.Err() != nil {
					return
				}
				if _, err := c.Send(ctx, smpp.Message{Dst: strconv.FormatInt(*base+i, 10), Text: *text}); err != nil {
					atomic.AddInt64(&r.Failed, 1)
					continue
				}
				atomic.AddInt64(&r.Sent, 1)
			}
		})
	}
	wg.Wait()
	r.Seconds = time.Since(start).Seconds()
	r.Rate = float64(r.Sent) / r.Seconds
	// The receipts trail the last submit_sm_resp a little.
	for deadline := time.Now().Add(30 * time.Second); atomic.LoadInt64(&r.Receipts) < r.Sent && ctx.Err() == nil && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		r.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	}
	if err := json.NewEncoder(stdout).Encode(r); err != nil {
		return fmt.Errorf("writing the result: %w", err)
	}
	return ctx.Err()
}
