package ussd_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/ussdgw/ussdgw/internal/rediscluster"
	"github.com/ussdgw/ussdgw/ussd"
	"github.com/ussdgw/ussdgw/ussd/storetest"
)

// TestRedisStoreOnCluster runs the Store contract on a real Redis Cluster
// (3 masters, a replica each) through the gateway's redis+cluster:// URL,
// with plain round trips and autopipelined: every multi-key command the
// store sends (MGET) must stay in one hash slot. A cross-slot MGET is
// refused, so the check can fail.
func TestRedisStoreOnCluster(t *testing.T) {
	c := rediscluster.Start(t, rediscluster.Options{})
	for _, pipelined := range []bool{false, true} {
		name := "round-trips"
		if pipelined {
			name = "autopipelined"
		}
		t.Run(name, func(t *testing.T) {
			cl, err := ussd.NewRedisClient(c.URL())
			if err != nil {
				t.Fatal(err)
			}
			b := make([]byte, 6)
			rand.Read(b)
			s := ussd.NewRedisStore(cl, "test:"+hex.EncodeToString(b)+":")
			defer s.Close()
			if pipelined {
				if err := s.AutoPipeline(); err != nil {
					t.Fatal(err)
				}
			}
			storetest.Run(t, s, time.Sleep)
			_, err = s.Get(context.Background(), "a:{1}", "a:{2}")
			if err == nil || !strings.Contains(err.Error(), "CROSSSLOT") {
				t.Errorf("a cross-slot Get: %v, want CROSSSLOT", err)
			}
		})
	}
}
