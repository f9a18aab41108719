package smsc

import (
	"errors"
	"fmt"
	"slices"

	"github.com/ussdgw/ussdgw/smpp"
)

// Profile is how a USSDC speaks USSD over SMPP (docs/smpp.md, "USSD variants"): which
// ussd_service_op values open a session and carry the user's replies in
// deliver_sm, which ones in a submit_sm mean "show and wait" or "show and
// end", how the network aborts, and which TLV keys the session. The
// presets mirror the gateway's profiles of the same names.
type Profile struct {
	Name        string
	ServiceType string // service_type of USSD deliver_sm, usually "USSD"
	DataCoding  uint8  // data_coding of USSD deliver_sm text (GSM 7-bit unpacked); 0x0F is the USSD DCS

	// SessionKey is the TLV that keys a session, its_session_info or
	// user_message_reference (2 octets). KeyMask is the part of it that
	// names the session: of its_session_info, octet 1 is the session
	// number and octet 2 a dialogue sequence number (bits 7..1) with the
	// end flag (bit 0). 0 means 0xFFFE for its_session_info, 0xFFFF for
	// user_message_reference.
	SessionKey smpp.Tag
	KeyMask    uint16

	OpenOp  uint8 // deliver_sm: the user dialled a code (0x01 PSSR indication)
	ReplyOp uint8 // deliver_sm: the user answered a screen (0x12 USSR confirm)

	ContinueOps []uint8 // submit_sm ops that show a screen and wait for a reply (0x02)
	EndOps      []uint8 // submit_sm ops that show a last screen (0x11)
	// EndBit: a submit_sm whose its_session_info has bit 0 set ends the
	// session, whatever its op.
	EndBit bool

	// AbortOp is the deliver_sm op by which the network ends a session
	// (0x81 for Mica and 6D); 0 means none. AbortBit: the network ends a
	// session with a deliver_sm (ReplyOp, or AbortOp when set) whose
	// its_session_info has bit 0 set.
	AbortOp  uint8
	AbortBit bool
}

// The presets (docs/smpp.md, "USSD variants").
var (
	// Spec is SMPP 3.4 as NowSMS and most USSDCs use it: open 0x01,
	// reply 0x12, continue 0x02, end 0x11, its_session_info echoed.
	Spec = Profile{
		Name: "spec", ServiceType: "USSD", DataCoding: 0x0F, SessionKey: smpp.TagItsSessionInfo, KeyMask: 0xFF00,
		OpenOp: 0x01, ReplyOp: 0x12, ContinueOps: []uint8{0x02}, EndOps: []uint8{0x11},
	}
	// Tata is vumi's default processor: the ESME always sends 0x02 and
	// ends by setting bit 0 of its_session_info; the network ends a
	// session with 0x11 and the end bit.
	Tata = Profile{
		Name: "tata", ServiceType: "USSD", DataCoding: 0x0F, SessionKey: smpp.TagItsSessionInfo,
		OpenOp: 0x01, ReplyOp: 0x12, ContinueOps: []uint8{0x02}, EndBit: true,
		AbortOp: 0x11, AbortBit: true,
	}
	// Mica keys the session by user_message_reference and aborts with
	// 0x81.
	Mica = Profile{
		Name: "mica", ServiceType: "USSD", DataCoding: 0x0F, SessionKey: smpp.TagUserMessageReference,
		OpenOp: 0x01, ReplyOp: 0x12, ContinueOps: []uint8{0x02}, EndOps: []uint8{0x11},
		AbortOp: 0x81,
	}
	// SixDee (6D) ends with op 0x11 (0x17 from vumi's hex/decimal mix-up
	// is taken too) and its_session_info bit 0, and aborts with 0x81 and
	// the end bit.
	SixDee = Profile{
		Name: "sixdee", ServiceType: "USSD", DataCoding: 0x0F, SessionKey: smpp.TagItsSessionInfo,
		OpenOp: 0x01, ReplyOp: 0x12, ContinueOps: []uint8{0x02}, EndOps: []uint8{0x11, 0x17}, EndBit: true,
		AbortOp: 0x81, AbortBit: true,
	}
)

// Profiles are the presets by name.
var Profiles = map[string]Profile{"spec": Spec, "tata": Tata, "mica": Mica, "sixdee": SixDee}

// ProfileByName returns a preset.
func ProfileByName(name string) (Profile, error) {
	p, ok := Profiles[name]
	if !ok {
		return Profile{}, fmt.Errorf("smsc: unknown ussd profile %q (spec, tata, mica, sixdee)", name)
	}
	return p, nil
}

// Validate checks that the profile can key and end sessions.
func (p Profile) Validate() error {
	var errs []error
	if p.SessionKey != smpp.TagItsSessionInfo && p.SessionKey != smpp.TagUserMessageReference {
		errs = append(errs, fmt.Errorf("session key 0x%04X: want its_session_info (0x1383) or user_message_reference (0x0204)", uint16(p.SessionKey)))
	}
	if len(p.EndOps) == 0 && !p.EndBit {
		errs = append(errs, errors.New("no end op and no end bit: sessions could never end"))
	}
	if p.EndBit && p.SessionKey != smpp.TagItsSessionInfo {
		errs = append(errs, errors.New("the end bit needs its_session_info as the session key"))
	}
	if p.AbortBit && p.SessionKey != smpp.TagItsSessionInfo {
		errs = append(errs, errors.New("the abort bit needs its_session_info as the session key"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("smsc: ussd profile %q: %w", p.Name, err)
	}
	return nil
}

// keyMask is the part of the session key TLV that names the session.
func (p Profile) keyMask() uint16 {
	if p.KeyMask != 0 {
		return p.KeyMask
	}
	if p.SessionKey == smpp.TagItsSessionInfo {
		return 0xFFFE
	}
	return 0xFFFF
}

// ends reports whether a submit_sm with op and session key TLV value key
// ends the session.
func (p Profile) ends(op uint8, key []byte) bool {
	if slices.Contains(p.EndOps, op) {
		return true
	}
	return p.EndBit && len(key) == 2 && key[1]&1 == 1
}

// continues reports whether op is a "show and wait" op of the profile.
func (p Profile) continues(op uint8) bool { return slices.Contains(p.ContinueOps, op) }
