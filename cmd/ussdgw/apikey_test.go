package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"strings"
	"testing"

	"github.com/ussdgw/ussdgw/apikeys"
)

func testPrefix(t *testing.T) (string, string) {
	t.Helper()
	url := "redis://127.0.0.1:6379/0"
	b := make([]byte, 6)
	rand.Read(b)
	prefix := "test:" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		c, err := redisClient(context.Background(), url)
		if err != nil {
			return
		}
		defer c.Close()
		keys, _ := c.Keys(context.Background(), prefix+"*").Result()
		if len(keys) > 0 {
			c.Del(context.Background(), keys...)
		}
	})
	return url, prefix
}

func TestAPIKeyCommands(t *testing.T) {
	url, prefix := testPrefix(t)
	ctx := context.Background()
	getenv := env(map[string]string{"USSDGW_REDIS_URL": url})
	cli := func(args ...string) (string, string, error) {
		var out, errb bytes.Buffer
		err := run(ctx, append(args, "-redis-prefix", prefix), getenv, &out, &errb, nil)
		return out.String(), errb.String(), err
	}
	plain, msg, err := cli("apikey", "create", "-name", "sms team", "-scopes", "send,read")
	if err != nil {
		t.Fatalf("%v %s", err, msg)
	}
	plain = strings.TrimSpace(plain)
	if !strings.HasPrefix(plain, "ugw_") || !strings.Contains(msg, "shown once") {
		t.Fatalf("create printed %q / %q", plain, msg)
	}
	c, err := redisClient(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	store := apikeys.New(c, prefix, nil)
	k, err := store.Check(ctx, plain, apikeys.Send)
	if err != nil || k.Name != "sms team" {
		t.Fatalf("the printed key does not work: %v %+v", err, k)
	}
	list, _, err := cli("apikey", "list")
	if err != nil || !strings.Contains(list, k.ID) || !strings.Contains(list, "read,send") || !strings.Contains(list, "sms team") {
		t.Fatalf("list: %v\n%s", err, list)
	}
	if out, _, err := cli("apikey", "revoke", k.ID); err != nil || !strings.Contains(out, "revoked "+k.ID) {
		t.Fatalf("revoke: %v %s", err, out)
	}
	if _, err := store.Check(ctx, plain, apikeys.Send); err != apikeys.ErrRevoked {
		t.Fatalf("after revoke: %v", err)
	}
	for _, bad := range [][]string{
		{"apikey", "create", "-name", "x", "-scopes", "write"},
		{"apikey", "create", "-scopes", "read"},
		{"apikey", "revoke", "nope"},
		{"apikey", "revoke"},
	} {
		if _, _, err := cli(bad...); err == nil {
			t.Errorf("%v succeeded", bad)
		}
	}
	// Without a Redis URL the CLI says why it cannot work.
	var errb bytes.Buffer
	err = run(ctx, []string{"apikey", "list"}, env(nil), io.Discard, &errb, nil)
	if err == nil || !strings.Contains(err.Error(), "-redis-url") {
		t.Fatalf("without redis: %v", err)
	}
}
