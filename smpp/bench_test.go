package smpp

import (
	"bufio"
	"context"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fiorix/go-smpp/smpp/pdu"
)

// startSink runs a minimal SMSC that answers every submit_sm at once, with
// writes batched while more requests are buffered: a sink fast enough that
// the benchmark measures the Client.
func startSink(tb testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				r, w := bufio.NewReaderSize(nc, 64<<10), bufio.NewWriterSize(nc, 64<<10)
				var id uint64
				for {
					h, _, err := readFrame(r, discardLimit)
					if err != nil {
						return
					}
					var body []byte
					switch h.ID {
					case pdu.SubmitSMID:
						id++
						body = strconv.AppendUint(nil, id, 10)
						body = append(body, 0)
					case pdu.BindTransceiverID, pdu.BindTransmitterID, pdu.BindReceiverID:
						body = []byte("sink\x00")
					case pdu.EnquireLinkID, pdu.UnbindID:
					default:
						continue
					}
					if _, err := w.Write(encodeFrame(h.ID|respBit, 0, h.Seq, body)); err != nil {
						return
					}
					if r.Buffered() == 0 {
						if w.Flush() != nil {
							return
						}
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// benchSend sends b.N messages of text from 64 goroutines through a window
// of 50 and reports segments per second.
func benchSend(b *testing.B, addr string, text string, m ConcatMethod) {
	cfg := testConfig(addr)
	cfg.Window = 50
	cfg.Concat = m
	cfg.Timeouts.Response = 30 * time.Second
	c, err := New(cfg, nil, WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		b.Fatal(err)
	}
	if err := c.Start(); err != nil {
		b.Fatal(err)
	}
	defer c.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.WaitBound(ctx); err != nil {
		b.Fatal(err)
	}
	segs, _ := Segments(text, m)
	var sent atomic.Int64
	b.SetParallelism(64 / runtime.GOMAXPROCS(0))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			res, err := c.Send(context.Background(), Message{Dst: "254700000014", Text: text})
			if err != nil {
				b.Error(err)
				return
			}
			sent.Add(int64(res.Segments))
		}
	})
	b.StopTimer()
	if got := sent.Load(); got != int64(b.N*segs) {
		b.Fatalf("sent %d segments, want %d", got, b.N*segs)
	}
	b.ReportMetric(float64(sent.Load())/b.Elapsed().Seconds(), "segments/s")
}

var benchLong = strings.Repeat("Maize 1200 KES/90kg, beans 9000 {Nairobi} ", 10) // 420 septets: 3 parts

func BenchmarkSendSink(b *testing.B) {
	addr := startSink(b)
	b.Run("single", func(b *testing.B) { benchSend(b, addr, "Maize 1200 KES/90kg at Nairobi", ConcatUDH8) })
	b.Run("3-part-udh8", func(b *testing.B) { benchSend(b, addr, benchLong, ConcatUDH8) })
}

// BenchmarkSendSmpptest uses go-smpp's smpptest server as the sink; it
// decodes every PDU with go-smpp and flushes every response, so it is the
// slower peer.
func BenchmarkSendSmpptest(b *testing.B) {
	g := startGoSMSC(b, false)
	benchSend(b, g.srv.Addr(), "Maize 1200 KES/90kg at Nairobi", ConcatUDH8)
}

// BenchmarkSendNode uses the node-smpp SMSC (quiet: no per-PDU events).
func BenchmarkSendNode(b *testing.B) {
	smsc := startNodeSMSC(b)
	smsc.do(map[string]any{"cmd": "set", "quiet": true})
	benchSend(b, smsc.addr(), "Maize 1200 KES/90kg at Nairobi", ConcatUDH8)
}

func BenchmarkPlan(b *testing.B) {
	c, err := New(testConfig("127.0.0.1:1"), nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, tt := range []struct{ name, text string }{
		{"gsm-single", "Maize 1200 KES/90kg at Nairobi"},
		{"gsm-3-part", benchLong},
		{"ucs2-3-part", strings.Repeat("ዋጋ 🙂 ", 30)},
	} {
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := c.plan(tt.text, ShortMessage{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkBuildSubmit(b *testing.B) {
	c, err := New(testConfig("127.0.0.1:1"), nil)
	if err != nil {
		b.Fatal(err)
	}
	sm := &ShortMessage{Source: Addr{"384", 3, 0}, Dest: Addr{"254700000014", 1, 1}, RegisteredDelivery: 1, Body: []byte("Maize 1200 KES/90kg")}
	b.ReportAllocs()
	for b.Loop() {
		p, err := c.buildSubmit(sm)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := serialize(p, 1); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeInbound(b *testing.B) {
	body := deliverBody(0, 0, []byte("*384*1#"), 7, tlv(0x0501, []byte{1}), tlv(0x1383, []byte{0x12, 0x34}))
	h := pdu.Header{ID: pdu.DeliverSMID}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeInbound(h, body); err != nil {
			b.Fatal(err)
		}
	}
}
