package smpp

import (
	"math/big"
	"slices"
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

// ReceiptIDs is how an SMSC's receipts name a message, against the id
// its submit_sm_resp gave (docs/smpp.md, "SMS", message ids): a
// connection's receipt_ids setting. Kannel's msg-id-type says the same
// with two bits.
type ReceiptIDs string

// The conventions. In each, ids compare ignoring case and leading zeros.
const (
	// ReceiptIDsSame: the receipt gives the id as the submit_sm_resp did
	// (SMPP 3.4; what most SMSCs do). The default; the empty value means it.
	ReceiptIDsSame ReceiptIDs = "same"
	// ReceiptIDsSubmitHex: the submit_sm_resp gives the id in hex, the
	// receipt the same number in decimal.
	ReceiptIDsSubmitHex ReceiptIDs = "submit-hex"
	// ReceiptIDsReceiptHex: the submit_sm_resp gives the id in decimal,
	// the receipt the same number in hex.
	ReceiptIDsReceiptHex ReceiptIDs = "receipt-hex"
	// ReceiptIDsEither: not known; a receipt matches the id as written,
	// else the id read in decimal written in hex, else read in hex written
	// in decimal. A last resort: where one reading of a receipt's id is
	// another message's id (decimal 38806 is hex 9796, itself a decimal
	// id), a receipt that arrives before its own message's id is recorded
	// is applied to that other message, and its own message never gets it.
	ReceiptIDsEither ReceiptIDs = "either"
)

// Valid reports whether m is one of the conventions (or empty: same).
func (m ReceiptIDs) Valid() bool {
	switch m {
	case "", ReceiptIDsSame, ReceiptIDsSubmitHex, ReceiptIDsReceiptHex, ReceiptIDsEither:
		return true
	}
	return false
}

// keys returns the keys (idKey of a submit_sm_resp's id, as Sent stores
// them) of the message a receipt whose id is id names, in the order to try
// them: one, except for ReceiptIDsEither. A receipt id that is not a
// number in the base m expects (the SMSC strayed from its habit) is taken
// as written.
func (m ReceiptIDs) keys(id string) []string {
	k := idKey(id)
	switch m {
	case ReceiptIDsSubmitHex:
		if isDecimal(k) {
			if c, ok := rebase(k, 10, 16); ok {
				return []string{c}
			}
		}
	case ReceiptIDsReceiptHex:
		if c, ok := rebase(k, 16, 10); ok {
			return []string{c}
		}
	case ReceiptIDsEither:
		return idForms(id)
	}
	return []string{k}
}

// Keys returns the IDKey forms of the submit_sm_resp id that a receipt
// whose id is receiptID names under convention m, in the order to try
// them: one, except for ReceiptIDsEither.
func (m ReceiptIDs) Keys(receiptID string) []string { return m.keys(receiptID) }

// Matches reports whether a receipt whose id is receipt names the message
// whose submit_sm_resp gave the id sent, under convention m.
func (m ReceiptIDs) Matches(sent, receipt string) bool {
	return slices.Contains(m.keys(receipt), idKey(sent))
}

// rebase writes the number k (an idKey) reads as in base from in base to,
// if k is such a number of at most maxIDLen digits.
func rebase(k string, from, to int) (string, bool) {
	if len(k) > maxIDLen || !isHex(k) {
		return "", false
	}
	n, ok := new(big.Int).SetString(k, from)
	if !ok {
		return "", false
	}
	return n.Text(to), true
}

// idForms returns the keys under which the message a receipt names may
// have been stored, under ReceiptIDsEither: its own key, the decimal id
// written in hex and the hex id written in decimal. Lookups should try
// them in order.
func idForms(id string) []string {
	k := idKey(id)
	forms := []string{k}
	add := func(s string, ok bool) {
		if ok && !slices.Contains(forms, s) {
			forms = append(forms, s)
		}
	}
	if isDecimal(k) {
		add(rebase(k, 10, 16))
	}
	add(rebase(k, 16, 10))
	return forms
}

// SameMessageID reports whether a receipt's id names the message whose
// submit_sm_resp gave sent under ReceiptIDsEither: equal ignoring case and
// leading zeros, or equal once one of them is read in hex and the other
// in decimal. A connection's own convention (Config.ReceiptIDs) is the
// sound test: ReceiptIDs.Matches.
func SameMessageID(sent, receipt string) bool {
	return ReceiptIDsEither.Matches(sent, receipt)
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
