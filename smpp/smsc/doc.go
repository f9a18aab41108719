// Package smsc is an SMSC and USSDC that ESMEs such as the gateway bind
// to: for simulations (cmd/smsc-sim), load tests and tests. It listens on
// loopback, accepts bind_transceiver, bind_transmitter and bind_receiver
// with configured credentials, answers enquire_link and unbind, takes
// submit_sm (a message id in the response, a delivery receipt after a
// delay if asked for), reassembles concatenated MT (UDH with an 8- or
// 16-bit reference, SAR, message_payload) and injects deliver_sm: MO SMS,
// delivery receipts and USSD dialogues shaped by a Profile (which
// ussd_service_op opens, replies, continues, ends and aborts, and which
// TLV keys the session). It must not import the gateway's side
// (smpp/bridge, ussd, flows): it plays the operator, so it shares only the
// SMPP session layer's types and the codecs with the gateway.
//
// Every submit_sm is handed to Config.OnSubmit, decoded (text by
// data_coding, TLVs, the USSD op and session); every whole MT message to
// Config.OnMessage. A USSD dialogue started with Server.Dial receives the
// screens of its own session.
//
// Faults can be injected: closing connections, answering submit_sm with
// a status such as ESME_RTHROTTLED, withholding responses, and deliver_sm
// whose sequence number collides with an in-flight submit_sm.
//
// The PDU bodies are encoded and decoded with go-smpp's field codec
// (pdufield, pdutlv); deliver_sm uses our own field list, since go-smpp's
// serialises malformed, and TLV values are always raw bytes. The session
// layer (framing, matching responses by command id and sequence number,
// a writer that batches PDUs) is ours.
//
// # Concurrency
//
// A Server is safe for concurrent use. OnSubmit, OnMessage and OnBind run
// on a connection's read loop: they must not block, or that connection
// stops reading. A Session is used by one goroutine at a time.
package smsc
