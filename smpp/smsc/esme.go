package smsc

import (
	"context"
	"encoding/binary"
	"sync"

	"github.com/ussdgw/ussdgw/smpp"
)

// Menu is a USSD service for ESMEHandler: given the dialled string and
// the user's inputs so far, the next screen and whether it is the last.
type Menu func(code string, inputs []string) (text string, end bool)

// ESMEHandler returns an smpp.Handler that serves menu over USSD the way
// profile p expects an ESME to (continue and end ops, end bit, the
// session key echoed), answering on the bind the deliver_sm came on and
// never retrying. It is a stand-in for the gateway in tests and in the
// load generator's self-test; other deliver_sm (MO, receipts) are
// accepted and ignored.
func ESMEHandler(p Profile, menu Menu) smpp.Handler {
	var mu sync.Mutex
	type state struct {
		code   string
		inputs []string
	}
	sessions := map[sessionKey]*state{}
	return smpp.HandlerFunc(func(ctx context.Context, in *smpp.Inbound) smpp.CommandStatus {
		op, ok := in.TLVs.Uint8(smpp.TagUssdServiceOp)
		if !ok {
			return smpp.StatusOK
		}
		key, _ := in.TLVs.Get(p.SessionKey)
		k := sessionKey{msisdn: in.Source.Addr}
		if len(key) == 2 {
			k.key = binary.BigEndian.Uint16(key) & p.keyMask()
		}
		text, _ := in.Text()
		abort := (p.AbortOp != 0 && op == p.AbortOp) || (p.AbortBit && len(key) == 2 && key[1]&1 == 1)
		mu.Lock()
		st := sessions[k]
		switch {
		case abort:
			delete(sessions, k)
			mu.Unlock()
			return smpp.StatusOK
		case op == p.OpenOp:
			st = &state{code: text}
			sessions[k] = st
		case op == p.ReplyOp && st != nil:
			st.inputs = append(st.inputs, text)
		default:
			mu.Unlock()
			return smpp.StatusXPAppn // a reply to no session we know
		}
		code, inputs := st.code, append([]string(nil), st.inputs...)
		mu.Unlock()

		screen, end := menu(code, inputs)
		sop := p.ContinueOps[0]
		skey := append([]byte(nil), key...)
		if end {
			if len(p.EndOps) > 0 {
				sop = p.EndOps[0]
			}
			if p.EndBit && len(skey) == 2 {
				skey[1] |= 1
			}
			mu.Lock()
			delete(sessions, k)
			mu.Unlock()
		} else if len(skey) == 2 && p.SessionKey == smpp.TagItsSessionInfo {
			skey[1] &^= 1
		}
		dc := p.DataCoding
		body, err := encodeGSM(screen)
		if err != nil {
			dc, body = 0x08, encodeUCS2(screen)
		}
		_, err = in.Client.Submit(ctx, &smpp.ShortMessage{
			ServiceType: p.ServiceType, Source: in.Dest, Dest: in.Source, DataCoding: dc, Body: body,
			TLVs: smpp.TLVs{smpp.TagUssdServiceOp: {sop}, p.SessionKey: skey},
		}, smpp.NoRetry())
		if err != nil {
			return smpp.StatusXTAppn
		}
		return smpp.StatusOK
	})
}
