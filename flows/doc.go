// Package flows is the flow format and its engine: it loads the services'
// YAML (one service per file), checks it and reports every problem with
// its position, and runs a user's step through the flow's state machine
// (on looplab/fsm), calling adapters and rendering screens in the user's
// language. It must not import ussd or a transport (gateway, smpp, api):
// they run flows, not the other way round; it imports only the adapters,
// the stores it calls (consent) and the codecs (gsm).
//
// Loading: Load reads a directory of flows and returns a Set, or every
// problem found (flows.Error). Running: Flow.Start, Flow.Step and
// Flow.Render move a State and answer a Screen; the session layer (package
// ussd) keeps the State between steps.
package flows
