//go:build pushbench

// Command subscribers creates the subscribers of the gateway half of the
// MT fan-out benchmark (cmd/loadtest/push/run.sh): n numbers, base,
// base+1, ..., each subscribed through package consent (the same calls a
// user's own subscribe step makes) to one topic, so that one price or one
// broadcast to the topic fans out to all of them. A command: it may import
// anything of ours and nothing imports it.
//
//	subscribers -redis-url redis://127.0.0.1:6379/0 -prefix bench: -n 100000
//
// With -apikey NAME it also creates an API key of every scope (package
// apikeys) and prints it, for when `ussdgw apikey create` is not there.
//
// It is built with -tags pushbench by run.sh: the tag keeps `go build ./...`
// working on a branch where package consent has not landed yet; it can go
// once consent is on main.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ussdgw/ussdgw/apikeys"
	"github.com/ussdgw/ussdgw/consent"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "subscribers:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("subscribers", flag.ContinueOnError)
	url := fs.String("redis-url", "redis://127.0.0.1:6379/0", "Redis URL")
	prefix := fs.String("prefix", "ussdgw:", "Redis key prefix (the gateway's -redis-prefix)")
	n := fs.Int("n", 10000, "subscribers")
	base := fs.Int64("base", 254700000000, "first number")
	service := fs.String("service", "market", "service (flow id)")
	topic := fs.String("topic", "prices:maize:eldoret", "topic")
	label := fs.String("label", "Maize at Eldoret", "what the user sees in their list")
	lang := fs.String("lang", "en", "language")
	threshold := fs.String("threshold", "0", `the "threshold" param (percent; 0: any change)`)
	conc := fs.Int("c", 16, "concurrent Subscribe calls")
	keyName := fs.String("apikey", "", "also create an API key of this name (scopes read, send, admin) and print it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 0 || *conc < 1 {
		return errors.New("-n must be at least 0 and -c at least 1")
	}
	opt, err := redis.ParseURL(*url)
	if err != nil {
		return fmt.Errorf("parsing -redis-url: %w", err)
	}
	opt.PoolSize = *conc
	c := redis.NewClient(opt)
	defer c.Close()
	reg := consent.New(c, *prefix, consent.Options{})

	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, *conc)
	for range *conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(*n) {
					return
				}
				m := strconv.FormatInt(*base+i, 10)
				err := reg.Subscribe(ctx, m, consent.Subscription{
					Service: *service, Topic: *topic, Label: *label, Lang: *lang, Channel: "api",
					Params: map[string]string{"threshold": *threshold}, At: time.Now(),
				})
				if err != nil {
					errs <- fmt.Errorf("subscribing number %d: %w", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	d := time.Since(start)
	key := ""
	if *keyName != "" {
		_, plain, err := apikeys.New(c, *prefix, time.Now).Create(ctx, *keyName, apikeys.Scopes)
		if err != nil {
			return fmt.Errorf("creating the API key: %w", err)
		}
		key = plain
	}
	out := map[string]any{"subscribers": *n, "seconds": d.Seconds(), "rate": math.Round(float64(*n) / d.Seconds())}
	if key != "" {
		out["api_key"] = key
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}
