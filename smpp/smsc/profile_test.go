package smsc

import (
	"slices"
	"testing"

	"github.com/ussdgw/ussdgw/smpp"
)

// TestProfilesMirrorGateway: each preset speaks what the gateway's preset
// of the same name expects (package smpp's USSDPresets), so the simulator
// and the load generator drift with the gateway only when a test says so.
func TestProfilesMirrorGateway(t *testing.T) {
	for name, g := range smpp.USSDPresets {
		p, err := ProfileByName(name)
		if err != nil {
			t.Errorf("%s: the gateway has a profile the simulator lacks", name)
			continue
		}
		key := map[smpp.SessionKey]smpp.Tag{smpp.KeySessionInfo: smpp.TagItsSessionInfo, smpp.KeyUMR: smpp.TagUserMessageReference}[g.SessionKey]
		check := func(what string, ok bool) {
			if !ok {
				t.Errorf("%s: %s differs: simulator %+v, gateway %+v", name, what, p, g)
			}
		}
		check("session key", p.SessionKey == key)
		if key == smpp.TagItsSessionInfo {
			check("session mask", p.keyMask() == g.SessionMask)
		}
		check("service_type", p.ServiceType == g.ServiceType)
		check("data_coding", p.DataCoding == g.DataCoding)
		check("open op", slices.Contains(g.OpenOps, p.OpenOp))
		check("reply op", slices.Contains(g.ReplyOps, p.ReplyOp))
		check("continue op", p.continues(g.ContinueOp))
		endByOp := g.EndBy == smpp.EndByOp || g.EndBy == smpp.EndByBoth
		endByBit := g.EndBy == smpp.EndByBit || g.EndBy == smpp.EndByBoth
		check("end op", !endByOp || slices.Contains(p.EndOps, g.EndOp))
		check("end bit", p.EndBit == endByBit)
		check("abort op", p.AbortOp == 0 || slices.Contains(g.AbortOps, p.AbortOp))
		check("abort bit", p.AbortBit == g.AbortBit)
		// What ends a screen for the gateway ends it here.
		k := []byte{0x12, 0x02}
		if endByBit {
			k[1] |= 1
		}
		check("a last screen ends the session", p.ends(g.EndOp, k))
		check("a screen that waits does not end it", !p.ends(g.ContinueOp, []byte{0x12, 0x02}))
	}
	for name := range Profiles {
		if _, ok := smpp.USSDPresets[name]; !ok {
			t.Errorf("%s: the simulator has a profile the gateway lacks", name)
		}
	}
}
