package smpp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"github.com/fiorix/go-smpp/smpp/pdu"
)

func TestReadFrame(t *testing.T) {
	ok := encodeFrame(pdu.EnquireLinkID, 0, 9, []byte("body"))
	big := rawFrame(600, pdu.DeliverSMID, 10, make([]byte, 600-16))
	stream := append(append(append([]byte{}, ok...), big...), ok...)
	r := bytes.NewReader(stream)
	h, body, err := readFrame(r, 512)
	if err != nil || h.ID != pdu.EnquireLinkID || h.Seq != 9 || string(body) != "body" {
		t.Fatalf("first: %+v %q %v", h, body, err)
	}
	var le *lengthError
	if h, _, err := readFrame(r, 512); !errors.As(err, &le) || !le.Skipped || h.Seq != 10 {
		t.Fatalf("oversize: %+v %v", h, err)
	}
	if h, _, err := readFrame(r, 512); err != nil || h.Seq != 9 {
		t.Fatalf("after oversize the stream is framed: %+v %v", h, err)
	}
	if _, _, err := readFrame(bytes.NewReader(rawFrame(15, 1, 1, nil)), 512); !errors.As(err, &le) || le.Skipped {
		t.Errorf("short length: %v", err)
	}
	if _, _, err := readFrame(bytes.NewReader(rawFrame(discardLimit+1, 1, 1, nil)), 512); !errors.As(err, &le) || le.Skipped {
		t.Errorf("huge length: %v", err)
	}
	if _, _, err := readFrame(bytes.NewReader(ok[:18]), 512); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("cut body: %v", err)
	}
}

func FuzzReadFrame(f *testing.F) {
	f.Add(encodeFrame(pdu.DeliverSMID, 0, 1, deliverBody(0, 0, []byte("hi"), 2)))
	f.Add(rawFrame(8, pdu.DeliverSMID, 1, nil))
	f.Add(rawFrame(0xFFFFFFFF, pdu.DeliverSMID, 1, nil))
	f.Add(rawFrame(700, pdu.DataSMID, 1, make([]byte, 10)))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		for {
			h, body, err := readFrame(r, 512)
			var le *lengthError
			switch {
			case errors.As(err, &le) && le.Skipped:
				continue
			case err != nil:
				return
			}
			if int(h.Len) != headerLen+len(body) || len(body) > 512 {
				t.Fatalf("length %d with a body of %d", h.Len, len(body))
			}
		}
	})
}

// FuzzDecodeInbound feeds arbitrary bodies to the deliver_sm/data_sm
// decoder and everything a Handler would call on the result (the MO
// reassemblers have their own fuzz test, in smpp/reassembly).
func FuzzDecodeInbound(f *testing.F) {
	f.Add(false, deliverBody(0, 0, []byte("hi"), 2))
	f.Add(false, deliverBody(esmUDHI, 8, []byte{5, 0, 3, 1, 2, 1, 0xD8, 0x3D}, 8, tlv(0x0424, []byte("x"))))
	f.Add(false, deliverBody(0x04, 0, []byte("id:1 stat:DELIVRD"), 17, tlv(0x001E, []byte("1\x00")), tlv(0x0427, []byte{2})))
	f.Add(true, []byte("\x00\x01\x01254\x00\x00\x00384\x00\x00\x00\x00\x04\x24\x00\x01a"))
	f.Add(false, deliverBody(0, 0, []byte("hello"), 200))
	f.Fuzz(func(t *testing.T, dataSM bool, body []byte) {
		h := pdu.Header{ID: pdu.DeliverSMID, Len: uint32(headerLen + len(body))}
		if dataSM {
			h.ID = pdu.DataSMID
		}
		in, err := decodeInbound(h, body)
		if err != nil {
			var de *decodeError
			if !errors.As(err, &de) || de.Status == 0 {
				t.Fatalf("error without a status: %v", err)
			}
			return
		}
		_, _ = in.Text()
		_, _, _ = in.UserData()
		_, _ = ParseReceipt(in)
		if len(in.ShortMessage) > len(body) {
			t.Fatal("short_message longer than the body")
		}
	})
}

func TestEncodeFrame(t *testing.T) {
	b := encodeFrame(pdu.GenericNACKID, StatusInvCmdID, 42, nil)
	if len(b) != 16 || binary.BigEndian.Uint32(b) != 16 || binary.BigEndian.Uint32(b[8:]) != 3 || binary.BigEndian.Uint32(b[12:]) != 42 {
		t.Errorf("% x", b)
	}
}
