package apikeys

import (
	"context"
	"errors"
	"github.com/ussdgw/ussdgw/internal/redistest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// testStore returns a Store on the shared Redis under a random prefix,
// whose keys are deleted when the test ends.
func testStore(t *testing.T) (*Store, redis.UniversalClient) {
	t.Helper()
	c, prefix := redistest.Open(t)
	return New(c, prefix, nil), c
}

func TestCreateCheck(t *testing.T) {
	s, c := testStore(t)
	ctx := context.Background()
	sendKey, sendPlain, err := s.Create(ctx, "sms team", []Scope{Send, Read})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sendPlain, "ugw_"+sendKey.ID+"_") {
		t.Fatalf("plaintext %q does not carry id %q", sendPlain, sendKey.ID)
	}
	_, adminPlain, err := s.Create(ctx, "ops", []Scope{Admin})
	if err != nil {
		t.Fatal(err)
	}
	revKey, revPlain, err := s.Create(ctx, "old", []Scope{Send})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, revKey.ID); err != nil {
		t.Fatal(err)
	}
	// The secret is not stored in the clear anywhere.
	raw, _ := c.HGetAll(ctx, s.recordKey(sendKey.ID)).Result()
	secret := strings.TrimPrefix(sendPlain, "ugw_"+sendKey.ID+"_")
	for f, v := range raw {
		if strings.Contains(v, secret) {
			t.Fatalf("field %s holds the secret", f)
		}
	}
	wrongSecret := sendPlain[:len(sendPlain)-1] + map[bool]string{true: "b", false: "a"}[strings.HasSuffix(sendPlain, "a")]

	tests := []struct {
		name  string
		key   string
		scope Scope
		want  error
	}{
		{"send key sends", sendPlain, Send, nil},
		{"send key reads", sendPlain, Read, nil},
		{"send key is not admin", sendPlain, Admin, ErrScope},
		{"admin implies send", adminPlain, Send, nil},
		{"admin implies read", adminPlain, Read, nil},
		{"admin", adminPlain, Admin, nil},
		{"missing", "", Read, ErrMissing},
		{"blank", "   ", Read, ErrMissing},
		{"wrong secret", wrongSecret, Read, ErrWrong},
		{"unknown id", "ugw_zzzzzzzz_" + secret, Read, ErrWrong},
		{"malformed", "hello", Read, ErrWrong},
		{"no secret", "ugw_" + sendKey.ID + "_", Read, ErrWrong},
		{"revoked", revPlain, Send, ErrRevoked},
		{"revoked wrong secret is wrong", revPlain + "x", Send, ErrWrong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := s.Check(ctx, tt.key, tt.scope)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				if k.ID == "" {
					t.Fatal("no key returned")
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Check = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestListRevoke(t *testing.T) {
	s, _ := testStore(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	s.now = func() time.Time { now = now.Add(time.Second); return now }
	a, _, err := s.Create(ctx, "a", []Scope{Read})
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := s.Create(ctx, "b", []Scope{Send, Read})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	first := now
	if err := s.Revoke(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("revoking an unknown id: %v", err)
	}
	keys, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].ID != a.ID || keys[1].ID != b.ID {
		t.Fatalf("List = %+v", keys)
	}
	if !keys[0].Revoked.Equal(first) {
		t.Fatalf("revoked at %v, want the first revocation %v", keys[0].Revoked, first)
	}
	if !keys[1].Revoked.IsZero() || keys[1].Name != "b" || len(keys[1].Scopes) != 2 {
		t.Fatalf("second key %+v", keys[1])
	}
}

func TestCreateInvalid(t *testing.T) {
	s, _ := testStore(t)
	ctx := context.Background()
	for _, tt := range []struct {
		name   string
		scopes []Scope
	}{
		{"", []Scope{Read}},
		{"x", nil},
		{"x", []Scope{"root"}},
	} {
		if _, _, err := s.Create(ctx, tt.name, tt.scopes); err == nil {
			t.Errorf("Create(%q, %v) succeeded", tt.name, tt.scopes)
		}
	}
}

func TestParseScopes(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want string
		ok   bool
	}{
		{"send,read", "read,send", true},
		{" Admin ", "admin", true},
		{"read,read", "read", true},
		{"", "", false},
		{"write", "", false},
	} {
		got, err := ParseScopes(tt.in)
		if (err == nil) != tt.ok || (tt.ok && joinScopes(got) != tt.want) {
			t.Errorf("ParseScopes(%q) = %v, %v", tt.in, got, err)
		}
	}
}
