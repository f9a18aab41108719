package smpp

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fiorix/go-smpp/smpp/pdu"
	"github.com/fiorix/go-smpp/smpp/pdu/pdufield"
	"github.com/fiorix/go-smpp/smpp/pdu/pdutext"
	"github.com/fiorix/go-smpp/smpp/smpptest"
)

// goSMSC is go-smpp's smpptest server with a handler that answers what we
// send; the submits it decoded with go-smpp's own codec are kept.
type goSMSC struct {
	srv  *smpptest.Server
	mu   sync.Mutex
	subs []pdu.Body
	n    int
}

func startGoSMSC(t testing.TB, keep bool) *goSMSC {
	g := &goSMSC{srv: smpptest.NewUnstartedServer()}
	g.srv.User, g.srv.Passwd = "test", "secret"
	g.srv.Handler = func(c smpptest.Conn, p pdu.Body) {
		var r pdu.Body
		switch p.Header().ID {
		case pdu.SubmitSMID:
			g.mu.Lock()
			g.n++
			if keep {
				g.subs = append(g.subs, p)
			}
			id := g.n
			g.mu.Unlock()
			r = pdu.NewSubmitSMResp()
			_ = r.Fields().Set(pdufield.MessageID, fmt.Sprintf("go%d", id))
		case pdu.EnquireLinkID:
			r = pdu.NewEnquireLinkResp()
		case pdu.UnbindID:
			r = pdu.NewUnbindResp()
		default:
			return
		}
		r.Header().Seq = p.Header().Seq
		_ = c.Write(r)
	}
	g.srv.Start()
	t.Cleanup(g.srv.Close)
	return g
}

// TestSmpptestMT sends single and concatenated MT to go-smpp's test
// server: its codec must decode our submit_sm, and its own GSM 7-bit and
// UCS-2 codecs must give the text back.
func TestSmpptestMT(t *testing.T) {
	g := startGoSMSC(t, true)
	for _, m := range []ConcatMethod{ConcatUDH8, ConcatUDH16} {
		cfg := testConfig(g.srv.Addr())
		cfg.Concat = m
		c := startClient(t, cfg, nil)
		for _, text := range []string{"short €", gsmExt, gsmExt16, ucs2Pairs, ucs2Pairs16} {
			g.mu.Lock()
			from := len(g.subs)
			g.mu.Unlock()
			res, err := c.Send(ctxT(t, 5*time.Second), Message{Dst: "254700000013", Text: text})
			if err != nil {
				t.Fatal(err)
			}
			g.mu.Lock()
			subs := g.subs[from:]
			g.mu.Unlock()
			if len(subs) != res.Segments || !strings.HasPrefix(res.IDs[0], "go") {
				t.Fatalf("%s: %d submits for %d segments, ids %v", m, len(subs), res.Segments, res.IDs)
			}
			var sb strings.Builder
			for i, p := range subs {
				f := p.Fields()
				dc := f[pdufield.DataCoding].Raw().(uint8)
				sm := f[pdufield.ShortMessage].Bytes()
				if len(subs) > 1 {
					if f[pdufield.ESMClass].Raw().(uint8)&esmUDHI == 0 {
						t.Fatalf("part %d without UDHI", i)
					}
					sm = sm[1+int(sm[0]):]
				}
				if dc == 8 {
					sb.Write(pdutext.UCS2(sm).Decode())
				} else {
					sb.Write(pdutext.GSM7(sm).Decode())
				}
				if got := f[pdufield.DestinationAddr].String(); got != "254700000013" {
					t.Errorf("destination_addr %q", got)
				}
				if got := f[pdufield.RegisteredDelivery].Raw().(uint8); got != 1 {
					t.Errorf("registered_delivery %d", got)
				}
			}
			if sb.String() != text {
				t.Errorf("%s: go-smpp decodes\n%q\nwant\n%q", m, sb.String(), text)
			}
		}
	}
}

// TestSmpptestBadPassword: smpptest closes the connection on a bad
// password without a bind_resp; we keep trying and report it.
func TestSmpptestBadPassword(t *testing.T) {
	g := startGoSMSC(t, false)
	cfg := testConfig(g.srv.Addr())
	cfg.Password = "wrong"
	c, err := New(cfg, nil, WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(ctxT(t, 5*time.Second)) })
	waitUntil(t, 5*time.Second, "a failed bind", func() bool { return c.Status().Sessions[0].LastError != "" })
	if st := c.Status(); st.Bound || !strings.Contains(st.Sessions[0].LastError, "bind_transceiver") {
		t.Errorf("status %+v", st)
	}
}
