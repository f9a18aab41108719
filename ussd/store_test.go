package ussd_test

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ussdgw/ussdgw/ussd"
	"github.com/ussdgw/ussdgw/ussd/storetest"
)

func TestMemoryStore(t *testing.T) {
	s := ussd.NewMemoryStore()
	defer s.Close()
	storetest.Run(t, s, time.Sleep)
}

func TestRedisStore(t *testing.T) {
	r := storetest.Redis(t)
	storetest.Run(t, ussd.NewRedisStore(r.Client, r.Prefix), r.Advance)
}

func TestRedisStoreAutoPipelined(t *testing.T) {
	r := storetest.Redis(t)
	s := ussd.NewRedisStore(r.Client, r.Prefix)
	if err := s.AutoPipeline(); err != nil {
		t.Fatal(err)
	}
	storetest.Run(t, s, r.Advance)
}

func TestNewRedisClientURLs(t *testing.T) {
	tests := []struct {
		url  string
		kind string
	}{
		{"redis://127.0.0.1:6379/0", "*redis.Client 127.0.0.1:6379"},
		// go-redis's Sentinel client is a *redis.Client whose address names it.
		{"redis://127.0.0.1:26379?master_name=mymaster&addr=127.0.0.2:26379", "*redis.Client FailoverClient"},
		{"redis+cluster://127.0.0.1:7000?addr=127.0.0.1:7001", "*redis.ClusterClient"},
	}
	for _, tt := range tests {
		c, err := ussd.NewRedisClient(tt.url)
		if err != nil {
			t.Errorf("%s: %v", tt.url, err)
			continue
		}
		got := typeName(c)
		if rc, ok := c.(*redis.Client); ok {
			got += " " + rc.Options().Addr
		}
		if got != tt.kind {
			t.Errorf("%s: client %s, want %s", tt.url, got, tt.kind)
		}
		c.Close()
	}
	for _, bad := range []string{"http://x", "redis://h:1?bogus_option=1", "redis+cluster://h:1?nope=2"} {
		if c, err := ussd.NewRedisClient(bad); err == nil {
			c.Close()
			t.Errorf("%s: want an error", bad)
		}
	}
}
