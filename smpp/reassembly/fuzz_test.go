package reassembly

import (
	"context"
	"testing"
	"time"

	"github.com/ussdgw/ussdgw/smpp"
	"github.com/ussdgw/ussdgw/ussd"
)

// FuzzAdd feeds arbitrary parts to both reassemblers: a malformed UDH or
// SAR must be an error or a message, never a panic, and a message never
// carries more user data than was given.
func FuzzAdd(f *testing.F) {
	f.Add(uint8(esmUDHI), uint8(8), []byte{5, 0, 3, 1, 2, 1, 0xD8, 0x3D}, []byte(nil))
	f.Add(uint8(0), uint8(0), []byte("hello"), []byte{0, 1, 2, 1})
	f.Add(uint8(esmUDHI), uint8(0), []byte{9, 0}, []byte(nil))
	f.Add(uint8(esmUDHI), uint8(0), []byte{6, 8, 4, 0, 1, 1, 1, 'a'}, []byte(nil))
	mem := NewReassembler(time.Minute, 100)
	store := ussd.NewMemoryStore()
	f.Cleanup(func() { store.Close() })
	parts := NewMOParts(store, "f:", time.Minute)
	f.Fuzz(func(t *testing.T, esm, dc uint8, sm, sar []byte) {
		in := &smpp.Inbound{Source: smpp.Addr{Addr: "254700000001"}, ESMClass: esm, DataCoding: dc, ShortMessage: sm}
		if len(sar) >= 4 {
			in.TLVs = smpp.TLVs{smpp.TagSarMsgRefNum: sar[:2], smpp.TagSarTotalSegments: sar[2:3], smpp.TagSarSegmentSeqnum: sar[3:4]}
		}
		if m, err := mem.Add(in); err == nil && m != nil && len(m.Raw) > len(sm)*int(max(m.Parts, 1)) {
			t.Fatalf("memory: %d bytes of user data from parts of at most %d", len(m.Raw), len(sm))
		}
		if m, err := parts.Add(context.Background(), in); err == nil && m != nil && len(m.Raw) > len(sm)*int(max(m.Parts, 1)) {
			t.Fatalf("kv: %d bytes of user data from parts of at most %d", len(m.Raw), len(sm))
		}
	})
}
