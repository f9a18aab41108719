package consent_test

import (
	"context"
	"flag"
	"os"
	"sync"
	"testing"

	"github.com/ussdgw/ussdgw/internal/rediscluster"
	"github.com/ussdgw/ussdgw/ussd"

	"github.com/ussdgw/ussdgw/internal/logcheck"
)

// One Redis Cluster (3 masters, a replica each) for the package's tests,
// started by the first test that asks and stopped after the last: every
// test runs on it too (backend "cluster"), through the gateway's
// redis+cluster:// URL, so a multi-key command or MULTI across hash slots
// fails here (CROSSSLOT). Not under -short, nor without redis-server.
var shared struct {
	once sync.Once
	c    *rediscluster.Cluster
	err  error
}

func TestMain(m *testing.M) {
	flag.Parse()
	code := logcheck.Checked(m).Run()
	if shared.c != nil {
		shared.c.Close()
	}
	os.Exit(code)
}

func clusterBackend(t testing.TB, prefix string) (backend, bool) {
	t.Helper()
	if testing.Short() || rediscluster.Available() != "" {
		return backend{}, false
	}
	shared.once.Do(func() { shared.c, shared.err = rediscluster.New(context.Background(), rediscluster.Options{}) })
	if shared.err != nil {
		t.Fatalf("starting the redis cluster: %v", shared.err)
	}
	c, err := ussd.NewRedisClient(shared.c.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() }) // the cluster goes, keys and all, at the end
	return backend{name: "cluster", c: c, prefix: prefix}, true
}
