package bridge

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ussdgw/ussdgw/gsm"
	"github.com/ussdgw/ussdgw/smpp"
	"github.com/ussdgw/ussdgw/ussd"
)

// Config is the gateway's smpp: section: the SMSC connections and what the
// gateway does with them. Decode it from YAML (unknown keys are errors,
// defaults come from Defaults) or build it from Defaults, then Validate.
type Config struct {
	// Connections are the binds, each an smpp.Config. A connection whose
	// ussd.profile is set carries USSD; any connection may deliver MO SMS
	// and receipts. Connections with the same group reach the same SMSC
	// and stand in for each other.
	Connections []smpp.Config `yaml:"connections"`
	SMS         SMSConfig     `yaml:"sms"`
	MO          MOConfig      `yaml:"mo"`
	USSD        USSDConfig    `yaml:"ussd"`
}

// SMSConfig is the route of MT SMS: flows' sms nodes, late results and
// replies to MO.
type SMSConfig struct {
	// Group names the binds MT SMS leave on (any bound one, in turns).
	// Default: the first connection's group.
	Group string `yaml:"group"`
	// Source is the source address of MT SMS; it must be one of the
	// sources of every connection of the group. Default: each
	// connection's first source.
	Source string `yaml:"source"`
	// ReceiptTTL is how long the delivery status of an MT SMS is kept in
	// the store (72h).
	ReceiptTTL time.Duration `yaml:"receipt_ttl"`
}

// MOConfig is the handling of MO SMS.
type MOConfig struct {
	// Reassembly is how long the parts of a concatenated MO wait in the
	// store for the rest (10m).
	Reassembly time.Duration `yaml:"reassembly"`
	// DialogueTimeout is how long an SMS dialogue (a service with
	// sms.dialogue) waits for the next reply (30m).
	DialogueTimeout time.Duration `yaml:"dialogue_timeout"`
	// MaxOctets is the size of one message of an SMS dialogue (402: three
	// concatenated SMS of 134 octets).
	MaxOctets int `yaml:"max_octets"`
}

// USSDConfig bounds the USSD work of the gateway.
type USSDConfig struct {
	// MaxSteps is how many USSD steps may run at once; beyond it a
	// deliver_sm is refused with ESME_RX_T_APPN (4096).
	MaxSteps int `yaml:"max_steps"`
	// Apology is the END screen shown when a step fails after the
	// deliver_sm was accepted.
	Apology string `yaml:"apology"`
}

// Defaults returns the section with every default set and no connection.
func Defaults() Config {
	return Config{
		SMS:  SMSConfig{ReceiptTTL: 72 * time.Hour},
		MO:   MOConfig{Reassembly: 10 * time.Minute, DialogueTimeout: 30 * time.Minute, MaxOctets: 402},
		USSD: USSDConfig{MaxSteps: 4096, Apology: "Sorry, the service is not available right now. Please try again later."},
	}
}

// UnmarshalYAML decodes the section on top of Defaults(). Unknown keys
// anywhere in it are *smpp.ConfigError with their line and column.
func (c *Config) UnmarshalYAML(n *yaml.Node) error {
	if err := smpp.CheckKnownFields(n, Config{}); err != nil {
		return err
	}
	type plain Config
	p := plain(Defaults())
	if err := n.Decode(&p); err != nil {
		return err
	}
	*c = Config(p)
	return nil
}

// Validate reports every problem at once, each a *smpp.ConfigError whose
// Path starts at the section ("connections[1].ussd.end_op", "sms.source").
func (c *Config) Validate() error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, &smpp.ConfigError{Path: path, Rule: "bad-value", Msg: fmt.Sprintf(format, args...)})
	}
	if len(c.Connections) == 0 {
		bad("connections", "at least one connection is needed")
	}
	names := map[string]int{}
	type groupInfo struct {
		first   int
		profile smpp.USSDProfile
		ussd    bool
		ids     smpp.ReceiptIDs
	}
	groups := map[string]*groupInfo{}
	for i := range c.Connections {
		cc := &c.Connections[i]
		prefix := fmt.Sprintf("connections[%d]", i)
		if err := cc.Validate(); err != nil {
			for _, e := range unjoin(err) {
				var ce *smpp.ConfigError
				if errors.As(e, &ce) {
					cp := *ce
					cp.Path = prefix + "." + ce.Path
					errs = append(errs, &cp)
				} else {
					errs = append(errs, fmt.Errorf("%s: %w", prefix, e))
				}
			}
		}
		if j, dup := names[cc.Name]; dup && cc.Name != "" {
			bad(prefix+".name", "%q is also connections[%d]", cc.Name, j)
		}
		names[cc.Name] = i
		p, isUSSD := cc.USSD.Resolve()
		ids := cmp.Or(cc.ReceiptIDs, smpp.ReceiptIDsSame)
		g := groups[cc.GroupName()]
		if g == nil {
			groups[cc.GroupName()] = &groupInfo{first: i, profile: p, ussd: isUSSD, ids: ids}
			continue
		}
		if g.ussd != isUSSD || !sameProfile(g.profile, p) {
			bad(prefix+".ussd", "differs from connections[%d] of the same group %q: the binds of a group stand in for each other", g.first, cc.GroupName())
		}
		// A receipt may come on any bind of the group, not only the one
		// its message left on.
		if ids != g.ids && ids.Valid() && g.ids.Valid() {
			bad(prefix+".receipt_ids", "%s differs from connections[%d] of the same group %q (%s): a receipt may come on any bind of the group", ids, g.first, cc.GroupName(), g.ids)
		}
	}
	if c.SMS.Group != "" && len(c.Connections) > 0 {
		if _, ok := groups[c.SMS.Group]; !ok {
			bad("sms.group", "no connection is in group %q", c.SMS.Group)
		}
	}
	if c.SMS.Source != "" {
		for i, cc := range c.Connections {
			if cc.GroupName() != c.smsGroup() {
				continue
			}
			if !slices.ContainsFunc(cc.Sources, func(s smpp.Source) bool { return s.Addr == c.SMS.Source }) {
				bad("sms.source", "%q is not among the sources of connections[%d] (%s)", c.SMS.Source, i, cc.Name)
			}
		}
	}
	if c.SMS.ReceiptTTL <= 0 {
		bad("sms.receipt_ttl", "must be positive")
	}
	if c.MO.Reassembly <= 0 {
		bad("mo.reassembly", "must be positive")
	}
	if c.MO.DialogueTimeout <= 0 {
		bad("mo.dialogue_timeout", "must be positive")
	}
	if c.MO.MaxOctets < 140 || c.MO.MaxOctets > 1000 {
		bad("mo.max_octets", "must be 140 to 1000")
	}
	if c.USSD.MaxSteps < 1 {
		bad("ussd.max_steps", "must be at least 1")
	}
	if c.USSD.Apology == "" {
		bad("ussd.apology", "must not be empty")
	}
	return errors.Join(errs...)
}

// smsGroup returns the group MT SMS leave on.
func (c *Config) smsGroup() string {
	if c.SMS.Group != "" {
		return c.SMS.Group
	}
	if len(c.Connections) == 0 {
		return ""
	}
	return c.Connections[0].GroupName()
}

func sameProfile(a, b smpp.USSDProfile) bool {
	return a.Name == b.Name && a.ServiceType == b.ServiceType && a.SessionKey == b.SessionKey &&
		a.SessionMask == b.SessionMask && slices.Equal(a.OpenOps, b.OpenOps) && slices.Equal(a.ReplyOps, b.ReplyOps) &&
		slices.Equal(a.AbortOps, b.AbortOps) && a.AbortBit == b.AbortBit && a.ContinueOp == b.ContinueOp &&
		a.EndOp == b.EndOp && a.EndBy == b.EndBy && a.DataCoding == b.DataCoding && a.Dialled == b.Dialled &&
		a.MaxOctets == b.MaxOctets
}

// unjoin returns the errors an errors.Join holds, or err alone.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// SMSSessions returns the session manager configuration for SMS
// dialogues (services with sms.dialogue), built from the USSD one: channel
// "sms" (its own sessions), the MO screen size, no resume offer, and the
// dialogue timeout.
func SMSSessions(base ussd.Config, mo MOConfig) ussd.Config {
	base.Channel = "sms"
	base.Limit = gsm.Limit{Octets: mo.MaxOctets}
	base.ResumeWindow = -1
	base.SessionTimeout = mo.DialogueTimeout
	return base
}
