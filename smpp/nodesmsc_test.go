package smpp

import (
	"testing"
	"time"

	"github.com/ussdgw/ussdgw/smpp/nodetest"
)

// nodeSMSC drives testdata/smsc/smsc.js (an SMSC built on node-smpp 0.5.1)
// through package nodetest, which the other packages' tests use too.
type nodeSMSC struct{ *nodetest.SMSC }

// event is one JSON line from the SMSC.
type event = nodetest.Event

// startNodeSMSC starts the node SMSC, or skips the test when node is
// missing (nodetest installs the node package when npm is there).
func startNodeSMSC(t testing.TB) *nodeSMSC { return &nodeSMSC{nodetest.Start(t)} }

func (s *nodeSMSC) addr() string                                    { return s.Addr() }
func (s *nodeSMSC) mark() int                                       { return s.Mark() }
func (s *nodeSMSC) do(cmd map[string]any)                           { s.Do(cmd) }
func (s *nodeSMSC) stats() event                                    { return s.Stats() }
func (s *nodeSMSC) sync()                                           { s.Sync() }
func (s *nodeSMSC) filter(from int, match func(event) bool) []event { return s.Filter(from, match) }

func (s *nodeSMSC) send(command string, fields map[string]any, hex map[string]string) string {
	return s.Send(command, fields, hex)
}

func (s *nodeSMSC) waitFor(from int, timeout time.Duration, what string, match func(event) bool) event {
	return s.WaitFor(from, timeout, what, match)
}

func (s *nodeSMSC) waitCount(from, n int, timeout time.Duration, what string, match func(event) bool) []event {
	return s.WaitCount(from, n, timeout, what, match)
}

func isEv(name string) func(event) bool { return nodetest.IsEv(name) }
