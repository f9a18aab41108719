package smpp_test

import (
	"context"
	"log"
	"time"

	"github.com/ussdgw/ussdgw/smpp"
	"github.com/ussdgw/ussdgw/smpp/reassembly"
)

// A Handler built from the pieces of this package: receipts go to the
// status store, concatenated MO is reassembled, USSD answers on the bind
// it came on and is never retried.
func Example() {
	store := smpp.NewMemoryStore(24 * time.Hour)
	mo := reassembly.NewReassembler(2*time.Minute, 10000)
	var pool *smpp.Pool // every bind of the operator, built after the Clients

	profile := smpp.USSDPresets["tata"]

	ussd := smpp.HandlerFunc(func(ctx context.Context, in *smpp.Inbound) smpp.CommandStatus {
		if profile.IsUSSD(in) {
			m, err := profile.Parse(in)
			if err != nil {
				return err.(*smpp.USSDError).Status
			}
			if m.Kind != smpp.USSDOpen {
				return smpp.StatusOK // a real gateway continues or aborts the dialogue (smpp/bridge)
			}
			_ = in.Ack(smpp.StatusOK) // answer the deliver_sm first, then work
			screen := profile.Answer(in, &m, "1. Prices\n2. Weather", false)
			if _, err := pool.Submit(ctx, in.Client, screen, smpp.NoRetry()); err != nil {
				log.Print(err) // never retried: a late screen is worse than none
			}
			return smpp.StatusOK
		}
		m, err := mo.Add(in)
		if err != nil {
			return smpp.StatusXPAppn // a UDH that will never parse
		}
		if m != nil {
			_ = m.Text // route the whole MO by keyword
		}
		return smpp.StatusOK
	})

	cfg := smpp.Defaults()
	cfg.Name, cfg.Address, cfg.SystemID, cfg.PasswordEnv = "op-1", "10.0.0.1:2775", "ussdgw", "OP1_SMPP_PASSWORD"
	cfg.Sources = []smpp.Source{{Addr: "384", TON: 3, NPI: 0}}
	c, err := smpp.New(cfg, smpp.Receipts(store, nil, ussd), smpp.WithStatusStore(store))
	if err != nil {
		log.Print(err) // here: OP1_SMPP_PASSWORD is unset
		return
	}
	pool, _ = smpp.NewPool(c)
	_ = c.Start()
	defer c.Close(context.Background())
	_, _ = c.Send(context.Background(), smpp.Message{Dst: "254700000001", Text: "Maize: 1200 KES", Ref: "order-17"})
}
