package smsc

import (
	"bytes"
	"context"
	"log/slog"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ussdgw/ussdgw/smpp"
)

// BenchmarkMTSink: the phase 1 smpp.Client, window 50, 64 senders, into
// this server: segments/s of client and sink together on this machine.
func BenchmarkMTSink(b *testing.B) {
	s := startServer(b, Config{Logger: slog.New(slog.DiscardHandler)})
	cfg := clientConfig("bench", s.Addr())
	cfg.Window = 50
	cfg.RegisteredDelivery = 0
	cfg.Timeouts.Response = 30 * time.Second
	c := startESME(b, cfg, nil)
	var sent atomic.Int64
	b.SetParallelism(64 / runtime.GOMAXPROCS(0))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			res, err := c.Send(context.Background(), smpp.Message{Dst: "254700000014", Text: "Maize 1200 KES/90kg at Nairobi"})
			if err != nil {
				b.Error(err)
				return
			}
			sent.Add(int64(res.Segments))
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(sent.Load())/b.Elapsed().Seconds(), "segments/s")
}

// BenchmarkUSSDStep: dialogues of four steps from 100 goroutines against
// ESMEHandler on the phase 1 smpp.Client: steps/s of the generator and a
// trivial ESME together.
func BenchmarkUSSDStep(b *testing.B) {
	s := startServer(b, Config{Logger: slog.New(slog.DiscardHandler)})
	cfg := clientConfig("bench", s.Addr())
	cfg.Window = 500
	cfg.Inbound.Workers, cfg.Inbound.Queue = 16, 4096
	startESME(b, cfg, ESMEHandler(Spec, fourScreens))
	var steps, n atomic.Int64
	b.SetParallelism(100 / runtime.GOMAXPROCS(0))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		msisdn := strconv.FormatInt(254710000000+n.Add(1), 10)
		for pb.Next() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			ss, err := s.Dial(ctx, msisdn, "*777#")
			if err != nil {
				b.Error(err)
				cancel()
				return
			}
			for i, r := range []string{"", "1", "2", "3"} {
				if i > 0 {
					if err := ss.Reply(r); err != nil {
						b.Error(err)
						break
					}
				}
				if _, err := ss.Next(ctx); err != nil {
					b.Error(err)
					break
				}
				steps.Add(1)
			}
			cancel()
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(steps.Load())/b.Elapsed().Seconds(), "steps/s")
}

// FuzzDecode: no body crashes the submit_sm or bind decoders.
func FuzzDecode(f *testing.F) {
	good, _ := (&sm{ServiceType: "USSD", Source: smpp.Addr{Addr: "384"}, Dest: smpp.Addr{Addr: "2547"}, ESMClass: 0x40,
		ShortMessage: []byte{5, 0, 3, 1, 2, 1, 'h', 'i'}, TLVs: smpp.TLVs{smpp.TagUssdServiceOp: {2}}}).encode()
	f.Add(good)
	f.Add(bindBody("a", "b"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if m, err := decodeSM(b); err == nil {
			sub := &Submit{ESMClass: m.ESMClass, DataCoding: m.DataCoding, ShortMessage: m.ShortMessage, TLVs: m.TLVs}
			_, _, _ = sub.inbound().UserData()
			// Parse, format, parse: the same fields.
			if enc, err := m.encode(); err == nil {
				m2, err := decodeSM(enc)
				if err != nil {
					t.Fatalf("re-encoded % x does not decode: %v", enc, err)
				}
				if m2.ServiceType != m.ServiceType || m2.Source != m.Source || m2.Dest != m.Dest || m2.ESMClass != m.ESMClass ||
					m2.DataCoding != m.DataCoding || m2.RegisteredDelivery != m.RegisteredDelivery ||
					!bytes.Equal(m2.ShortMessage, m.ShortMessage) || len(m2.TLVs) != len(m.TLVs) {
					t.Fatalf("round trip %+v -> %+v", m, m2)
				}
				for tag, v := range m.TLVs {
					if !bytes.Equal(m2.TLVs[tag], v) {
						t.Fatalf("tlv 0x%04X % x -> % x", uint16(tag), v, m2.TLVs[tag])
					}
				}
			}
		}
		_, _ = decodeBind(b)
	})
}

// TestEncodeDecode: a deliver_sm body we encode decodes to the same
// fields with go-smpp's codec, integer TLVs included.
func TestEncodeDecode(t *testing.T) {
	in := &sm{ServiceType: "USSD", Source: smpp.Addr{Addr: "254700000001", TON: 1, NPI: 1}, Dest: smpp.Addr{Addr: "384"},
		ESMClass: 0x04, DataCoding: 0x0F, RegisteredDelivery: 1, ShortMessage: []byte("*384#"),
		TLVs: smpp.TLVs{smpp.TagUssdServiceOp: {1}, smpp.TagItsSessionInfo: {0x12, 0x34}, smpp.TagMessageState: {2}}}
	b, err := in.encode()
	if err != nil {
		t.Fatal(err)
	}
	out, err := decodeSM(b)
	if err != nil {
		t.Fatal(err)
	}
	if out.ServiceType != "USSD" || out.Source != in.Source || out.Dest != in.Dest || out.ESMClass != 4 ||
		out.DataCoding != 0x0F || out.RegisteredDelivery != 1 || string(out.ShortMessage) != "*384#" || len(out.TLVs) != 3 {
		t.Errorf("decoded %+v", out)
	}
	if v, _ := out.TLVs.Uint16(smpp.TagItsSessionInfo); v != 0x1234 {
		t.Errorf("its_session_info %x", v)
	}
	if _, err := (&sm{ShortMessage: make([]byte, 255)}).encode(); err == nil {
		t.Error("short_message of 255 octets encoded")
	}
}
