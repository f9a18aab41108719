package main

import (
	"io"
	"testing"
	"time"
)

// The retention settings come from flags, the environment or the file
// like the others, and reach the components that keep the records.
func TestRetentionSettings(t *testing.T) {
	d := defaults()
	if d.OutboxRetention != 7*24*time.Hour || d.APIAuditRetention != 400*24*time.Hour ||
		d.APIRecordRetention != 90*24*time.Hour || d.ConsentRetention != 400*24*time.Hour {
		t.Errorf("defaults: outbox %s, api audit %s, api records %s, consent %s",
			d.OutboxRetention, d.APIAuditRetention, d.APIRecordRetention, d.ConsentRetention)
	}
	s, err := parseSettings("ussdgw", []string{"-outbox-retention", "48h", "-api-record-retention", "240h"},
		env(map[string]string{"USSDGW_API_AUDIT_RETENTION": "720h", "USSDGW_CONSENT_RETENTION": "2160h"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if s.OutboxRetention != 48*time.Hour || s.APIRecordRetention != 240*time.Hour ||
		s.APIAuditRetention != 720*time.Hour || s.ConsentRetention != 2160*time.Hour {
		t.Errorf("parsed: outbox %s, api records %s, api audit %s, consent %s",
			s.OutboxRetention, s.APIRecordRetention, s.APIAuditRetention, s.ConsentRetention)
	}
	if o := outboxOptions(s, nil, nil); o.TTL != 48*time.Hour {
		t.Errorf("outbox TTL %s, want 48h", o.TTL)
	}
}
