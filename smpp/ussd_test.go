package smpp

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/ussdgw/ussdgw/gsm"
)

func preset(t testing.TB, name string, edit ...func(*USSDConfig)) USSDProfile {
	t.Helper()
	u := Defaults().USSD
	u.Profile = name
	for _, e := range edit {
		e(&u)
	}
	var errs []string
	p := u.resolve(func(field, format string, args ...any) { errs = append(errs, field) })
	if len(errs) > 0 {
		t.Fatalf("profile %s: %v", name, errs)
	}
	return p
}

// ussdIn is a USSD deliver_sm as a USSDC sends it.
func ussdIn(op uint8, text string, tlvs TLVs) *Inbound {
	in := &Inbound{ServiceType: "USSD", Source: Addr{"254700000001", 1, 1}, Dest: Addr{"384", 0, 0},
		DataCoding: 0x0F, ShortMessage: []byte(text), TLVs: TLVs{TagUssdServiceOp: {op}}}
	for k, v := range tlvs {
		in.TLVs[k] = v
	}
	return in
}

func TestUSSDPresetsResolve(t *testing.T) {
	for name := range USSDPresets {
		p := preset(t, name)
		if p.Name != name || p.ServiceType != "USSD" || p.MaxOctets != 160 {
			t.Errorf("%s: %+v", name, p)
		}
	}
	// Every field can be overridden.
	p := preset(t, "spec", func(u *USSDConfig) {
		end, cont, dc := uint8(0x17), uint8(0x02), uint8(0x00)
		mask := uint16(0xFFFE)
		yes := true
		u.EndOp, u.ContinueOp, u.DataCoding, u.SessionMask, u.AbortBit = &end, &cont, &dc, &mask, &yes
		u.SessionKey, u.EndBy, u.Dialled = "its_session_info", "both", "destination_addr"
		u.OpenOps, u.ReplyOps, u.AbortOps = []uint8{0x01, 0x00}, []uint8{0x12, 0x02}, []uint8{0x81}
		u.ServiceType, u.MaxOctets = "", 140
	})
	if p.EndOp != 0x17 || p.DataCoding != 0 || p.SessionMask != 0xFFFE || !p.AbortBit || p.EndBy != EndByBoth ||
		p.Dialled != DialledDest || len(p.OpenOps) != 2 || p.AbortOps[0] != 0x81 || p.ServiceType != "" || p.MaxOctets != 140 {
		t.Errorf("overrides not applied: %+v", p)
	}
	if USSDPresets["spec"].EndOp != 0x11 || len(USSDPresets["spec"].OpenOps) != 1 {
		t.Error("overriding changed the preset")
	}
}

func TestUSSDConfigErrors(t *testing.T) {
	c := testConfig("127.0.0.1:1")
	two, cont := uint8(2), uint8(2)
	c.USSD = USSDConfig{Profile: "mica", SessionKey: "imsi", EndBy: "bit", EndOp: &two, ContinueOp: &cont,
		ReplyOps: []uint8{0x01}, Dialled: "body", MaxOctets: 200, DataCoding: &two}
	err := c.Validate()
	if err == nil {
		t.Fatal("bad ussd config accepted")
	}
	for _, want := range []string{"ussd.session_key", "ussd.dialled", "ussd.max_octets", "ussd.reply_ops: op 0x01 is also in open_ops",
		"ussd.data_coding", "ussd.end_by: bit needs session_key its_session_info"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	c.USSD = USSDConfig{Profile: "spec", EndOp: &cont}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "ussd.end_op") {
		t.Errorf("end_op equal to continue_op with end_by op: %v", err)
	}
}

func TestUSSDConfigYAML(t *testing.T) {
	var c Config
	err := yaml.Unmarshal([]byte(`
name: op
ussd:
  profile: sixdee
  end_op: 0x17
  abort_ops: []
  session_mask: 0xFF00
`), &c)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := c.USSD.Resolve()
	if !ok || p.EndOp != 0x17 || p.AbortOps == nil || len(p.AbortOps) != 0 || p.SessionMask != 0xFF00 || !p.AbortBit {
		t.Errorf("resolved %+v", p)
	}
	if _, ok := Defaults().USSD.Resolve(); ok {
		t.Error("no profile resolves to a profile")
	}
}

func TestUSSDParse(t *testing.T) {
	its := func(hi, lo byte) TLVs { return TLVs{TagItsSessionInfo: {hi, lo}} }
	tests := []struct {
		name    string
		profile string
		in      *Inbound
		kind    USSDKind
		key     string
		dialled string
		input   string
		status  CommandStatus // non-zero: Parse fails with it
	}{
		{"spec open", "spec", ussdIn(0x01, "*384*1*2#", its(0x12, 0x34)), USSDOpen, "its:1200", "*384*1*2#", "", 0},
		{"spec reply", "spec", ussdIn(0x12, " 2 ", its(0x12, 0x36)), USSDReply, "its:1200", "", "2", 0},
		{"spec end bit is not an abort", "spec", ussdIn(0x12, "1", its(0x12, 0x37)), USSDReply, "its:1200", "", "1", 0},
		{"tata open", "tata", ussdIn(0x01, "*384#", its(0x12, 0x34)), USSDOpen, "its:1234", "*384#", "", 0},
		{"tata reply as 0x02", "tata", ussdIn(0x02, "1", its(0x12, 0x34)), USSDReply, "its:1234", "", "1", 0},
		{"tata abort by bit", "tata", ussdIn(0x12, "", its(0x12, 0x35)), USSDAbort, "its:1234", "", "", 0},
		{"tata abort by 0x11", "tata", ussdIn(0x11, "", its(0x12, 0x34)), USSDAbort, "its:1234", "", "", 0},
		{"mica open by umr", "mica", ussdIn(0x01, "*384#", TLVs{TagUserMessageReference: {0x00, 0x4D}}), USSDOpen, "umr:4d", "*384#", "", 0},
		{"mica release", "mica", ussdIn(0x81, "", TLVs{TagUserMessageReference: {0x00, 0x4D}}), USSDAbort, "umr:4d", "", "", 0},
		{"sixdee code in destination_addr", "sixdee", ussdIn(0x01, "", its(0x56, 0x78)), USSDOpen, "its:5678", "*384#", "", 0},
		{"sixdee abort 0x81", "sixdee", ussdIn(0x81, "", its(0x56, 0x78)), USSDAbort, "its:5678", "", "", 0},
		{"no session tlv: keyed by msisdn", "tata", ussdIn(0x01, "*4006#", nil), USSDOpen, "msisdn", "*4006#", "", 0},
		{"ussn confirm", "spec", ussdIn(0x13, "", its(1, 2)), USSDNotice, "its:0100", "", "", 0},
		{"ucs2 reply", "spec", func() *Inbound {
			in := ussdIn(0x12, "", its(1, 0))
			in.DataCoding, in.ShortMessage = 0x08, gsm.EncodeUCS2("Nairobi ✓")
			return in
		}(), USSDReply, "its:0100", "", "Nairobi ✓", 0},
		{"missing op", "spec", func() *Inbound { in := ussdIn(0x01, "*384#", nil); delete(in.TLVs, TagUssdServiceOp); return in }(), 0, "", "", "", StatusMissingOptParam},
		{"op of two octets", "spec", ussdIn(0x01, "*384#", TLVs{TagUssdServiceOp: {0, 1}}), 0, "", "", "", StatusInvParLen},
		{"its_session_info of one octet", "spec", ussdIn(0x01, "*384#", TLVs{TagItsSessionInfo: {1}}), 0, "", "", "", StatusInvParLen},
		{"umr of three octets", "mica", ussdIn(0x01, "*384#", TLVs{TagUserMessageReference: {1, 2, 3}}), 0, "", "", "", StatusInvParLen},
		{"unknown op", "spec", ussdIn(0x42, "", its(1, 0)), 0, "", "", "", StatusInvOptParamVal},
		{"no msisdn", "spec", func() *Inbound { in := ussdIn(0x01, "*384#", nil); in.Source.Addr = ""; return in }(), 0, "", "", "", StatusInvSrcAdr},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := preset(t, tt.profile)
			m, err := p.Parse(tt.in)
			if tt.status != 0 {
				ue, ok := err.(*USSDError)
				if !ok || ue.Status != tt.status {
					t.Fatalf("Parse = %+v, %v; want status %s", m, err, tt.status)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Kind != tt.kind || m.Key != tt.key || m.Dialled != tt.dialled || m.Input != tt.input || m.MSISDN != "254700000001" {
				t.Errorf("Parse = %+v", m)
			}
		})
	}
}

func TestUSSDAnswer(t *testing.T) {
	long := strings.Repeat("a", 300)
	tests := []struct {
		profile string
		tlvs    TLVs
		text    string
		end     bool
		op      uint8
		its     []byte // nil: absent
		dc      uint8
		body    []byte
	}{
		{"spec", TLVs{TagItsSessionInfo: {0x12, 0x34}}, "1. Prices", false, 0x02, []byte{0x12, 0x34}, 0x0F, []byte("1. Prices")},
		{"spec", TLVs{TagItsSessionInfo: {0x12, 0x35}}, "Bye", true, 0x11, []byte{0x12, 0x34}, 0x0F, []byte("Bye")},
		{"tata", TLVs{TagItsSessionInfo: {0x12, 0x34}}, "Bye", true, 0x02, []byte{0x12, 0x35}, 0x0F, []byte("Bye")},
		{"tata", TLVs{TagItsSessionInfo: {0x12, 0x34}}, "More", false, 0x02, []byte{0x12, 0x34}, 0x0F, []byte("More")},
		{"sixdee", TLVs{TagItsSessionInfo: {0x56, 0x78}}, "Bye", true, 0x11, []byte{0x56, 0x79}, 0x0F, []byte("Bye")},
		{"mica", TLVs{TagUserMessageReference: {0, 77}}, "ሰላም", true, 0x11, nil, 0x08, gsm.EncodeUCS2("ሰላም")},
		{"mica", TLVs{TagUserMessageReference: {0, 77}}, "{€}", false, 0x02, nil, 0x0F, []byte{0x1B, 0x28, 0x1B, 0x65, 0x1B, 0x29}},
		{"spec", nil, long, true, 0x11, nil, 0x0F, []byte(long[:182])},
		{"spec", nil, strings.Repeat("ሰ", 100), true, 0x11, nil, 0x08, gsm.EncodeUCS2(strings.Repeat("ሰ", 80))},
		{"spec", nil, strings.Repeat("a", 181) + "€", true, 0x11, nil, 0x0F, []byte(strings.Repeat("a", 181))}, // no half escape
	}
	for i, tt := range tests {
		p := preset(t, tt.profile)
		in := ussdIn(0x01, "*384#", tt.tlvs)
		m, err := p.Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		sm := p.Answer(in, &m, tt.text, tt.end)
		if sm.TLVs[TagUssdServiceOp][0] != tt.op || !bytes.Equal(sm.TLVs[TagItsSessionInfo], tt.its) || sm.DataCoding != tt.dc ||
			!bytes.Equal(sm.Body, tt.body) || sm.ServiceType != "USSD" || sm.Dest != in.Source || sm.Source != in.Dest {
			t.Errorf("%d %s: answer %+v", i, tt.profile, sm)
		}
		if umr, ok := tt.tlvs[TagUserMessageReference]; ok && !bytes.Equal(sm.TLVs[TagUserMessageReference], umr) {
			t.Errorf("%d: umr not echoed: %+v", i, sm.TLVs)
		}
	}
}

// FuzzUSSDParse feeds arbitrary deliver_sm contents to every profile:
// Parse never panics, a message it accepts has a key and valid UTF-8, and
// its answer always fits a USSD screen.
func FuzzUSSDParse(f *testing.F) {
	f.Add(uint8(0x01), []byte("*384*1*2#"), uint8(0x0F), []byte{0x12, 0x34}, []byte{}, "384", uint8(0), "Welcome")
	f.Add(uint8(0x12), []byte("1"), uint8(0x00), []byte{0x12, 0x35}, []byte{0, 7}, "", uint8(0x40), "Bye")
	f.Add(uint8(0x81), []byte{}, uint8(0x08), []byte{1}, []byte{1, 2, 3}, "*1#", uint8(0), "ሰላም")
	f.Add(uint8(0x02), []byte{0xD8, 0x3D, 0x00}, uint8(0x08), []byte{}, []byte{9}, "", uint8(0x40), strings.Repeat("€", 200))
	f.Add(uint8(0x01), []byte{0x05, 0x00, 0x03, 0x01, 0x02, 0x01, 0xFF, 0x80}, uint8(0xF2), []byte{0, 0}, []byte{0}, "\x00", uint8(0x40), "")
	f.Fuzz(func(t *testing.T, op uint8, sm []byte, dc uint8, its, umr []byte, dest string, esm uint8, answer string) {
		in := &Inbound{ServiceType: "USSD", Source: Addr{Addr: "254700000001"}, Dest: Addr{Addr: dest},
			DataCoding: dc, ESMClass: esm, ShortMessage: sm, TLVs: TLVs{TagUssdServiceOp: {op}}}
		if len(its) > 0 {
			in.TLVs[TagItsSessionInfo] = its
		}
		if len(umr) > 0 {
			in.TLVs[TagUserMessageReference] = umr
		}
		for name := range USSDPresets {
			p := preset(t, name)
			m, err := p.Parse(in)
			if err != nil {
				if _, ok := err.(*USSDError); !ok {
					t.Fatalf("%s: error %T %v", name, err, err)
				}
				continue
			}
			if m.Key == "" || m.Kind == 0 || !utf8.ValidString(m.Dialled) || !utf8.ValidString(m.Input) {
				t.Fatalf("%s: %+v", name, m)
			}
			if m.Kind == USSDOpen && m.Dialled != "" && !strings.HasSuffix(m.Dialled, "#") {
				t.Fatalf("%s: dialled %q", name, m.Dialled)
			}
			a := p.Answer(in, &m, answer, len(answer)%2 == 0)
			if max := 182; a.DataCoding == 0x08 && len(a.Body) > 160 || a.DataCoding != 0x08 && len(a.Body) > max {
				t.Fatalf("%s: answer of %d octets", name, len(a.Body))
			}
		}
	})
}
