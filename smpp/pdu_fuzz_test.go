package smpp

import (
	"bytes"
	"strings"
	"testing"

	"github.com/fiorix/go-smpp/smpp/pdu"
)

// encodeDeliver is a deliver_sm body with every mandatory field given
// (SMPP 3.4 §4.6.1), then one TLV.
func encodeDeliver(svc string, src, dst Addr, esm, pid, prio, rd, dc uint8, sm []byte, tag uint16, tv []byte) []byte {
	cs := func(b []byte, s string) []byte { return append(append(b, s...), 0) }
	b := cs(nil, svc)
	b = cs(append(b, src.TON, src.NPI), src.Addr)
	b = cs(append(b, dst.TON, dst.NPI), dst.Addr)
	b = append(b, esm, pid, prio, 0, 0, rd, 0, dc, 0, byte(len(sm)))
	b = append(b, sm...)
	if tag != 0 {
		b = append(b, tlv(tag, tv)...)
	}
	return b
}

// FuzzDeliverRoundTrip: a deliver_sm built from any field values decodes
// to the same values (format then parse), and its frame reads back whole.
func FuzzDeliverRoundTrip(f *testing.F) {
	f.Add("USSD", "254700000001", "384", uint8(1), uint8(1), uint8(0x40), uint8(0), uint8(0), uint8(0), uint8(0x0F), []byte("*384#"), uint16(0x0501), []byte{1})
	f.Add("", "254700000001", "500", uint8(0), uint8(0), uint8(0x04), uint8(0), uint8(1), uint8(1), uint8(0), []byte("id:1 stat:DELIVRD"), uint16(0x001E), []byte("1\x00"))
	f.Add("CMT", "", "", uint8(5), uint8(9), uint8(0x40), uint8(0x7F), uint8(3), uint8(0xFF), uint8(8), []byte{5, 0, 3, 1, 2, 1, 0xD8, 0x3D}, uint16(0x0424), bytes.Repeat([]byte{0xAA}, 300))
	f.Add("x", "ሰላም", "+*#", uint8(0), uint8(0), uint8(0), uint8(0), uint8(0), uint8(0), uint8(0), []byte{}, uint16(0), []byte{})
	f.Fuzz(func(t *testing.T, svc, srcAddr, dstAddr string, ston, snpi, esm, pid, prio, rd, dc uint8, sm []byte, tag uint16, tv []byte) {
		if strings.ContainsRune(svc+srcAddr+dstAddr, 0) || len(sm) > 254 || len(tv) > 0xFFFF {
			return // not representable: C-strings end at NUL; sm_length is one octet
		}
		src, dst := Addr{Addr: srcAddr, TON: ston, NPI: snpi}, Addr{Addr: dstAddr, TON: snpi, NPI: ston}
		body := encodeDeliver(svc, src, dst, esm, pid, prio, rd, dc, sm, tag, tv)
		frame := encodeFrame(pdu.DeliverSMID, 0, 7, body)
		h, got, err := readFrame(bytes.NewReader(frame), len(frame))
		if err != nil || h.Seq != 7 || h.ID != pdu.DeliverSMID || !bytes.Equal(got, body) {
			t.Fatalf("frame: %v %+v", err, h)
		}
		in, err := decodeInbound(h, got)
		if err != nil {
			t.Fatalf("decoding what was encoded: %v", err)
		}
		if in.ServiceType != svc || in.Source != src || in.Dest != dst || in.ESMClass != esm || in.ProtocolID != pid ||
			in.PriorityFlag != prio || in.RegisteredDelivery != rd || in.DataCoding != dc || !bytes.Equal(in.ShortMessage, sm) {
			t.Fatalf("decoded %+v", in)
		}
		if tag != 0 && !bytes.Equal(in.TLVs[Tag(tag)], tv) || tag == 0 && len(in.TLVs) != 0 {
			t.Fatalf("tlvs %v, want 0x%04X=% x", in.TLVs, tag, tv)
		}
	})
}
