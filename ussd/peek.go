package ussd

import (
	"context"
	"fmt"

	"github.com/ussdgw/ussdgw/flows"
	"github.com/ussdgw/ussdgw/msisdn"
)

// Peek returns the session of number as stored, or nil when there is none:
// what a tool shows beside the screen (the workbench's variables). It
// changes nothing.
func (m *Manager) Peek(ctx context.Context, number msisdn.MSISDN) (*Session, error) {
	vals, err := m.cfg.Store.Get(ctx, m.sessionKey(number))
	if err != nil {
		return nil, fmt.Errorf("loading session: %w", err)
	}
	if vals[0] == nil {
		return nil, nil
	}
	s, err := decodeSession(vals[0])
	if err != nil {
		return nil, fmt.Errorf("reading session: %w", err)
	}
	return s, nil
}

// SetLanguage remembers lang as the language of number, as a user's choice
// on a language screen does: the next session starts in it.
func (m *Manager) SetLanguage(ctx context.Context, number msisdn.MSISDN, lang string) error {
	if err := m.cfg.Store.Set(ctx, profileKey(number), []byte(lang), m.cfg.ProfileTTL); err != nil {
		return fmt.Errorf("saving the language: %w", err)
	}
	return nil
}

// Reacher is a Messenger that reaches some numbers only (the workbench's
// capture in front of an absent SMSC). For a number it does not reach, the
// flows see no SMS route at all, exactly as without one: sms nodes take
// their error branch and no "we will send it by SMS" is promised.
type Reacher interface {
	flows.Messenger
	Reaches(msisdn string) bool
}

// sms is the SMS route of a step for number.
func (m *Manager) sms(number msisdn.MSISDN) flows.Messenger {
	if r, ok := m.cfg.SMS.(Reacher); ok && !r.Reaches(string(number)) {
		return nil
	}
	return m.cfg.SMS
}
