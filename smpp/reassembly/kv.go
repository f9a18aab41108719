package reassembly

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/ussdgw/ussdgw/kv"
	"github.com/ussdgw/ussdgw/smpp"
)

// MOParts reassembles concatenated MO SMS in a KV store (Redis in
// production), so that the parts of one message may arrive on any bind of
// any gateway instance and survive a restart. Parts are keyed by sender,
// recipient, reference and part count, as Reassembler does; an incomplete
// message expires after the TTL.
//
// A whole message stays stored until Done: when handling it fails and the
// SMSC delivers its last part again, Add completes it again rather than
// starting a new message that never completes. It is safe for concurrent
// use.
type MOParts struct {
	kv     kv.Store
	prefix string
	ttl    time.Duration
}

// NewMOParts returns an MOParts whose keys start with prefix and whose
// incomplete messages live ttl.
func NewMOParts(kv kv.Store, prefix string, ttl time.Duration) *MOParts {
	return &MOParts{kv: kv, prefix: prefix, ttl: ttl}
}

// ErrBadUDH is wrapped by Add's error when a part's user data header
// cannot be parsed: the part will never parse better, so refuse it for
// good rather than have it delivered again.
var ErrBadUDH = errors.New("malformed user data header")

// storedMO is an incomplete message in the KV.
type storedMO struct {
	Parts   [][]byte  `json:"p"`  // by part number - 1; nil while missing
	Source  smpp.Addr `json:"s"`  // of the first part
	Dest    smpp.Addr `json:"d"`  //
	DC      uint8     `json:"dc"` //
	ESM     uint8     `json:"e"`  //
	Service string    `json:"st"` //
	DataSM  bool      `json:"ds"` //
	HasSeq1 bool      `json:"f"`  // the metadata is part 1's
}

// Add records one deliver_sm or data_sm. It returns the whole message once
// its last part is in (at once for a message of one part), else nil. A
// repeated part replaces the earlier copy. Errors wrap ErrBadUDH for a
// malformed header, else they are the store's (try again later).
func (p *MOParts) Add(ctx context.Context, in *smpp.Inbound) (*MO, error) {
	udh, ud, err := in.UserData()
	if err != nil {
		return nil, fmt.Errorf("reassembling mo: %w: %w", ErrBadUDH, err)
	}
	ref, total, seq, ok := udh.Concat()
	if !ok {
		ref, total, seq, ok = in.TLVs.SAR()
	}
	if !ok || total == 1 {
		return (&Reassembler{}).complete(in, [][]byte{ud}), nil
	}
	key := p.prefix + "mo:{" + in.Source.Addr + "}:" + in.Dest.Addr + ":" + strconv.Itoa(int(ref)) + ":" + strconv.Itoa(int(total))
	for range casAttempts {
		vals, err := p.kv.Get(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("reassembling mo: %w", err)
		}
		var st storedMO
		old := vals[0]
		if old != nil {
			if err := json.Unmarshal(old, &st); err != nil || len(st.Parts) != int(total) {
				old, st = nil, storedMO{} // unreadable: start over
				if err := p.kv.Set(ctx, key, nil, 0); err != nil {
					return nil, fmt.Errorf("reassembling mo: %w", err)
				}
			}
		}
		if st.Parts == nil {
			st.Parts = make([][]byte, total)
		}
		st.Parts[seq-1] = append([]byte{}, ud...)
		if !st.HasSeq1 && (seq == 1 || old == nil) {
			st.Source, st.Dest, st.DC, st.ESM, st.Service, st.DataSM = in.Source, in.Dest, in.DataCoding, in.ESMClass, in.ServiceType, in.DataSM
			st.HasSeq1 = seq == 1
		}
		b, err := json.Marshal(st)
		if err != nil {
			return nil, fmt.Errorf("reassembling mo: %w", err)
		}
		swapped, err := p.kv.Swap(ctx, key, old, b, p.ttl)
		if err != nil {
			return nil, fmt.Errorf("reassembling mo: %w", err)
		}
		if !swapped {
			continue // another part landed meanwhile
		}
		for _, part := range st.Parts {
			if part == nil {
				return nil, nil
			}
		}
		first := &smpp.Inbound{DataSM: st.DataSM, ServiceType: st.Service, Source: st.Source, Dest: st.Dest,
			ESMClass: st.ESM, DataCoding: st.DC, TLVs: smpp.TLVs{}}
		if seq == 1 {
			first = in
		}
		m := (&Reassembler{}).complete(first, st.Parts)
		m.key = key
		return m, nil
	}
	return nil, fmt.Errorf("reassembling mo: too much contention on one message")
}

// Done forgets a whole message Add returned, once it has been handled.
func (p *MOParts) Done(ctx context.Context, m *MO) error {
	if m == nil || m.key == "" {
		return nil
	}
	if err := p.kv.Set(ctx, m.key, nil, 0); err != nil {
		return fmt.Errorf("forgetting a reassembled mo: %w", err)
	}
	return nil
}

// casAttempts bounds the compare-and-swap loop of an Add (as for the
// receipt store's updates).
const casAttempts = 16
