// Package reassembly puts concatenated MO SMS back together: the parts of
// one message, split by the sender's phone with a UDH (8- or 16-bit
// reference) or SAR TLVs, become one MO with its text decoded. Reassembler
// keeps the parts in memory (one process: the simulator, tests); MOParts
// keeps them in the team store (kv.Store), so that parts that arrive on
// different binds of different gateway instances still meet. It builds on
// the SMPP session layer's types (package smpp) and must not import the
// gateway's side (smpp/bridge, ussd, flows); package smpp must not import
// it.
package reassembly

import (
	"container/list"
	"fmt"
	"sync"
	"time"

	"github.com/ussdgw/ussdgw/smpp"
	"github.com/ussdgw/ussdgw/smpp/userdata"
)

// MO is a mobile-originated SMS, reassembled from its parts.
type MO struct {
	Source, Dest smpp.Addr
	DataCoding   uint8
	Raw          []byte // the user data of all parts, UDH removed, in order
	Text         string // Raw decoded; empty when Decoded is false
	Decoded      bool   // false for binary or unknown codings: use Raw
	Parts        int
	First        *smpp.Inbound // the first part, for service_type and TLVs

	key string // where MOParts keeps it until Done
}

// Reassembler joins the parts of concatenated MO SMS: UDH with an 8-bit
// (IEI 0x00) or 16-bit (IEI 0x08) reference, or SAR TLVs. Parts are keyed
// by sender, recipient, reference and part count. Memory is bounded: an
// incomplete message is dropped after the timeout, and when maxPending
// messages are incomplete the oldest is dropped for a new one. It is safe
// for concurrent use.
type Reassembler struct {
	timeout    time.Duration
	maxPending int
	now        func() time.Time

	mu      sync.Mutex
	pending map[moKey]*list.Element
	order   *list.List // of *partial, oldest first
	dropped int
}

type moKey struct {
	src, dst string
	ref      uint16
	total    uint8
}

type partial struct {
	key     moKey
	started time.Time
	parts   [][]byte
	first   *smpp.Inbound
	have    int
}

// NewReassembler returns a Reassembler that drops an incomplete message
// after timeout and holds at most maxPending of them.
func NewReassembler(timeout time.Duration, maxPending int) *Reassembler {
	return &Reassembler{timeout: timeout, maxPending: max(maxPending, 1), now: time.Now,
		pending: map[moKey]*list.Element{}, order: list.New()}
}

// Dropped returns how many incomplete messages were dropped so far.
func (r *Reassembler) Dropped() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dropped
}

// Add takes one deliver_sm or data_sm. It returns the whole message once
// its last part is in (at once for a message of one part), or nil. A
// repeated part replaces the earlier copy. It fails on a malformed UDH.
func (r *Reassembler) Add(in *smpp.Inbound) (*MO, error) {
	udh, ud, err := in.UserData()
	if err != nil {
		return nil, fmt.Errorf("reassembling mo: %w", err)
	}
	ref, total, seq, ok := udh.Concat()
	if !ok {
		ref, total, seq, ok = in.TLVs.SAR()
	}
	if !ok || total == 1 {
		return r.complete(in, [][]byte{ud}), nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	r.expire(now)
	k := moKey{src: in.Source.Addr, dst: in.Dest.Addr, ref: ref, total: total}
	var p *partial
	if e, ok := r.pending[k]; ok {
		p = e.Value.(*partial)
	} else {
		for len(r.pending) >= r.maxPending {
			r.drop(r.order.Front())
		}
		p = &partial{key: k, started: now, parts: make([][]byte, total)}
		r.pending[k] = r.order.PushBack(p)
	}
	if p.parts[seq-1] == nil {
		p.have++
	}
	p.parts[seq-1] = append([]byte{}, ud...)
	if seq == 1 || p.first == nil {
		p.first = in
	}
	if p.have < int(total) {
		return nil, nil
	}
	r.order.Remove(r.pending[k])
	delete(r.pending, k)
	return r.complete(p.first, p.parts), nil
}

// expire drops incomplete messages older than the timeout.
func (r *Reassembler) expire(now time.Time) {
	for e := r.order.Front(); e != nil; e = r.order.Front() {
		if now.Sub(e.Value.(*partial).started) < r.timeout {
			return
		}
		r.drop(e)
	}
}

func (r *Reassembler) drop(e *list.Element) {
	p := r.order.Remove(e).(*partial)
	delete(r.pending, p.key)
	r.dropped++
}

func (r *Reassembler) complete(first *smpp.Inbound, parts [][]byte) *MO {
	var raw []byte
	for _, p := range parts {
		raw = append(raw, p...)
	}
	m := &MO{Source: first.Source, Dest: first.Dest, DataCoding: first.DataCoding, Raw: raw, Parts: len(parts), First: first}
	m.Text, m.Decoded = userdata.DecodeText(first.DataCoding, raw)
	return m
}
