package gateway_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ussdgw/ussdgw/flows"
	"github.com/ussdgw/ussdgw/gateway"
	"github.com/ussdgw/ussdgw/limits"
	"github.com/ussdgw/ussdgw/ussd"
	"github.com/ussdgw/ussdgw/ussd/storetest"
)

// TestPerNumberLimit: a burst above the per-number limits from one number
// is refused with the localized "try again later" END, while another
// number is served; a denied number gets END at once.
func TestPerNumberLimit(t *testing.T) {
	red := storetest.Redis(t)
	t.Cleanup(func() {
		ctx := context.Background()
		iter := red.Client.Scan(ctx, 0, "rate:"+red.Prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			red.Client.Del(ctx, iter.Val())
		}
	})
	french := strings.Replace(shop, "languages: [en]", "languages: [fr]", 1)
	set, err := flows.Compile(map[string][]byte{"shop.yaml": []byte(french)}, flows.Options{})
	if err != nil {
		t.Fatal(err)
	}
	lim := limits.NewRedis(red.Client, red.Prefix, limits.Rates{DialsPerMinute: 3, StepsPerMinute: 8})
	lim.SetTimeout(10 * time.Second) // a loaded test machine is not an outage
	h := gateway.New(gateway.Config{Manager: ussd.NewManager(ussd.Config{
		Store: ussd.NewRedisStore(red.Client, red.Prefix), Flows: set, Limiter: lim})})
	const later = "END Trop de demandes. Veuillez réessayer plus tard."

	// A burst of 20 dials from one number, concurrently, with another
	// number dialling in between.
	var wg sync.WaitGroup
	var mu sync.Mutex
	served, refused := 0, 0
	for i := range 20 {
		wg.Go(func() {
			_, body, _ := post(t, h, at(fmt.Sprintf("burst-%d", i), "254711000001", "*500#", ""))
			mu.Lock()
			defer mu.Unlock()
			switch {
			// Concurrent dials of one number race for its one session:
			// the losers get "unavailable", but they were admitted.
			case strings.HasPrefix(body, "CON Welcome"), strings.HasPrefix(body, "CON Vous avez une session inachevée"),
				strings.HasPrefix(body, "END Désolé"):
				served++
			case body == later:
				refused++
			default:
				t.Errorf("burst: %q", body)
			}
		})
	}
	for i := range 3 {
		_, body, _ := post(t, h, at(fmt.Sprintf("other-%d", i), fmt.Sprintf("25471100010%d", i), "*500#", ""))
		if !strings.HasPrefix(body, "CON Welcome") {
			t.Errorf("another number during the burst: %q", body)
		}
	}
	wg.Wait()
	if served != 3 || refused != 17 {
		t.Errorf("burst of 20 dials: %d admitted, %d refused; want 3 and 17", served, refused)
	}

	// Steps: one session, then fast inputs past 8 steps a minute.
	var bodies []string
	texts := []string{"", "1", "1*1", "1*1*x", "1*1*x*y", "1*1*x*y*z", "1*1*x*y*z*w", "1*1*x*y*z*w*v", "1*1*x*y*z*w*v*u", "1*1*x*y*z*w*v*u*t"}
	for _, text := range texts {
		_, body, _ := post(t, h, at("steps", "254711000002", "*500#", text))
		bodies = append(bodies, body)
	}
	for i, b := range bodies {
		if (i < 8) != (b != later) {
			t.Errorf("step %d: %q", i+1, b)
		}
	}

	if err := lim.Deny(context.Background(), "254711000003"); err != nil {
		t.Fatal(err)
	}
	if _, body, _ := post(t, h, at("denied", "+254711000003", "*500#", "")); body != "END Désolé, le service n'est pas disponible pour le moment. Réessayez plus tard." {
		t.Errorf("denied number: %q", body)
	}
}
