package smpp

import (
	"math/big"
	"strings"
)

// maxIDLen bounds the ids we convert (message_id is at most 65 octets).
const maxIDLen = 65

// idKey is how a message id is stored: an id of hex digits (decimal ids
// included) loses its leading zeros and goes lower case; any other id just
// goes lower case.
func idKey(id string) string {
	id = strings.ToLower(strings.TrimSpace(id))
	if isHex(id) {
		if t := strings.TrimLeft(id, "0"); t != "" {
			return t
		}
		return "0"
	}
	return id
}

// IDKey is the form of an SMSC message id that receipts are matched by:
// lower case, and without leading zeros when it reads as hex.
func IDKey(id string) string { return idKey(id) }

// idForms returns the keys under which the message a receipt names may
// have been stored: its own key, and, since SMSCs give the id in hex in
// one place and in decimal in the other (docs/smpp.md, "SMS", Kannel's
// msg-id-type), the decimal id written in hex and the hex id written in
// decimal. Lookups should try them in order.
func idForms(id string) []string {
	k := idKey(id)
	forms := []string{k}
	if len(k) > maxIDLen || !isHex(k) {
		return forms
	}
	add := func(s string) {
		for _, f := range forms {
			if f == s {
				return
			}
		}
		forms = append(forms, s)
	}
	if isDecimal(k) {
		if n, ok := new(big.Int).SetString(k, 10); ok {
			add(n.Text(16))
		}
	}
	if n, ok := new(big.Int).SetString(k, 16); ok {
		add(n.Text(10))
	}
	return forms
}

// SameMessageID reports whether a receipt's id names the message whose
// submit_sm_resp gave sent: equal ignoring case and leading zeros, or
// equal once one of them is read in hex and the other in decimal.
func SameMessageID(sent, receipt string) bool {
	k := idKey(sent)
	for _, f := range idForms(receipt) {
		if f == k {
			return true
		}
	}
	return false
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func isDecimal(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
