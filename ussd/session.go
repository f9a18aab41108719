package ussd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"sort"

	"github.com/ussdgw/ussdgw/flows"
)

// Status is where a session is in its life.
type Status uint8

const (
	StatusActive  Status = iota // in progress
	StatusOffered               // showing "continue where you left off / start again"
	StatusEnded                 // ended by the flow; kept briefly so a retried last step gets the same answer
	StatusAborted               // cut by the network; resumable for the resume window
)

// Session is one USSD dialogue: what a step needs and nothing more. It is
// kept in the Store between steps, encoded compactly (see encode).
type Session struct {
	ID      string // the transport's session id
	Service string // flow id
	Version string // the flow's version when the session began
	Status  Status
	flows.State
	Hops    int    // inputs applied so far
	TextLen int    // cumulative-text transports: length of the text applied
	TextSum uint32 // and its hash, to tell a retry from a new input
	Started int64  // unix seconds
	Updated int64  // unix milliseconds of the last step
	// Seq is the number of the last message applied, for transports that
	// number them (Request.Seq); 0 otherwise.
	Seq int
}

// codecVersion is the first byte of an encoded session; decode rejects
// others, so a format change never misreads old sessions. Version 2 is
// version 1 and Seq after it; it is written only for sessions of numbered
// transports, so that sessions of the others stay readable by instances
// that only know version 1 (a rolling upgrade).
const (
	codecVersion    = 1
	codecVersionSeq = 2
)

// encode packs the session as: version, status, then uvarints and
// length-prefixed strings, variables sorted by name. About 60 bytes plus
// the variables for a typical menu session.
func (s *Session) encode() []byte {
	b := make([]byte, 0, 96+16*len(s.Vars))
	version := byte(codecVersion)
	if s.Seq > 0 {
		version = codecVersionSeq
	}
	b = append(b, version, byte(s.Status))
	b = binary.AppendUvarint(b, uint64(s.Hops))
	b = binary.AppendUvarint(b, uint64(s.TextLen))
	b = binary.AppendUvarint(b, uint64(s.TextSum))
	b = binary.AppendUvarint(b, uint64(s.Page))
	b = binary.AppendVarint(b, s.Started)
	b = binary.AppendVarint(b, s.Updated)
	for _, str := range [...]string{s.ID, s.Service, s.Version, s.Node, s.Lang, s.Entry} {
		b = appendString(b, str)
	}
	b = binary.AppendUvarint(b, uint64(len(s.History)))
	for _, h := range s.History {
		b = appendString(b, h)
	}
	b = binary.AppendUvarint(b, uint64(len(s.Vars)))
	if len(s.Vars) > 0 {
		keys := make([]string, 0, len(s.Vars))
		for k := range s.Vars {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			b = appendString(b, k)
			b = appendString(b, s.Vars[k])
		}
	}
	if version == codecVersionSeq {
		b = binary.AppendUvarint(b, uint64(s.Seq))
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

var errCorrupt = errors.New("ussd: corrupt session record")

// decodeSession unpacks what encode wrote. It never panics on bad input.
func decodeSession(b []byte) (*Session, error) {
	r := reader{b: b}
	if len(b) < 2 || (b[0] != codecVersion && b[0] != codecVersionSeq) {
		return nil, fmt.Errorf("%w: unknown format", errCorrupt)
	}
	r.b = b[2:]
	s := &Session{Status: Status(b[1])}
	s.Hops = int(r.uvarint())
	s.TextLen = int(r.uvarint())
	s.TextSum = uint32(r.uvarint())
	s.Page = int(r.uvarint())
	s.Started = r.varint()
	s.Updated = r.varint()
	s.ID, s.Service, s.Version, s.Node, s.Lang, s.Entry = r.str(), r.str(), r.str(), r.str(), r.str(), r.str()
	n := r.count()
	if n > 0 {
		s.History = make([]string, n)
		for i := range s.History {
			s.History[i] = r.str()
		}
	}
	n = r.count()
	s.Vars = make(map[string]string, n)
	for range n {
		k := r.str()
		s.Vars[k] = r.str()
	}
	if b[0] == codecVersionSeq {
		s.Seq = int(r.uvarint())
	}
	if r.err != nil || len(r.b) != 0 || s.Status > StatusAborted {
		return nil, errCorrupt
	}
	return s, nil
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errCorrupt
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errCorrupt
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a length that must be satisfiable by what is left.
func (r *reader) count() int {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.err = errCorrupt
		return 0
	}
	return int(n)
}

func (r *reader) str() string {
	n := r.count()
	if r.err != nil {
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// clone returns a deep copy, so a step can change it while the loaded
// bytes stay the compare-and-swap expectation.
func (s *Session) clone() *Session {
	c := *s
	c.History = append([]string(nil), s.History...)
	c.Vars = make(map[string]string, len(s.Vars))
	for k, v := range s.Vars {
		c.Vars[k] = v
	}
	return &c
}

func textSum(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()
}
