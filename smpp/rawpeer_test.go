package smpp

import (
	"bufio"
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/fiorix/go-smpp/smpp/pdu"
)

// rawPeer is an SMSC that writes whatever bytes a test gives it: for
// malformed PDUs no SMPP library would produce. It answers bind and
// enquire_link itself and hands every other PDU to the test.
type rawPeer struct {
	t     testing.TB
	ln    net.Listener
	conns chan *rawConn
}

type rawConn struct {
	t      testing.TB
	nc     net.Conn
	frames chan frame
	closed chan struct{}
	kept   []frame
}

func startRawPeer(t testing.TB) *rawPeer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &rawPeer{t: t, ln: ln, conns: make(chan *rawConn, 10)}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { nc.Close() })
			rc := &rawConn{t: t, nc: nc, frames: make(chan frame, 1000), closed: make(chan struct{})}
			go rc.readLoop(p.conns)
		}
	}()
	return p
}

func (c *rawConn) readLoop(conns chan<- *rawConn) {
	defer close(c.closed)
	r := bufio.NewReader(c.nc)
	for {
		h, body, err := readFrame(r, discardLimit)
		if err != nil {
			return
		}
		switch h.ID {
		case pdu.BindTransceiverID, pdu.BindTransmitterID, pdu.BindReceiverID:
			c.write(encodeFrame(h.ID|respBit, 0, h.Seq, []byte("raw\x00")))
			conns <- c
		case pdu.EnquireLinkID:
			c.write(encodeFrame(pdu.EnquireLinkRespID, 0, h.Seq, nil))
		case pdu.UnbindID:
			c.write(encodeFrame(pdu.UnbindRespID, 0, h.Seq, nil))
			c.nc.Close()
			return
		default:
			c.frames <- frame{h, body}
		}
	}
}

func (c *rawConn) write(b []byte) {
	if _, err := c.nc.Write(b); err != nil {
		c.t.Logf("raw peer write: %v", err)
	}
}

// accept returns the next bound connection.
func (p *rawPeer) accept() *rawConn {
	p.t.Helper()
	select {
	case c := <-p.conns:
		return c
	case <-time.After(5 * time.Second):
		p.t.Fatal("raw peer: no bind within 5s")
		return nil
	}
}

// expect returns the next PDU with command id and sequence number seq,
// keeping others for later calls.
func (c *rawConn) expect(id pdu.ID, seq uint32) frame {
	c.t.Helper()
	for i, f := range c.kept {
		if f.h.ID == id && f.h.Seq == seq {
			c.kept = append(c.kept[:i], c.kept[i+1:]...)
			return f
		}
	}
	deadline := time.After(5 * time.Second)
	for {
		select {
		case f := <-c.frames:
			if f.h.ID == id && f.h.Seq == seq {
				return f
			}
			c.kept = append(c.kept, f)
		case <-deadline:
			c.t.Fatalf("raw peer: no %s seq %d within 5s (kept %v)", commandName(id), seq, c.kept)
			return frame{}
		}
	}
}

// ping sends enquire_link and waits for its response, which proves the
// connection still reads and answers.
func (c *rawConn) ping(seq uint32) {
	c.t.Helper()
	c.write(encodeFrame(pdu.EnquireLinkID, 0, seq, nil))
	c.expect(pdu.EnquireLinkRespID, seq)
}

// deliverBody builds a deliver_sm body field by field.
func deliverBody(esm, dc uint8, sm []byte, smLen int, tlvs ...[]byte) []byte {
	b := []byte{0}                          // service_type
	b = append(b, 1, 1)                     // source ton, npi
	b = append(b, "254700000010\x00"...)    // source_addr
	b = append(b, 0, 0)                     // dest ton, npi
	b = append(b, "384\x00"...)             // destination_addr
	b = append(b, esm, 0, 0)                // esm_class, protocol_id, priority_flag
	b = append(b, 0, 0)                     // schedule_delivery_time, validity_period
	b = append(b, 0, 0, dc, 0, byte(smLen)) // registered_delivery, replace_if_present, data_coding, sm_default_msg_id, sm_length
	b = append(b, sm...)
	for _, t := range tlvs {
		b = append(b, t...)
	}
	return b
}

func tlv(tag uint16, v []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, tag)
	b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

// rawFrame is a PDU with an arbitrary command_length.
func rawFrame(length uint32, id pdu.ID, seq uint32, body []byte) []byte {
	b := encodeFrame(id, 0, seq, body)
	binary.BigEndian.PutUint32(b, length)
	return b
}
