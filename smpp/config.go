package smpp

import (
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"strconv"
	"time"
)

// BindType says how a Client binds: one transceiver, or a transmitter and
// a receiver on two connections.
type BindType string

// The bind types.
const (
	BindTRX  BindType = "trx"
	BindTXRX BindType = "tx+rx"
)

// ConcatMethod is how a long MT message is split.
type ConcatMethod string

// The concatenation methods (docs/smpp.md, "SMS").
const (
	ConcatUDH8    ConcatMethod = "udh8"    // UDH with an 8-bit reference: 153 septets / 67 UCS-2 per part
	ConcatUDH16   ConcatMethod = "udh16"   // UDH with a 16-bit reference: 152 / 66
	ConcatSAR     ConcatMethod = "sar"     // sar_* TLVs, the SMSC builds the UDH: 152 / 66 (it may need a 16-bit one)
	ConcatPayload ConcatMethod = "payload" // one submit_sm with message_payload; the SMSC splits
)

// Config is one SMSC connection ("bind"). Build it from Defaults() or
// decode it from YAML (which starts from Defaults() and rejects unknown
// keys), then Validate it.
type Config struct {
	Name         string   `yaml:"name"`          // identifies the bind in logs and metrics
	Group        string   `yaml:"group"`         // binds to one SMSC that stand in for each other; default: the name
	Address      string   `yaml:"address"`       // host:port of the SMSC
	SystemID     string   `yaml:"system_id"`     // bind system_id
	PasswordEnv  string   `yaml:"password_env"`  // name of the environment variable holding the password
	Password     Secret   `yaml:"-"`             // set in code (tests); wins over PasswordEnv
	SystemType   string   `yaml:"system_type"`   // bind system_type, often empty
	Bind         BindType `yaml:"bind"`          // trx | tx+rx
	AddressRange string   `yaml:"address_range"` // bind address_range (receiver side), often empty

	Sources []Source `yaml:"sources"`  // source addresses MT may use; the first is the default
	DestTON uint8    `yaml:"dest_ton"` // dest_addr_ton for MT
	DestNPI uint8    `yaml:"dest_npi"` // dest_addr_npi for MT

	Window      int           `yaml:"window"`       // outstanding requests per connection
	TPS         float64       `yaml:"tps"`          // MT segments per second; 0 means no limit
	EnquireLink time.Duration `yaml:"enquire_link"` // how often we send enquire_link
	Timeouts    Timeouts      `yaml:"timeouts"`
	Reconnect   Backoff       `yaml:"reconnect"` // delay between connection attempts
	Retry       Retry         `yaml:"retry"`

	DataCoding         uint8        `yaml:"data_coding"`         // dc for text that fits GSM 03.38: 0x00, 0x01 or 0xF0-0xF3
	Concat             ConcatMethod `yaml:"concat"`              // udh8 | udh16 | sar | payload
	RegisteredDelivery uint8        `yaml:"registered_delivery"` // registered_delivery of MT; 1 = final receipt
	ReceiptIDs         ReceiptIDs   `yaml:"receipt_ids"`         // same | submit-hex | receipt-hex | either: how receipts name messages
	MaxPDUSize         int          `yaml:"max_pdu_size"`        // largest PDU we accept, in octets

	Inbound InboundConfig `yaml:"inbound"`
	USSD    USSDConfig    `yaml:"ussd"`
}

// Source is an address MT may be sent from.
type Source struct {
	Addr string `yaml:"addr"`
	TON  uint8  `yaml:"ton"`
	NPI  uint8  `yaml:"npi"`
}

// Timeouts bound each kind of wait.
type Timeouts struct {
	Bind     time.Duration `yaml:"bind"`     // dial plus bind_resp
	Response time.Duration `yaml:"response"` // any *_resp, enquire_link_resp included
	Write    time.Duration `yaml:"write"`    // one PDU write
}

// Backoff is a capped exponential backoff with jitter.
type Backoff struct {
	Min time.Duration `yaml:"min"`
	Max time.Duration `yaml:"max"`
}

// Retry governs how MT submits are sent again.
type Retry struct {
	// MaxAttempts is how many times one PDU may be written, retries
	// included.
	MaxAttempts int `yaml:"max_attempts"`
	// Backoff is the wait before resending after a temporary status, and
	// the pause the whole bind takes after ESME_RTHROTTLED/ESME_RMSGQFUL.
	Backoff Backoff `yaml:"backoff"`
	// DedupeWindow is how long we keep listening for the submit_sm_resp of
	// a submit whose response timed out before we send it again. A late
	// response settles the submit without a duplicate; if none comes, the
	// submit is sent again (the SMSC may then have it twice). While it
	// listens the submit keeps its window slot, since the SMSC may still
	// be working on it. 0 means a timed-out submit is never sent again and
	// fails as ambiguous (Error.Ambiguous).
	DedupeWindow time.Duration `yaml:"dedupe_window"`
}

// InboundConfig sizes the handling of deliver_sm and data_sm.
type InboundConfig struct {
	Workers        int           `yaml:"workers"`         // goroutines calling the Handler
	Queue          int           `yaml:"queue"`           // PDUs waiting for a worker; beyond it we answer ESME_RX_T_APPN
	HandlerTimeout time.Duration `yaml:"handler_timeout"` // deadline of the Handler's ctx
}

// USSDConfig is a bind's USSD profile as configured: a preset (Profile)
// and overrides of any of its fields. Resolve turns it into the
// USSDProfile the mapping uses. Pointer and slice fields left nil keep the
// preset's value.
type USSDConfig struct {
	// Profile names a preset (see USSDPresets): "spec" (SMPP 3.4 /
	// NowSMS), "tata" (vumi's default: end by the its_session_info bit),
	// "mica" (user_message_reference, abort 0x81), "sixdee". Empty: no
	// USSD on this bind.
	Profile     string  `yaml:"profile"`
	ServiceType string  `yaml:"service_type"` // service_type of USSD answers; default "USSD"
	SessionKey  string  `yaml:"session_key"`  // its_session_info | user_message_reference | msisdn
	SessionMask *uint16 `yaml:"session_mask"` // bits of its_session_info that name the dialogue
	EndBy       string  `yaml:"end_by"`       // op | bit | both: how our last screen says so
	OpenOps     []uint8 `yaml:"open_ops"`     // deliver_sm ops that open a dialogue, usually [0x01]
	ReplyOps    []uint8 `yaml:"reply_ops"`    // deliver_sm ops that carry the user's reply, usually [0x12]
	AbortOps    []uint8 `yaml:"abort_ops"`    // deliver_sm ops that mean the network ended it, e.g. [0x81]
	AbortBit    *bool   `yaml:"abort_bit"`    // a deliver_sm with the its_session_info end bit ends it
	ContinueOp  *uint8  `yaml:"continue_op"`  // ussd_service_op to continue, usually 0x02
	EndOp       *uint8  `yaml:"end_op"`       // ussd_service_op to end, usually 0x11
	DataCoding  *uint8  `yaml:"data_coding"`  // dc of GSM 7-bit answers: 0x0F, 0x00, 0x01 or 0xF0-0xF3
	Dialled     string  `yaml:"dialled"`      // where the dialled string is: auto | short_message | destination_addr
	MaxOctets   int     `yaml:"max_octets"`   // screen limit in octets, at most 160 (MAP); 0: the flow's
}

// Defaults returns a Config with every default set; fill in the
// connection's own fields (name, address, system_id, password_env,
// sources). This is the one place defaults come from.
func Defaults() Config {
	return Config{
		Bind:        BindTRX,
		DestTON:     1, // international
		DestNPI:     1, // E.164
		Window:      10,
		EnquireLink: 30 * time.Second,
		Timeouts:    Timeouts{Bind: 10 * time.Second, Response: 10 * time.Second, Write: 5 * time.Second},
		Reconnect:   Backoff{Min: time.Second, Max: time.Minute},
		Retry: Retry{
			MaxAttempts:  5,
			Backoff:      Backoff{Min: 250 * time.Millisecond, Max: 10 * time.Second},
			DedupeWindow: 30 * time.Second,
		},
		DataCoding:         0x00,
		Concat:             ConcatUDH8,
		RegisteredDelivery: 1,
		ReceiptIDs:         ReceiptIDsSame,
		MaxPDUSize:         65536,
		Inbound:            InboundConfig{Workers: 256, Queue: 4096, HandlerTimeout: 5 * time.Second},
		USSD:               USSDConfig{ServiceType: "USSD", MaxOctets: 160},
	}
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// password returns the password: Password, else the environment variable.
// GroupName returns Group, or Name when Group is empty.
func (c *Config) GroupName() string {
	if c.Group != "" {
		return c.Group
	}
	return c.Name
}

func (c *Config) password() string {
	if c.Password != "" {
		return string(c.Password)
	}
	if c.PasswordEnv == "" {
		return ""
	}
	return os.Getenv(c.PasswordEnv)
}

// Validate reports every problem of the configuration at once, each a
// *ConfigError ("<field>: <problem> (bad-value)"). It also checks that the
// password's environment variable is set.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &ConfigError{Path: field, Rule: "bad-value", Msg: fmt.Sprintf(format, args...)})
	}
	if !nameRE.MatchString(c.Name) {
		bad("name", "must be letters, digits, '_', '.', '-'")
	}
	if c.Group != "" && !nameRE.MatchString(c.Group) {
		bad("group", "must be letters, digits, '_', '.', '-'")
	}
	if host, port, err := net.SplitHostPort(c.Address); err != nil || host == "" {
		bad("address", "want host:port, have %q", c.Address)
	} else if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		bad("address", "bad port %q", port)
	}
	if c.SystemID == "" || len(c.SystemID) > 15 {
		bad("system_id", "must be 1 to 15 characters")
	}
	switch {
	case c.Password != "":
	case c.PasswordEnv == "":
		bad("password_env", "must name the environment variable holding the password")
	case os.Getenv(c.PasswordEnv) == "":
		bad("password_env", "environment variable %s is empty or unset", c.PasswordEnv)
	}
	if len(c.SystemType) > 12 {
		bad("system_type", "must be at most 12 characters")
	}
	if c.Bind != BindTRX && c.Bind != BindTXRX {
		bad("bind", "want trx or tx+rx, have %q", c.Bind)
	}
	for i, s := range c.Sources {
		f := fmt.Sprintf("sources[%d]", i)
		if s.Addr == "" || len(s.Addr) > 20 {
			bad(f+".addr", "must be 1 to 20 characters")
		}
		if s.TON > 6 {
			bad(f+".ton", "%d is not a type of number (0-6)", s.TON)
		}
		if !validNPI(s.NPI) {
			bad(f+".npi", "%d is not a numbering plan", s.NPI)
		}
	}
	if c.DestTON > 6 {
		bad("dest_ton", "%d is not a type of number (0-6)", c.DestTON)
	}
	if !validNPI(c.DestNPI) {
		bad("dest_npi", "%d is not a numbering plan", c.DestNPI)
	}
	if c.Window < 1 || c.Window > 10000 {
		bad("window", "must be 1 to 10000, have %d", c.Window)
	}
	if c.TPS < 0 {
		bad("tps", "must not be negative")
	}
	if c.EnquireLink <= 0 {
		bad("enquire_link", "must be positive")
	}
	if c.Timeouts.Bind <= 0 || c.Timeouts.Response <= 0 || c.Timeouts.Write <= 0 {
		bad("timeouts", "bind, response and write must be positive")
	}
	c.Reconnect.validate("reconnect", bad)
	if c.Retry.MaxAttempts < 1 {
		bad("retry.max_attempts", "must be at least 1")
	}
	c.Retry.Backoff.validate("retry.backoff", bad)
	if c.Retry.DedupeWindow < 0 {
		bad("retry.dedupe_window", "must not be negative")
	}
	if !(c.DataCoding <= 0x01 || (c.DataCoding >= 0xF0 && c.DataCoding <= 0xF3)) {
		bad("data_coding", "0x%02X is not a GSM 7-bit coding (0x00, 0x01, 0xF0-0xF3)", c.DataCoding)
	}
	switch c.Concat {
	case ConcatUDH8, ConcatUDH16, ConcatSAR, ConcatPayload:
	default:
		bad("concat", "want udh8, udh16, sar or payload, have %q", c.Concat)
	}
	if c.RegisteredDelivery > 0x1F {
		bad("registered_delivery", "0x%02X has reserved bits set", c.RegisteredDelivery)
	}
	if !c.ReceiptIDs.Valid() {
		bad("receipt_ids", "want same, submit-hex, receipt-hex or either, have %q", c.ReceiptIDs)
	}
	if c.MaxPDUSize < 512 || c.MaxPDUSize > discardLimit {
		bad("max_pdu_size", "must be 512 to %d", discardLimit)
	}
	if c.Inbound.Workers < 1 || c.Inbound.Queue < 1 || c.Inbound.HandlerTimeout <= 0 {
		bad("inbound", "workers, queue and handler_timeout must be positive")
	}
	c.USSD.validate(bad)
	return errors.Join(errs...)
}

func (b Backoff) validate(field string, bad func(field, format string, args ...any)) {
	if b.Min <= 0 || b.Max < b.Min {
		bad(field, "want 0 < min <= max, have min %s max %s", b.Min, b.Max)
	}
}

func (u USSDConfig) validate(bad func(field, format string, args ...any)) {
	if u.Profile == "" {
		return
	}
	u.resolve(bad)
}

func validNPI(n uint8) bool {
	switch n {
	case 0, 1, 3, 4, 6, 8, 9, 10, 14, 18:
		return true
	}
	return false
}
