package smpp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/fiorix/go-smpp/smpp/pdu"
)

const (
	headerLen = 16
	respBit   = 0x80000000
	// discardLimit is the largest command_length we read past when it is
	// over the configured maximum; beyond it the stream is taken as lost.
	discardLimit = 1 << 20
	// maxShortMessage is the largest short_message sm_length can describe
	// (SMPP 3.4 §5.2.21 says 254; go-smpp silently truncates beyond 255).
	maxShortMessage = 254
)

// lengthError is a PDU whose command_length we refuse. Skipped means its
// body was read and thrown away, so the stream is still framed.
type lengthError struct {
	Len     uint32
	Max     int
	Skipped bool
}

func (e *lengthError) Error() string {
	if e.Len < headerLen {
		return fmt.Sprintf("command_length %d is below the header size", e.Len)
	}
	return fmt.Sprintf("command_length %d is over the maximum %d", e.Len, e.Max)
}

// readFrame reads one PDU: the 16-byte header, then command_length-16 bytes
// of body. It never trusts command_length for an allocation larger than
// max. A length over max but within discardLimit is read past and reported
// as a *lengthError with Skipped set, header intact; a length below 16 or
// over discardLimit is a *lengthError without Skipped, after which the
// stream cannot be framed.
func readFrame(r io.Reader, max int) (pdu.Header, []byte, error) {
	var b [headerLen]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return pdu.Header{}, nil, err
	}
	h := pdu.Header{
		Len:    binary.BigEndian.Uint32(b[0:4]),
		ID:     pdu.ID(binary.BigEndian.Uint32(b[4:8])),
		Status: pdu.Status(binary.BigEndian.Uint32(b[8:12])),
		Seq:    binary.BigEndian.Uint32(b[12:16]),
	}
	switch {
	case h.Len < headerLen:
		return h, nil, &lengthError{Len: h.Len, Max: max}
	case int64(h.Len) > int64(max):
		if h.Len > discardLimit {
			return h, nil, &lengthError{Len: h.Len, Max: max}
		}
		if _, err := io.CopyN(io.Discard, r, int64(h.Len-headerLen)); err != nil {
			return h, nil, err
		}
		return h, nil, &lengthError{Len: h.Len, Max: max, Skipped: true}
	}
	body := make([]byte, h.Len-headerLen)
	if _, err := io.ReadFull(r, body); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return h, nil, err
	}
	return h, body, nil
}

// headerOnly returns a PDU that has a header and the given body.
func encodeFrame(id pdu.ID, status CommandStatus, seq uint32, body []byte) []byte {
	b := make([]byte, headerLen+len(body))
	binary.BigEndian.PutUint32(b[0:4], uint32(len(b)))
	binary.BigEndian.PutUint32(b[4:8], uint32(id))
	binary.BigEndian.PutUint32(b[8:12], uint32(status))
	binary.BigEndian.PutUint32(b[12:16], seq)
	copy(b[headerLen:], body)
	return b
}

// serialize encodes a go-smpp PDU with our sequence number.
func serialize(p pdu.Body, seq uint32) ([]byte, error) {
	p.Header().Seq = seq
	var buf bytes.Buffer
	if err := p.SerializeTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// cString reads a C-octet string from the start of b (up to the first NUL
// or the end) and returns it.
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return string(b[:i])
	}
	return string(b)
}

// commandName names a command id for logs and errors.
func commandName(id pdu.ID) string {
	if s := id.String(); s != "" {
		return s
	}
	return fmt.Sprintf("command 0x%08X", uint32(id))
}
