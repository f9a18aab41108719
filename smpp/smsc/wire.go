package smsc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/fiorix/go-smpp/smpp/pdu"
	"github.com/fiorix/go-smpp/smpp/pdu/pdufield"
	"github.com/fiorix/go-smpp/smpp/pdu/pdutlv"
	"github.com/ussdgw/ussdgw/smpp"
)

// The framing follows package smpp's wire.go (whose helpers are not
// exported): a 16-octet header, then command_length-16 octets of body.
const (
	headerLen = 16
	respBit   = 0x80000000
)

// frame is one PDU as read: header and undecoded body.
type frame struct {
	h    pdu.Header
	body []byte
}

// errFraming is a command_length the stream cannot be framed past.
var errFraming = errors.New("command_length out of range")

// readFrame reads one PDU, refusing a command_length below 16 or over max.
func readFrame(r io.Reader, max int) (frame, error) {
	var b [headerLen]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return frame{}, err
	}
	h := pdu.Header{
		Len:    binary.BigEndian.Uint32(b[0:4]),
		ID:     pdu.ID(binary.BigEndian.Uint32(b[4:8])),
		Status: pdu.Status(binary.BigEndian.Uint32(b[8:12])),
		Seq:    binary.BigEndian.Uint32(b[12:16]),
	}
	if h.Len < headerLen || int64(h.Len) > int64(max) {
		return frame{h: h}, fmt.Errorf("%w: %d", errFraming, h.Len)
	}
	body := make([]byte, h.Len-headerLen)
	if _, err := io.ReadFull(r, body); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return frame{h: h}, err
	}
	return frame{h, body}, nil
}

// encodeFrame returns a whole PDU: header, then body.
func encodeFrame(id pdu.ID, status smpp.CommandStatus, seq uint32, body []byte) []byte {
	b := make([]byte, headerLen+len(body))
	binary.BigEndian.PutUint32(b[0:4], uint32(len(b)))
	binary.BigEndian.PutUint32(b[4:8], uint32(id))
	binary.BigEndian.PutUint32(b[8:12], uint32(status))
	binary.BigEndian.PutUint32(b[12:16], seq)
	copy(b[headerLen:], body)
	return b
}

// smFields are the mandatory fields of submit_sm and deliver_sm (SMPP 3.4
// §4.4.1, §4.6.1), which are the same. We do not use go-smpp's deliver_sm
// list: it splits the UDH out and serialises malformed (docs/smpp.md, "go-smpp's gaps").
var smFields = pdufield.List{
	pdufield.ServiceType, pdufield.SourceAddrTON, pdufield.SourceAddrNPI, pdufield.SourceAddr,
	pdufield.DestAddrTON, pdufield.DestAddrNPI, pdufield.DestinationAddr, pdufield.ESMClass,
	pdufield.ProtocolID, pdufield.PriorityFlag, pdufield.ScheduleDeliveryTime, pdufield.ValidityPeriod,
	pdufield.RegisteredDelivery, pdufield.ReplaceIfPresentFlag, pdufield.DataCoding,
	pdufield.SMDefaultMsgID, pdufield.SMLength, pdufield.ShortMessage,
}

// bindFields are the fields of bind_transmitter/receiver/transceiver.
var bindFields = pdufield.List{
	pdufield.SystemID, pdufield.Password, pdufield.SystemType,
	pdufield.InterfaceVersion, pdufield.AddrTON, pdufield.AddrNPI, pdufield.AddressRange,
}

// sm is the body of a submit_sm or deliver_sm, field by field.
type sm struct {
	ServiceType        string
	Source, Dest       smpp.Addr
	ESMClass           uint8
	ProtocolID         uint8
	PriorityFlag       uint8
	RegisteredDelivery uint8
	DataCoding         uint8
	ShortMessage       []byte
	TLVs               smpp.TLVs
}

// encode serialises the body with go-smpp's field codec, TLVs as raw
// bytes (go-smpp drops integer TLV values, docs/smpp.md, "go-smpp's gaps").
func (m *sm) encode() ([]byte, error) {
	if len(m.ShortMessage) > 254 {
		return nil, fmt.Errorf("short_message of %d octets is over 254; use message_payload", len(m.ShortMessage))
	}
	f := pdufield.Map{}
	_ = f.Set(pdufield.ServiceType, m.ServiceType)
	_ = f.Set(pdufield.SourceAddrTON, m.Source.TON)
	_ = f.Set(pdufield.SourceAddrNPI, m.Source.NPI)
	_ = f.Set(pdufield.SourceAddr, m.Source.Addr)
	_ = f.Set(pdufield.DestAddrTON, m.Dest.TON)
	_ = f.Set(pdufield.DestAddrNPI, m.Dest.NPI)
	_ = f.Set(pdufield.DestinationAddr, m.Dest.Addr)
	_ = f.Set(pdufield.ESMClass, m.ESMClass)
	_ = f.Set(pdufield.ProtocolID, m.ProtocolID)
	_ = f.Set(pdufield.PriorityFlag, m.PriorityFlag)
	_ = f.Set(pdufield.RegisteredDelivery, m.RegisteredDelivery)
	_ = f.Set(pdufield.DataCoding, m.DataCoding)
	_ = f.Set(pdufield.ShortMessage, append([]byte{}, m.ShortMessage...))
	var b bytes.Buffer
	for _, k := range smFields {
		v, ok := f[k]
		if !ok {
			_ = f.Set(k, nil)
			v = f[k]
		}
		if err := v.SerializeTo(&b); err != nil {
			return nil, err
		}
	}
	for tag, v := range m.TLVs {
		if len(v) > 0xFFFF {
			return nil, fmt.Errorf("tlv 0x%04X of %d octets is over 65535", uint16(tag), len(v))
		}
		if err := pdutlv.NewTLV(pdutlv.Tag(tag), v).SerializeTo(&b); err != nil {
			return nil, err
		}
	}
	return b.Bytes(), nil
}

// decodeSM decodes a submit_sm or deliver_sm body with go-smpp's field
// codec. It never panics on hostile input.
func decodeSM(body []byte) (m *sm, err error) {
	defer func() {
		if r := recover(); r != nil {
			m, err = nil, fmt.Errorf("decoding body: %v", r)
		}
	}()
	buf := bytes.NewBuffer(body)
	f, err := smFields.Decode(buf)
	if err != nil {
		return nil, fmt.Errorf("decoding body: %w", err)
	}
	if f[pdufield.ShortMessage] == nil && f[pdufield.SMLength] == nil {
		return nil, errors.New("decoding body: it ends before the mandatory fields")
	}
	if l := f[pdufield.SMLength]; l != nil && len(l.Bytes()) == 1 && f[pdufield.ShortMessage] != nil &&
		len(f[pdufield.ShortMessage].Bytes()) != int(l.Bytes()[0]) {
		return nil, errors.New("decoding body: short_message is shorter than sm_length")
	}
	tm, err := pdutlv.DecodeTLV(buf)
	if err != nil {
		return nil, fmt.Errorf("decoding tlvs: %w", err)
	}
	m = &sm{
		ServiceType:        fieldString(f, pdufield.ServiceType),
		Source:             smpp.Addr{Addr: fieldString(f, pdufield.SourceAddr), TON: fieldByte(f, pdufield.SourceAddrTON), NPI: fieldByte(f, pdufield.SourceAddrNPI)},
		Dest:               smpp.Addr{Addr: fieldString(f, pdufield.DestinationAddr), TON: fieldByte(f, pdufield.DestAddrTON), NPI: fieldByte(f, pdufield.DestAddrNPI)},
		ESMClass:           fieldByte(f, pdufield.ESMClass),
		ProtocolID:         fieldByte(f, pdufield.ProtocolID),
		PriorityFlag:       fieldByte(f, pdufield.PriorityFlag),
		RegisteredDelivery: fieldByte(f, pdufield.RegisteredDelivery),
		DataCoding:         fieldByte(f, pdufield.DataCoding),
		TLVs:               make(smpp.TLVs, len(tm)),
	}
	if v := f[pdufield.ShortMessage]; v != nil {
		m.ShortMessage = v.Bytes()
	}
	for tag, v := range tm {
		m.TLVs[smpp.Tag(tag)] = v.Bytes()
	}
	return m, nil
}

// bindReq is a decoded bind_* request.
type bindReq struct {
	SystemID, Password, SystemType string
	InterfaceVersion               uint8
}

func decodeBind(body []byte) (b bindReq, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("decoding bind: %v", r)
		}
	}()
	f, err := bindFields.Decode(bytes.NewBuffer(body))
	if err != nil {
		return bindReq{}, fmt.Errorf("decoding bind: %w", err)
	}
	if f[pdufield.SystemType] == nil {
		return bindReq{}, errors.New("decoding bind: it ends before system_type")
	}
	return bindReq{
		SystemID:         fieldString(f, pdufield.SystemID),
		Password:         fieldString(f, pdufield.Password),
		SystemType:       fieldString(f, pdufield.SystemType),
		InterfaceVersion: fieldByte(f, pdufield.InterfaceVersion),
	}, nil
}

func fieldString(f pdufield.Map, n pdufield.Name) string {
	if v := f[n]; v != nil {
		return v.String()
	}
	return ""
}

func fieldByte(f pdufield.Map, n pdufield.Name) uint8 {
	if v, ok := f[n].(*pdufield.Fixed); ok {
		return v.Data
	}
	return 0
}

// cString appends s and a NUL.
func cString(s string) []byte { return append([]byte(s), 0) }
