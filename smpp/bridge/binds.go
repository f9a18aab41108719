package bridge

import "github.com/ussdgw/ussdgw/smpp"

// Bind is one SMSC connection of the Hub with its group, for metrics.
type Bind struct {
	Group  string
	Client *smpp.Client
}

// Binds returns the Hub's connections in config order. The Hub owns them:
// read them (Status, Tally), do not close them.
func (h *Hub) Binds() []Bind {
	out := make([]Bind, 0, len(h.clients))
	for _, c := range h.clients {
		out = append(out, Bind{Group: h.group[c], Client: c})
	}
	return out
}

// Counters are the Hub's running totals since it was created (the same
// as Health's "counters").
type Counters struct {
	USSDSteps, USSDAborts, USSDFailed, USSDRefused, USSDDead int64
	MOIn, MOHandled, MOFailed, MTSent, MTFailed              int64
}

// Counters returns the Hub's running totals.
func (h *Hub) Counters() Counters {
	s := &h.stats
	return Counters{
		USSDSteps: s.ussdSteps.Load(), USSDAborts: s.ussdAborts.Load(), USSDFailed: s.ussdFailed.Load(),
		USSDRefused: s.ussdRefused.Load(), USSDDead: s.ussdDead.Load(),
		MOIn: s.moIn.Load(), MOHandled: s.moHandled.Load(), MOFailed: s.moFailed.Load(),
		MTSent: s.mtSent.Load(), MTFailed: s.mtFailed.Load(),
	}
}

// GroupState is how many connections of one bind group are bound, and
// what the group carries, for readiness.
type GroupState struct {
	Name  string
	Bound int  // connections bound now
	Total int  // connections configured
	USSD  bool // a connection of the group carries USSD
	SMS   bool // MT SMS leave on this group
}

// Groups returns the state of every bind group, in config order.
func (h *Hub) Groups() []GroupState {
	var out []GroupState
	idx := map[string]int{}
	sms := h.cfg.smsGroup()
	for _, c := range h.clients {
		g := h.group[c]
		i, ok := idx[g]
		if !ok {
			i = len(out)
			idx[g] = i
			out = append(out, GroupState{Name: g, SMS: g == sms})
		}
		out[i].Total++
		if c.Status().Bound {
			out[i].Bound++
		}
		if h.profile[c] != nil {
			out[i].USSD = true
		}
	}
	return out
}
