// Package apikeys keeps the API keys of the gateway's HTTP API in Redis:
// created (the plaintext shown once), listed, revoked, and checked against
// a scope on every request. It is a store: it must not import flows, ussd
// or a transport.
//
// A key looks like ugw_<id>_<secret>. The id finds the record; only the
// SHA-256 of the secret is stored. A slow password hash (bcrypt, argon2)
// is not needed: it protects low-entropy secrets people choose against
// guessing, while these secrets are 160 random bits, beyond any brute
// force even at billions of SHA-256 per second, and a fast hash keeps the
// per-request check cheap.
//
// It is a leaf package: stdlib and go-redis only, nothing of the gateway.
package apikeys

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Scope is what a key may do.
type Scope string

// The scopes. Admin implies the others.
const (
	Read  Scope = "read"
	Send  Scope = "send"
	Admin Scope = "admin"
	// Studio opens the service owners' workbench (package studio): the
	// simulator and the diagrams, nothing of the API.
	Studio Scope = "studio"
)

// Scopes lists the valid scopes.
var Scopes = []Scope{Read, Send, Admin, Studio}

// ParseScopes reads a comma-separated list such as "send,read".
func ParseScopes(s string) ([]Scope, error) {
	var out []Scope
	for _, p := range strings.Split(s, ",") {
		p = strings.ToLower(strings.TrimSpace(p))
		if p == "" {
			continue
		}
		if !slices.Contains(Scopes, Scope(p)) {
			return nil, fmt.Errorf("unknown scope %q (use read, send, admin or studio)", p)
		}
		if !slices.Contains(out, Scope(p)) {
			out = append(out, Scope(p))
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no scope given (use read, send, admin or studio)")
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

// Errors of Check, so that the API can say what is wrong with a key.
var (
	ErrMissing  = errors.New("no API key given")
	ErrWrong    = errors.New("unknown or wrong API key")
	ErrRevoked  = errors.New("API key revoked")
	ErrScope    = errors.New("API key lacks the scope")
	ErrNotFound = errors.New("no such API key")
)

// Key is a stored key, without its secret.
type Key struct {
	ID      string
	Name    string
	Scopes  []Scope
	Created time.Time
	Revoked time.Time // zero while valid
}

// Allows reports whether the key has scope (admin has every scope).
func (k Key) Allows(scope Scope) bool {
	return slices.Contains(k.Scopes, scope) || slices.Contains(k.Scopes, Admin)
}

// Store keeps the keys under a prefix in Redis.
type Store struct {
	c      redis.UniversalClient
	prefix string
	now    func() time.Time
}

// New returns a Store whose keys start with prefix (e.g. "ussdgw:").
// now may be nil (time.Now).
func New(c redis.UniversalClient, prefix string, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{c: c, prefix: prefix, now: now}
}

// Both keys carry the hash tag {apikeys}, so that Create's MULTI stays in
// one Redis Cluster slot (go-redis refuses a cross-slot transaction).
func (s *Store) recordKey(id string) string { return s.prefix + "apikey:{apikeys}:" + id }
func (s *Store) indexKey() string           { return s.prefix + "{apikeys}" }

// Lower-case base32 without padding: no "_" inside, so the key splits
// unambiguously, and it survives copy-paste and shells.
var enc = base32.StdEncoding.WithPadding(base32.NoPadding)

func random(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported systems
	}
	return strings.ToLower(enc.EncodeToString(b))
}

func hashSecret(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// Create stores a new key and returns it with its plaintext, which is not
// kept and cannot be shown again.
func (s *Store) Create(ctx context.Context, name string, scopes []Scope) (Key, string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return Key{}, "", errors.New("a key needs a name")
	}
	if len(scopes) == 0 {
		return Key{}, "", errors.New("a key needs at least one scope")
	}
	for _, sc := range scopes {
		if !slices.Contains(Scopes, sc) {
			return Key{}, "", fmt.Errorf("unknown scope %q", sc)
		}
	}
	id := random(5)      // 8 characters
	secret := random(20) // 160 bits, 32 characters
	k := Key{ID: id, Name: name, Scopes: slices.Clone(scopes), Created: s.now().UTC()}
	fields := map[string]any{
		"name":    k.Name,
		"scopes":  joinScopes(k.Scopes),
		"hash":    hashSecret(secret),
		"created": k.Created.Format(time.RFC3339Nano),
	}
	ok, err := s.c.HSetNX(ctx, s.recordKey(id), "hash", fields["hash"]).Result()
	if err != nil {
		return Key{}, "", fmt.Errorf("creating API key: %w", err)
	}
	if !ok { // 40 random bits collided: astronomically rare, but never overwrite
		return Key{}, "", errors.New("creating API key: id collision, try again")
	}
	pipe := s.c.TxPipeline()
	pipe.HSet(ctx, s.recordKey(id), fields)
	pipe.SAdd(ctx, s.indexKey(), id)
	if _, err := pipe.Exec(ctx); err != nil {
		return Key{}, "", fmt.Errorf("creating API key: %w", err)
	}
	return k, "ugw_" + id + "_" + secret, nil
}

func joinScopes(sc []Scope) string {
	ss := make([]string, len(sc))
	for i, x := range sc {
		ss[i] = string(x)
	}
	return strings.Join(ss, ",")
}

func decode(id string, m map[string]string) Key {
	k := Key{ID: id, Name: m["name"]}
	for _, p := range strings.Split(m["scopes"], ",") {
		if p != "" {
			k.Scopes = append(k.Scopes, Scope(p))
		}
	}
	k.Created, _ = time.Parse(time.RFC3339Nano, m["created"])
	if r := m["revoked"]; r != "" {
		k.Revoked, _ = time.Parse(time.RFC3339, r)
	}
	return k
}

// List returns every key, oldest first.
func (s *Store) List(ctx context.Context) ([]Key, error) {
	ids, err := s.c.SMembers(ctx, s.indexKey()).Result()
	if err != nil {
		return nil, fmt.Errorf("listing API keys: %w", err)
	}
	pipe := s.c.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HGetAll(ctx, s.recordKey(id))
	}
	if len(ids) > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, fmt.Errorf("listing API keys: %w", err)
		}
	}
	out := make([]Key, 0, len(ids))
	for i, id := range ids {
		if m := cmds[i].Val(); len(m) > 0 {
			out = append(out, decode(id, m))
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// Revoke marks a key revoked; it stays listed. Revoking twice keeps the
// first time.
func (s *Store) Revoke(ctx context.Context, id string) error {
	n, err := s.c.Exists(ctx, s.recordKey(id)).Result()
	if err != nil {
		return fmt.Errorf("revoking API key: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("revoking API key %q: %w", id, ErrNotFound)
	}
	if err := s.c.HSetNX(ctx, s.recordKey(id), "revoked", s.now().UTC().Format(time.RFC3339)).Err(); err != nil {
		return fmt.Errorf("revoking API key: %w", err)
	}
	return nil
}

// dummyHash is compared against when the id is unknown, so that an
// unknown id costs the same as a wrong secret.
var dummyHash = hashSecret("")

// Check finds the key of plaintext and checks it may use scope. Its
// errors are ErrMissing, ErrWrong, ErrRevoked or ErrScope (test with
// errors.Is); any other error is Redis failing.
func (s *Store) Check(ctx context.Context, plaintext string, scope Scope) (Key, error) {
	plaintext = strings.TrimSpace(plaintext)
	if plaintext == "" {
		return Key{}, ErrMissing
	}
	id, secret, ok := split(plaintext)
	var m map[string]string
	if ok {
		var err error
		m, err = s.c.HGetAll(ctx, s.recordKey(id)).Result()
		if err != nil {
			return Key{}, fmt.Errorf("checking API key: %w", err)
		}
	}
	stored := m["hash"]
	if stored == "" {
		stored = dummyHash
	}
	// Compare the hashes in constant time, so the time taken says nothing
	// of how much of the secret was right.
	match := subtle.ConstantTimeCompare([]byte(hashSecret(secret)), []byte(stored)) == 1
	if !ok || m["hash"] == "" || !match {
		return Key{}, ErrWrong
	}
	k := decode(id, m)
	if !k.Revoked.IsZero() {
		return k, ErrRevoked
	}
	if !k.Allows(scope) {
		return k, fmt.Errorf("%w %q", ErrScope, scope)
	}
	return k, nil
}

// split reads ugw_<id>_<secret>.
func split(key string) (id, secret string, ok bool) {
	rest, found := strings.CutPrefix(key, "ugw_")
	if !found {
		return "", "", false
	}
	id, secret, found = strings.Cut(rest, "_")
	if !found || id == "" || secret == "" {
		return "", "", false
	}
	return id, secret, true
}
