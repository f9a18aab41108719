// Package smpp connects the gateway to SMSCs and USSDCs over SMPP 3.4: it
// binds, keeps the binds alive, sends SMS (MT) with the right coding and
// concatenation, and hands inbound deliver_sm and data_sm (MO SMS, delivery
// receipts, USSD) to a Handler. It is a transport: it must not import ussd,
// flows or the stores (package smpp/bridge joins them), and nothing below
// the transports may import it.
//
// # What comes from go-smpp and what is ours
//
// From github.com/fiorix/go-smpp (pinned at 2894b96) we use only the PDU
// codec: the field lists and serialisation of pdu, pdufield and pdutlv.
// Its Transmitter, Transceiver and Receiver lose messages (they match
// responses by sequence number only, drop the bind on PDUs they cannot
// decode, run the handler on the read path, have no blocking window, and
// reuse one process-wide sequence counter), so the session layer is ours:
//
//   - the read loop frames PDUs by command_length itself, so a PDU we cannot
//     decode or do not support gets a generic_nack or its own _resp with an
//     error status, and the bind stays up;
//   - responses are matched by command id and sequence number, so a
//     deliver_sm that reuses the sequence number of an in-flight submit_sm
//     reaches the Handler;
//   - each connection numbers its own requests 1..0x7FFFFFFF and wraps;
//   - a window of N outstanding requests, where callers wait for a slot
//     with their context;
//   - inbound PDUs are queued to workers; the deliver_sm_resp carries the
//     status the Handler returns;
//   - enquire_link both ways, unbind both ways, reconnect with capped
//     exponential backoff and jitter, write deadlines, and a Status for
//     health checks and metrics.
//
// On top of the session layer: text coding (GSM 03.38 via package gsm, else
// UCS-2) and segmentation (UDH 8/16-bit, SAR, message_payload), a
// segment-weighted TPS limit, retry of temporary failures (the command
// status table is in status.go), delivery receipt parsing and matching
// (receipt.go, msgid.go), a status store (store.go, kvstore.go) and MO
// reassembly in memory (reassemble.go) or in the team store (moparts.go).
//
// # USSD
//
// USSD over SMPP is vendor-shaped (docs/smpp.md, "USSD variants"), so a bind's USSD
// profile is data (ussd.go): which ussd_service_op values open, carry a
// reply to and abort a dialogue, what identifies it (its_session_info
// masked, user_message_reference, or the MSISDN), and how a screen says
// continue or end (the end op, the its_session_info end bit, or both).
// USSDPresets holds spec, tata, mica and sixdee; a USSDConfig names one
// and overrides any field. USSDProfile.Parse reads a deliver_sm and
// USSDProfile.Answer builds the submit_sm of a screen. Package
// smpp/bridge runs the dialogues through the session manager.
//
// # What closes a connection
//
// A command_length below 16 or above 1 MiB means the byte stream can no
// longer be framed: we send generic_nack (ESME_RINVCMDLEN) when we can and
// close, then reconnect. A command_length above the configured
// max_pdu_size but at most 1 MiB is read, discarded and answered with
// ESME_RINVCMDLEN; the bind stays. Otherwise only I/O errors, a missing
// enquire_link_resp, an unbind from the peer, a failed write and Close end
// a connection.
//
// # Logging
//
// Logs carry comp=smpp and bind=<name>. Message text is never logged;
// addresses are logged through MSISDN, which shows only the last three
// digits.
package smpp
