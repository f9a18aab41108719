package smpp

import (
	"encoding/binary"
	"fmt"

	"github.com/ussdgw/ussdgw/gsm"
)

// Octets of user data per SMS, without and with a concatenation UDH. GSM
// 7-bit counts unpacked septets (one per octet as we send them).
const (
	gsmSingle  = 160 // septets
	gsmUDH8    = 153 // 160 - 7 septets of 6-octet UDH
	gsmUDH16   = 152 // 160 - 8 septets of 7-octet UDH
	ucs2Single = 140 // octets = 70 UTF-16 units
	ucs2UDH8   = 134 // 67 units
	ucs2UDH16  = 132 // 66 units (133 octets, even)
	maxParts   = 255
	maxPayload = 0xFFFF
	dcUCS2     = 0x08
)

// encodedText is a text in the coding it will be sent in.
type encodedText struct {
	dc   uint8
	ucs2 bool
	data []byte // unpacked GSM septets, or UTF-16BE
}

// encodeText chooses GSM 03.38 (dc gsmDC) when every character fits,
// else UCS-2 (dc 0x08).
func encodeText(text string, gsmDC uint8) encodedText {
	if b, err := gsm.Encode(text); err == nil {
		return encodedText{dc: gsmDC, data: b}
	}
	return encodedText{dc: dcUCS2, ucs2: true, data: gsm.EncodeUCS2(text)}
}

// partSize returns the user data octets of one part for a method, and
// for a single unconcatenated SMS.
func (e encodedText) partSize(m ConcatMethod) (single, part int) {
	switch {
	case e.ucs2 && (m == ConcatUDH16 || m == ConcatSAR):
		return ucs2Single, ucs2UDH16
	case e.ucs2:
		return ucs2Single, ucs2UDH8
	case m == ConcatUDH16 || m == ConcatSAR:
		return gsmSingle, gsmUDH16
	}
	return gsmSingle, gsmUDH8
}

// unitLen is the length of the character at data[i]: an escape pair in
// GSM 7-bit, a surrogate pair in UTF-16, which must never be split.
func unitLen(data []byte, i int, ucs2 bool) int {
	if !ucs2 {
		if data[i] == gsm.Esc && i+1 < len(data) {
			return 2
		}
		return 1
	}
	if i+1 >= len(data) {
		return len(data) - i
	}
	if u := binary.BigEndian.Uint16(data[i:]); u >= 0xD800 && u < 0xDC00 && i+3 < len(data) {
		return 4
	}
	return 2
}

// split cuts data into parts of at most size octets, only between
// characters.
func split(data []byte, ucs2 bool, size int) [][]byte {
	var parts [][]byte
	start := 0
	for i := 0; i < len(data); {
		n := unitLen(data, i, ucs2)
		if i+n-start > size {
			parts = append(parts, data[start:i])
			start = i
		}
		i += n
	}
	return append(parts, data[start:])
}

// Segments returns how many SMS a text takes and whether it goes as UCS-2,
// with the given concatenation method (part sizes differ by method).
func Segments(text string, m ConcatMethod) (n int, ucs2 bool) {
	e := encodeText(text, 0)
	single, part := e.partSize(m)
	if len(e.data) <= single {
		return 1, e.ucs2
	}
	return len(split(e.data, e.ucs2, part)), e.ucs2
}

// plan builds the submit_sm PDUs of a text: one when it fits a single
// SMS, else one per part with a UDH or SAR TLVs, or one message_payload.
func (c *Client) plan(text string, base ShortMessage) ([]*ShortMessage, int, error) {
	e := encodeText(text, c.cfg.DataCoding)
	base.DataCoding = e.dc
	single, size := e.partSize(c.cfg.Concat)
	if len(e.data) <= single {
		sm := base
		sm.Body = e.data
		return []*ShortMessage{&sm}, 1, nil
	}
	parts := split(e.data, e.ucs2, size)
	if c.cfg.Concat == ConcatPayload {
		if len(e.data) > maxPayload {
			return nil, 0, fmt.Errorf("text of %d octets is over the message_payload limit %d", len(e.data), maxPayload)
		}
		sm := base
		sm.TLVs = TLVs{TagMessagePayload: e.data}
		sm.Segments = len(parts)
		return []*ShortMessage{&sm}, len(parts), nil
	}
	if len(parts) > maxParts {
		return nil, 0, fmt.Errorf("text needs %d parts, over %d", len(parts), maxParts)
	}
	ref := uint16(c.refs.Add(1))
	if c.cfg.Concat == ConcatUDH8 {
		ref &= 0xFF
	}
	total := uint8(len(parts))
	out := make([]*ShortMessage, len(parts))
	for i, p := range parts {
		sm := base
		seq := uint8(i + 1)
		switch c.cfg.Concat {
		case ConcatSAR:
			sm.Body = p
			sm.TLVs = TLVs{
				TagSarMsgRefNum:     binary.BigEndian.AppendUint16(nil, ref),
				TagSarTotalSegments: {total},
				TagSarSegmentSeqnum: {seq},
			}
		default:
			sm.ESMClass |= esmUDHI
			sm.Body = append(appendConcatUDH(make([]byte, 0, 7+len(p)), c.cfg.Concat == ConcatUDH16, ref, total, seq), p...)
		}
		out[i] = &sm
	}
	return out, len(parts), nil
}
