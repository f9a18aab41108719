// Package push holds the MT fan-out benchmark of issue 7: the node-smpp
// sink (sink.js) both senders send into, the Kannel half
// (run-kannel.sh, with the sendsms client in ./sendsms), the gateway half
// and the table (run.sh), and the subscribers helper (./subscribers). The
// Go code here is only its test: that the sink counts what the table
// reports (duplicates, receipts, refused binds) as a real SMPP client sees
// it. It may import anything of ours and must not be imported.
package push
