package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ussdgw/ussdgw/smpp"
	"github.com/ussdgw/ussdgw/smpp/smsc"
)

func runMT(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("smsc-sim mt", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "address of the sink")
	n := fs.Int("n", 100000, "messages to send")
	window := fs.Int("window", 50, "outstanding submit_sm of the client")
	conc := fs.Int("concurrency", 64, "goroutines calling Send")
	text := fs.String("text", "Maize 1200 KES/90kg at Nairobi", "the text of each message (a long text is split)")
	concat := fs.String("concat", "udh8", "how a long text is split: udh8, udh16, sar, payload")
	dlr := fs.Bool("dlr", false, "ask for delivery receipts, and send them")
	cpuProfile := fs.String("cpuprofile", "", "write the CPU profile of the run to the file")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: smsc-sim mt [flags]

MT benchmark: the phase 1 smpp.Client (window -window) sends -n SMS from
-concurrency goroutines into the simulator's sink in the same process, and
prints segments/s. Every message is checked to arrive whole.

`)
		fs.PrintDefaults()
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	var got atomic.Int64
	srv, err := smsc.Start(smsc.Config{Addr: *listen, DLR: *dlr, OnMessage: func(m *smsc.Message) {
		if m.Text == *text {
			got.Add(1)
		}
	}, Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		return err
	}
	defer srv.Close()
	cfg := smpp.Defaults()
	cfg.Name, cfg.Address, cfg.SystemID, cfg.Password = "mt", srv.Addr(), "mt", "mt"
	cfg.Sources = []smpp.Source{{Addr: "384", TON: 3}}
	cfg.Window = *window
	cfg.Concat = smpp.ConcatMethod(*concat)
	cfg.Timeouts.Response = 30 * time.Second
	if !*dlr {
		cfg.RegisteredDelivery = 0
	}
	c, err := smpp.New(cfg, nil, smpp.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		return err
	}
	if err := c.Start(); err != nil {
		return err
	}
	defer c.Close(context.Background())
	bctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := c.WaitBound(bctx); err != nil {
		return err
	}
	segs, _ := smpp.Segments(*text, cfg.Concat)
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	var next atomic.Int64
	var failed atomic.Int64
	var segments atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for range *conc {
		wg.Go(func() {
			for next.Add(1) <= int64(*n) && ctx.Err() == nil {
				res, err := c.Send(ctx, smpp.Message{Dst: "254700000014", Text: *text})
				if err != nil {
					failed.Add(1)
					continue
				}
				segments.Add(int64(res.Segments))
			}
		})
	}
	wg.Wait()
	sent := time.Since(start)
	deadline := time.Now().Add(5 * time.Second)
	for got.Load() < int64(*n)-failed.Load() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	fmt.Fprintf(stdout, "MT: %d messages of %d segment(s), window %d, %d senders: %d segments in %.2fs = %.0f segments/s (%.0f messages/s); failed %d; whole at the sink %d\n",
		*n, segs, *window, *conc, segments.Load(), sent.Seconds(), float64(segments.Load())/sent.Seconds(),
		float64(int64(*n)-failed.Load())/sent.Seconds(), failed.Load(), got.Load())
	if failed.Load() > 0 || got.Load() != int64(*n) {
		return fmt.Errorf("%d failed, %d of %d arrived whole", failed.Load(), got.Load(), *n)
	}
	return nil
}
