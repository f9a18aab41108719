package smpp

import "sync/atomic"

// maxSeq is the largest sequence number SMPP 3.4 allows (§5.1.4).
const maxSeq = 0x7FFFFFFF

// seqGen hands out sequence numbers 1..0x7FFFFFFF and wraps to 1. Each
// connection has its own. It is safe for concurrent use.
type seqGen struct{ n atomic.Uint32 }

func (g *seqGen) next() uint32 {
	for {
		old := g.n.Load()
		n := old + 1
		if n > maxSeq || n == 0 {
			n = 1
		}
		if g.n.CompareAndSwap(old, n) {
			return n
		}
	}
}
