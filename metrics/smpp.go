package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ussdgw/ussdgw/smpp"
)

// SMPP is a snapshot of the SMPP side, read at every scrape.
type SMPP struct {
	Binds  []Bind
	Totals Totals
}

// Bind is one SMSC connection: its Status and Tally (smpp.Client).
type Bind struct {
	Name, Group string
	Status      smpp.Status
	Tally       smpp.Tally
}

// Totals are the SMPP bridge's running totals (bridge.Counters).
type Totals struct {
	MTSent, MTFailed                  int64
	MOHandled, MOFailed               int64
	USSDAborts, USSDRefused, USSDDead int64
}

// WatchSMPP reads the SMPP side at every scrape through snap, the
// counters the clients and the bridge keep anyway. Call it once.
func (m *Metrics) WatchSMPP(snap func() SMPP) {
	c := &smppCollector{snap: snap,
		up:       prometheus.NewDesc("ussdgw_smpp_bind_up", "1 when every session of the bind is bound to the SMSC, else 0.", []string{"bind", "group"}, nil),
		drops:    prometheus.NewDesc("ussdgw_smpp_bind_drops_total", "Bound SMPP connections lost.", []string{"bind", "group"}, nil),
		pdus:     prometheus.NewDesc("ussdgw_smpp_pdus_total", "SMPP PDUs by direction (in, out), command and command_status (ESME_ROK for requests).", []string{"bind", "direction", "command", "status"}, nil),
		window:   prometheus.NewDesc("ussdgw_smpp_window_in_use", "Requests sent and not yet answered (the SMPP window in use).", []string{"bind"}, nil),
		waiting:  prometheus.NewDesc("ussdgw_smpp_window_waiting", "Callers waiting for a window slot.", []string{"bind"}, nil),
		throttle: prometheus.NewDesc("ussdgw_smpp_throttled_total", "submit_sm answered ESME_RTHROTTLED or ESME_RMSGQFUL.", []string{"bind"}, nil),
		timeouts: prometheus.NewDesc("ussdgw_smpp_response_timeouts_total", "Requests whose response did not come in time.", []string{"bind"}, nil),
		receipts: prometheus.NewDesc("ussdgw_smpp_receipts_total", "Delivery receipts by state (DELIVERED, UNDELIVERABLE, EXPIRED, REJECTED...; intermediate; unparsable) and whether the gateway accepted them.", []string{"bind", "state", "accepted"}, nil),
		mt:       prometheus.NewDesc("ussdgw_sms_mt_total", "MT SMS handed to the SMSC, by outcome (sent, failed).", []string{"outcome"}, nil),
		mo:       prometheus.NewDesc("ussdgw_sms_mo_total", "MO SMS, by outcome (handled, failed).", []string{"outcome"}, nil),
		ussd:     prometheus.NewDesc("ussdgw_smpp_ussd_events_total", "USSD dialogues over SMPP: aborts by the network, steps refused (too many in flight), answers the network refused (dialogue gone).", []string{"event"}, nil),
	}
	m.register(c, map[string]string{
		"ussdgw_smpp_bind_up": "gauge", "ussdgw_smpp_bind_drops_total": "counter", "ussdgw_smpp_pdus_total": "counter",
		"ussdgw_smpp_window_in_use": "gauge", "ussdgw_smpp_window_waiting": "gauge", "ussdgw_smpp_throttled_total": "counter",
		"ussdgw_smpp_response_timeouts_total": "counter", "ussdgw_smpp_receipts_total": "counter",
		"ussdgw_sms_mt_total": "counter", "ussdgw_sms_mo_total": "counter", "ussdgw_smpp_ussd_events_total": "counter",
	})
}

type smppCollector struct {
	snap func() SMPP

	up, drops, pdus, window, waiting, throttle, timeouts, receipts, mt, mo, ussd *prometheus.Desc
}

func (c *smppCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.up, c.drops, c.pdus, c.window, c.waiting, c.throttle, c.timeouts, c.receipts, c.mt, c.mo, c.ussd} {
		ch <- d
	}
}

func (c *smppCollector) Collect(ch chan<- prometheus.Metric) {
	if c.snap == nil {
		return
	}
	s := c.snap()
	if len(s.Binds) == 0 {
		return
	}
	gauge := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), labels...)
	}
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	for _, b := range s.Binds {
		up, inFlight, drops := int64(0), int64(0), int64(0)
		if b.Status.Bound {
			up = 1
		}
		for _, ss := range b.Status.Sessions {
			inFlight += int64(ss.InFlight)
			drops += ss.Drops
		}
		gauge(c.up, up, b.Name, b.Group)
		counter(c.drops, drops, b.Name, b.Group)
		gauge(c.window, inFlight, b.Name)
		gauge(c.waiting, int64(b.Status.Waiting), b.Name)
		counter(c.throttle, b.Status.Counters.Throttled, b.Name)
		counter(c.timeouts, b.Status.Counters.Timeouts, b.Name)
		for k, n := range b.Tally.PDUs {
			counter(c.pdus, n, b.Name, k.Dir, k.Command, k.Status)
		}
		for k, n := range b.Tally.Receipts {
			counter(c.receipts, n, b.Name, k.State, strconv.FormatBool(k.Accepted))
		}
	}
	t := s.Totals
	counter(c.mt, t.MTSent, "sent")
	counter(c.mt, t.MTFailed, "failed")
	counter(c.mo, t.MOHandled, "handled")
	counter(c.mo, t.MOFailed, "failed")
	counter(c.ussd, t.USSDAborts, "abort")
	counter(c.ussd, t.USSDRefused, "refused")
	counter(c.ussd, t.USSDDead, "dead")
}
