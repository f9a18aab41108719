package apikeys

import (
	"context"
	"errors"
	"testing"

	"github.com/ussdgw/ussdgw/internal/rediscluster"
)

// TestOnCluster: keys are created, listed, checked and revoked on a real
// Redis Cluster (Create's MULTI spans the record and the index: without a
// shared hash tag go-redis refuses it with CROSSSLOT).
func TestOnCluster(t *testing.T) {
	c := rediscluster.Start(t, rediscluster.Options{})
	cl := c.Client()
	defer cl.Close()
	s := New(cl, "test:", nil)
	ctx := context.Background()
	k, plain, err := s.Create(ctx, "ops", []Scope{Send})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Check(ctx, plain, Send); err != nil || got.ID != k.ID {
		t.Fatalf("check: %+v %v", got, err)
	}
	if err := s.Revoke(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Check(ctx, plain, Send); !errors.Is(err, ErrRevoked) {
		t.Errorf("revoked key: %v", err)
	}
	if list, err := s.List(ctx); err != nil || len(list) != 1 || list[0].ID != k.ID {
		t.Errorf("list: %+v %v", list, err)
	}
}
