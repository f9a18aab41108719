package smpp

import "encoding/binary"

// Tag is an SMPP optional parameter (TLV) tag.
type Tag uint16

// The tags this package and its users read or write (SMPP 3.4 §5.3.2).
const (
	TagReceiptedMessageID   Tag = 0x001E
	TagUserMessageReference Tag = 0x0204
	TagSourcePort           Tag = 0x020A
	TagDestinationPort      Tag = 0x020B
	TagSarMsgRefNum         Tag = 0x020C
	TagSarTotalSegments     Tag = 0x020E
	TagSarSegmentSeqnum     Tag = 0x020F
	TagNetworkErrorCode     Tag = 0x0423
	TagMessagePayload       Tag = 0x0424
	TagMessageState         Tag = 0x0427
	TagUssdServiceOp        Tag = 0x0501
	TagItsReplyType         Tag = 0x1380
	TagItsSessionInfo       Tag = 0x1383
)

// TLVs are the optional parameters of a PDU, values as raw bytes. Values
// are []byte on purpose: go-smpp silently drops uint16/uint32/bool TLV
// values (docs/smpp.md, "go-smpp's gaps"), so every value we send is already encoded.
// When a tag repeats in a PDU, the last value wins.
type TLVs map[Tag][]byte

// Get returns the value of tag and whether it is present.
func (t TLVs) Get(tag Tag) ([]byte, bool) {
	v, ok := t[tag]
	return v, ok
}

// Uint8 returns a one-octet value.
func (t TLVs) Uint8(tag Tag) (uint8, bool) {
	v, ok := t[tag]
	if !ok || len(v) != 1 {
		return 0, false
	}
	return v[0], true
}

// Uint16 returns a two-octet big-endian value.
func (t TLVs) Uint16(tag Tag) (uint16, bool) {
	v, ok := t[tag]
	if !ok || len(v) != 2 {
		return 0, false
	}
	return binary.BigEndian.Uint16(v), true
}

// CString returns a C-octet string value without its NUL.
func (t TLVs) CString(tag Tag) (string, bool) {
	v, ok := t[tag]
	if !ok {
		return "", false
	}
	return cString(v), true
}

// SetUint8 sets a one-octet value.
func (t TLVs) SetUint8(tag Tag, v uint8) { t[tag] = []byte{v} }

// SetUint16 sets a two-octet big-endian value.
func (t TLVs) SetUint16(tag Tag, v uint16) { t[tag] = binary.BigEndian.AppendUint16(nil, v) }

// SAR reads the sar_msg_ref_num, sar_total_segments and
// sar_segment_seqnum TLVs of one part of a concatenated message; ok is
// false when one is missing or they do not make sense (seq 0 or beyond
// total).
func (t TLVs) SAR() (ref uint16, total, seq uint8, ok bool) {
	ref, ok1 := t.Uint16(TagSarMsgRefNum)
	total, ok2 := t.Uint8(TagSarTotalSegments)
	seq, ok3 := t.Uint8(TagSarSegmentSeqnum)
	return ref, total, seq, ok1 && ok2 && ok3 && total > 0 && seq > 0 && seq <= total
}
