// Package model describes the flow file format as Go types and generates
// from them the JSON Schema that editors use for completion and checks
// (flows/schema/flow.schema.json; docs/editor.md). Only its tests import
// this module (flows and flows/schema, to prove both agree); the gateway
// binary must not import it, so invopop/jsonschema stays out of it.
//
// The loader (flows/parse.go, flows/decode.go) does not decode into these
// types: it walks the YAML by hand to report every problem with its
// position. The types are the format's one description for tools;
// schema_test.go proves, key by key and node kind by kind, that they and
// the loader accept the same keys, and fails when flows/schema's
// flow.schema.json is not what Generate makes from them. The doc comments of the types and fields
// are the descriptions an editor shows.
//
// It is for tools and tests: the gateway itself does not import it (it
// serves the generated file, package flows/schema). It must not import
// anything of the gateway but flows and flows/schema (in tests).
package model

// File is a flow file: one service, its codes and keywords, its languages
// and its nodes.
type File struct {
	// The service's id: lower-case letters, digits, - and _, starting with a letter. Unique across the gateway.
	ID string `json:"id" jsonschema:"pattern=^[a-z][a-z0-9_-]*$"`
	// The service's name, shown to users (the language chooser, SMS help). A text, or one per language.
	Title *Text `json:"title,omitempty"`
	// What the service is for (not shown to users).
	Description *Text `json:"description,omitempty"`
	// USSD codes that open the service, like *384#.
	Codes *StringList `json:"codes,omitempty"`
	// SMS keywords that open the service (1 to 20 letters or digits; case does not matter).
	Keywords *StringList `json:"keywords,omitempty"`
	// The languages of the service's texts, like [en, fr, sw]. Every text gives each one.
	Languages *StringList `json:"languages"`
	// The language of a user who has not chosen one (default: the first of languages).
	DefaultLanguage string `json:"default_language,omitempty"`
	// The node a session starts at (default: the first node).
	Start string `json:"start,omitempty"`
	// The engine's own words (Back, More, ...) per language, for a language without built-in ones or to change them.
	Labels map[string]Labels `json:"labels,omitempty"`
	// The Back, Main menu and More entries the engine adds to screens.
	Navigation *Navigation `json:"navigation,omitempty"`
	// The screen size the service is paginated against.
	Screen *Screen `json:"screen,omitempty"`
	// The service over SMS: keyword help, SMS dialogues, its own STOP and START words.
	SMS *SMS `json:"sms,omitempty"`
	// The service's nodes by name (lower-case letters, digits and _). Each has a type.
	Nodes map[string]Node `json:"nodes"`
	// The time zone of the service's dates and SMS times, like Africa/Nairobi (default UTC).
	Timezone string `json:"timezone,omitempty"`
	// When the service's price alerts and digests may be sent.
	Alerts *Alerts `json:"alerts,omitempty"`
	// Texts the gateway sends on the service's behalf (alerts, reminders, broadcasts), by name.
	Messages map[string]Text `json:"messages,omitempty"`
}

// Labels are the engine's words in one language.
type Labels struct {
	Back           string `json:"back,omitempty"`
	Home           string `json:"home,omitempty"`
	More           string `json:"more,omitempty"`
	Language       string `json:"language,omitempty"`
	InvalidChoice  string `json:"invalid_choice,omitempty"`
	InvalidInput   string `json:"invalid_input,omitempty"`
	Unavailable    string `json:"unavailable,omitempty"`
	Resume         string `json:"resume,omitempty"`
	ResumeContinue string `json:"resume_continue,omitempty"`
	ResumeRestart  string `json:"resume_restart,omitempty"`
	Expired        string `json:"expired,omitempty"`
	Late           string `json:"late,omitempty"`
	Name           string `json:"name,omitempty"`
	Later          string `json:"later,omitempty"`
}

// Navigation is how users move back and home.
type Navigation struct {
	// Add a Back entry to screens (default true).
	Back *Bool `json:"back,omitempty"`
	// Add a Main menu entry to screens (default true).
	Home *Bool `json:"home,omitempty"`
	// The key for Back (default 0).
	BackKey *Key `json:"back_key,omitempty"`
	// The key for Main menu (default 00).
	HomeKey *Key `json:"home_key,omitempty"`
	// The key for the next page (default 98).
	MoreKey *Key `json:"more_key,omitempty"`
}

// Screen is the size of a screen.
type Screen struct {
	// Octets per screen (default 160: 182 GSM characters or 80 UCS-2).
	MaxOctets int `json:"max_octets,omitempty" jsonschema:"minimum=40,maximum=1000"`
	// Replace characters outside GSM 03.38 (curly quotes, dashes) so a screen stays in GSM (default true).
	SmartEncoding *Bool `json:"smart_encoding,omitempty"`
}

// SMS is the service over SMS.
type SMS struct {
	// Run the menus over SMS, one reply per screen, when a keyword opens the service (needs keywords).
	Dialogue *Bool `json:"dialogue,omitempty"`
	// The SMS sent back to a keyword when there is no SMS dialogue.
	Help *Text `json:"help,omitempty"`
	// Words that stop this service's messages, on top of the gateway's STOP.
	StopWords *StringList `json:"stop_words,omitempty"`
	// Words that start them again, on top of the gateway's START.
	StartWords *StringList `json:"start_words,omitempty"`
}

// Alerts are the limits of the messages a service sends on its own.
type Alerts struct {
	// No alerts between these times, like 21:00-07:00 (they wait until the end).
	QuietHours string `json:"quiet_hours,omitempty" jsonschema:"pattern=^[0-9][0-9]?:[0-9][0-9]-[0-9][0-9]?:[0-9][0-9]$"`
	// Alerts one user gets per day at most (0: no cap).
	DailyCap int `json:"daily_cap,omitempty" jsonschema:"minimum=0,maximum=100"`
	// The time of the daily digest, like 07:00.
	DigestAt string `json:"digest_at,omitempty" jsonschema:"pattern=^[0-9][0-9]?:[0-9][0-9]$"`
}
