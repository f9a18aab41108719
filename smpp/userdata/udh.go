package userdata

import (
	"encoding/binary"
	"fmt"
)

// IE is one information element of a user data header.
type IE struct {
	ID   uint8
	Data []byte
}

// UDH is a user data header (3GPP TS 23.040 §9.2.3.24): its information
// elements in order.
type UDH []IE

// The concatenation information element ids.
const (
	ieiConcat8  = 0x00 // 8-bit reference: ref, total, seq
	ieiConcat16 = 0x08 // 16-bit reference: refHi, refLo, total, seq
)

// ParseUDH splits user data that starts with a UDH (the UDHL octet first)
// into the header and the rest. It fails, without panicking, on any length
// that points past the data.
func ParseUDH(b []byte) (UDH, []byte, error) {
	if len(b) == 0 {
		return nil, nil, fmt.Errorf("parsing udh: no user data")
	}
	n := int(b[0])
	if 1+n > len(b) {
		return nil, nil, fmt.Errorf("parsing udh: length %d over %d octets of user data", n, len(b)-1)
	}
	h := b[1 : 1+n]
	var u UDH
	for len(h) > 0 {
		if len(h) < 2 {
			return nil, nil, fmt.Errorf("parsing udh: information element cut short")
		}
		l := int(h[1])
		if 2+l > len(h) {
			return nil, nil, fmt.Errorf("parsing udh: element 0x%02X length %d over the header", h[0], l)
		}
		u = append(u, IE{ID: h[0], Data: h[2 : 2+l]})
		h = h[2+l:]
	}
	return u, b[1+n:], nil
}

// Concat returns the concatenation element (IEI 0x00 or 0x08): the
// reference, the number of parts and this part's number (1-based). ok is
// false when there is none or it is inconsistent (no parts, or a part
// number outside 1..total).
func (u UDH) Concat() (ref uint16, total, seq uint8, ok bool) {
	for _, ie := range u {
		switch {
		case ie.ID == ieiConcat8 && len(ie.Data) == 3:
			ref, total, seq = uint16(ie.Data[0]), ie.Data[1], ie.Data[2]
		case ie.ID == ieiConcat16 && len(ie.Data) == 4:
			ref, total, seq = binary.BigEndian.Uint16(ie.Data), ie.Data[2], ie.Data[3]
		default:
			continue
		}
		return ref, total, seq, total > 0 && seq > 0 && seq <= total
	}
	return 0, 0, 0, false
}

// AppendConcatUDH appends a UDH with one concatenation element.
func AppendConcatUDH(dst []byte, wide bool, ref uint16, total, seq uint8) []byte {
	if wide {
		return append(dst, 6, ieiConcat16, 4, byte(ref>>8), byte(ref), total, seq)
	}
	return append(dst, 5, ieiConcat8, 3, byte(ref), total, seq)
}
