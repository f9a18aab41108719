package api

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// ownRedis is a redis-server of the test's own, on a free port, that the
// test may kill.
type ownRedis struct {
	cmd  *exec.Cmd
	addr string
	args []string
	done chan struct{}
}

// startRedis starts a redis-server; extra are more of its options (the
// defaults: no persistence).
func startRedis(t *testing.T, extra ...string) *ownRedis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server is not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	r := &ownRedis{addr: fmt.Sprintf("127.0.0.1:%d", port)}
	r.args = append([]string{"--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"}, extra...)
	r.start(t)
	t.Cleanup(r.kill)
	return r
}

// restart starts the server again on the same port (and data directory).
func (r *ownRedis) restart(t *testing.T) {
	t.Helper()
	r.kill()
	r.start(t)
}

func (r *ownRedis) start(t *testing.T) {
	t.Helper()
	r.done = make(chan struct{})
	r.cmd = exec.Command("redis-server", r.args...)
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func(cmd *exec.Cmd, done chan struct{}) { cmd.Wait(); close(done) }(r.cmd, r.done)
	c := redis.NewClient(&redis.Options{Addr: r.addr})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for c.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatal("redis-server did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill stops the server and waits until it has exited.
func (r *ownRedis) kill() {
	select {
	case <-r.done:
		return
	default:
	}
	r.cmd.Process.Kill()
	<-r.done
}

func (r *ownRedis) client() redis.UniversalClient {
	return redis.NewClient(&redis.Options{Addr: r.addr, MaxRetries: -1, DialTimeout: time.Second})
}

// With Redis down, a broadcast is refused with 503 and nothing is queued.
func TestRedisDownDuringIntake(t *testing.T) {
	own := startRedis(t)
	rdb := own.client()
	defer rdb.Close()
	e := newEnv(t, func(c *Config) {
		c.Redis = rdb // records and the audit on the Redis that dies; keys on the shared one
	})
	body := `{"id": "down1", "service": "market", "audience": {"numbers": ["0712000001", "0712000002"]}, "text": {"en": "Hi"}}`
	own.kill()
	a := e.do("POST", "/api/v1/broadcasts", e.send, jsonCT, body)
	if a.code != 503 || !strings.Contains(a.body["error"].(string), "Redis) is unavailable") {
		t.Fatalf("%d %s", a.code, a.raw)
	}
	if e.outbox.len() != 0 {
		t.Fatalf("%d messages queued with Redis down", e.outbox.len())
	}
	if g := e.do("GET", "/api/v1/broadcasts/down1", e.read, "", ""); g.code != 503 {
		t.Fatalf("progress with Redis down: %d %s", g.code, g.raw)
	}
}
