package smpp

import (
	"strings"
	"testing"
	"time"

	"github.com/ussdgw/ussdgw/msisdn"
	"go.yaml.in/yaml/v3"
)

const sampleYAML = `
smsc:
  - name: safaricom-1
    address: 10.0.0.1:2775
    system_id: ussdgw
    password_env: SMPP_TEST_PASSWORD
    bind: tx+rx
    sources:
      - {addr: "384", ton: 3, npi: 0}
    window: 20
    tps: 50
    timeouts: {response: 7s}
    concat: sar
    receipt_ids: submit-hex
    ussd:
      profile: tata
      end_op: 0x11
`

func TestConfigYAML(t *testing.T) {
	t.Setenv("SMPP_TEST_PASSWORD", "pw")
	var doc struct {
		SMSC []Config `yaml:"smsc"`
	}
	dec := yaml.NewDecoder(strings.NewReader(sampleYAML))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	c := doc.SMSC[0]
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	d := Defaults()
	switch {
	case c.Window != 20 || c.TPS != 50 || c.Concat != ConcatSAR || c.Bind != BindTXRX:
		t.Errorf("set fields: %+v", c)
	case c.ReceiptIDs != ReceiptIDsSubmitHex || d.ReceiptIDs != ReceiptIDsSame:
		t.Errorf("receipt_ids %q, default %q", c.ReceiptIDs, d.ReceiptIDs)
	case c.Timeouts.Response != 7*time.Second || c.Timeouts.Bind != d.Timeouts.Bind:
		t.Errorf("timeouts %+v: response set, the rest defaulted", c.Timeouts)
	case c.DestTON != 1 || c.DestNPI != 1 || c.RegisteredDelivery != 1 || c.EnquireLink != 30*time.Second:
		t.Errorf("defaults not applied: %+v", c)
	case c.USSD.Profile != "tata" || c.USSD.EndOp == nil || *c.USSD.EndOp != 0x11 || c.USSD.ServiceType != "USSD":
		t.Errorf("ussd %+v", c.USSD)
	case c.password() != "pw":
		t.Errorf("password not read from the environment")
	}
}

func TestConfigYAMLUnknownKeys(t *testing.T) {
	in := `
name: x
adress: typo:1
timeouts: {bind: 1s, respnse: 2s}
sources:
  - {addr: "1", tonn: 1}
`
	var c Config
	err := yaml.Unmarshal([]byte(in), &c)
	if err == nil {
		t.Fatal("unknown keys accepted")
	}
	for _, want := range []string{`3:1: adress: unknown field; did you mean "address"? (unknown-field)`, `4:22: timeouts.respnse: unknown field; did you mean "response"? (unknown-field)`, `6:17: sources[0].tonn: unknown field; did you mean "ton"? (unknown-field)`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestConfigValidateReportsAll(t *testing.T) {
	c := Defaults()
	c.Name = "bad name"
	c.Address = "nohost"
	c.PasswordEnv = "SMPP_TEST_UNSET_PASSWORD"
	c.Bind = "trx+"
	c.Window = 0
	c.Concat = "udh7"
	c.DataCoding = 0x08
	c.Sources = []Source{{Addr: "", TON: 9, NPI: 2}}
	c.Reconnect = Backoff{Min: time.Second, Max: time.Millisecond}
	c.USSD.Profile = "huawei"
	c.ReceiptIDs = "hex"
	err := c.Validate()
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, want := range []string{"name:", "address:", "system_id:", "SMPP_TEST_UNSET_PASSWORD is empty", "bind:", "window:",
		"concat:", "data_coding:", "sources[0].addr", "sources[0].ton", "sources[0].npi", "reconnect:", "ussd.profile", `receipt_ids: want same, submit-hex, receipt-hex or either, have "hex"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "secret") {
		t.Error("error mentions a password")
	}
}

func TestSecretNeverPrints(t *testing.T) {
	c := testConfig("127.0.0.1:1")
	for _, s := range []string{Secret("hunter2").String(), Secret("hunter2").GoString(), Secret("hunter2").LogValue().String()} {
		if strings.Contains(s, "hunter2") {
			t.Errorf("secret leaked: %s", s)
		}
	}
	if c.password() != "secret" {
		t.Error("programmatic password not used")
	}
}

func TestMSISDNMasked(t *testing.T) {
	for in, want := range map[string]string{"254700000123": "***123", "12": "***", "": "***"} {
		if got := msisdn.MSISDN(in).LogValue().String(); got != want {
			t.Errorf("MSISDN(%q) logs %q, want %q", in, got, want)
		}
	}
}
