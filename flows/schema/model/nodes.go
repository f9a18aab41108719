package model

// The node kinds: each is a type whose fields are the keys that kind
// takes. Node (in generate.go) chooses one by the node's type.

// Menu shows a text and numbered choices: fixed options, a list from an
// action (items), or both.
type Menu struct {
	// menu
	Type string `json:"type" jsonschema:"enum=menu"`
	// The screen's text, above the choices.
	Text Text `json:"text"`
	// The fixed choices, in order.
	Options []Option `json:"options,omitempty"`
	// Choices made from a list an action saved.
	Items *Items `json:"items,omitempty"`
	// The Back and Main menu entries: true (default), false (none), or keys (the keys work but are not shown).
	Nav *Nav `json:"nav,omitempty"`
}

// Input asks for a free-text answer and saves it.
type Input struct {
	// input
	Type string `json:"type" jsonschema:"enum=input"`
	// The question.
	Text Text `json:"text"`
	// The variable the answer is saved in.
	Save string `json:"save" jsonschema:"pattern=^[a-z][a-z0-9_]*$"`
	// What answers are accepted.
	Validate *Validate `json:"validate,omitempty"`
	// Shown above the question again after an answer that is not accepted.
	Error *Text `json:"error,omitempty"`
	// The answer is a secret (a PIN): never logged.
	Sensitive *Bool `json:"sensitive,omitempty"`
	// Where to go with an accepted answer.
	Next Target `json:"next"`
	// The Back and Main menu entries: true (default), false (none), or keys (the keys work but are not shown).
	Nav *Nav `json:"nav,omitempty"`
}

// Action calls an adapter and branches on the outcome; no screen.
type Action struct {
	// action
	Type string `json:"type" jsonschema:"enum=action"`
	// The adapter, as named in the gateway config's adapters:.
	Call string `json:"call"`
	// The adapter's operation (adapters/README.md lists each kind's).
	Op string `json:"op,omitempty"`
	// The operation's parameters; values are templates like "{{crop}}".
	Params map[string]Scalar `json:"params,omitempty"`
	// The variable the result is saved under (price → price.value, price.unit, ...).
	Save string `json:"save,omitempty" jsonschema:"pattern=^[a-z][a-z0-9_]*$"`
	// A deadline of its own, shorter than the step's, like 2s.
	Timeout string `json:"timeout,omitempty" jsonschema:"pattern=^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$"`
	// Where to go with a result.
	Next Target `json:"next"`
	// Where to go when nothing matches (default: next).
	OnEmpty *Target `json:"on_empty,omitempty"`
	// Where to go when the adapter refuses the request (default: on_error).
	OnInvalid *Target `json:"on_invalid,omitempty"`
	// Where to go when the back-end fails (default: the built-in "not available" screen).
	OnError *Target `json:"on_error,omitempty"`
	// Where to go when the back-end is too slow (default: the late screen with late_sms, else on_error).
	OnTimeout *Target `json:"on_timeout,omitempty"`
	// Sent by SMS when a result comes after the step's time; the user is told so.
	LateSMS *Text `json:"late_sms,omitempty"`
}

// SMSNode sends the user an SMS and goes on.
type SMSNode struct {
	// sms
	Type string `json:"type" jsonschema:"enum=sms"`
	// The SMS.
	Text Text `json:"text"`
	// Where to go once it is queued.
	Next Target `json:"next"`
	// Where to go when it cannot be sent (default: the built-in "not available" screen).
	OnError *Target `json:"on_error,omitempty"`
}

// Router goes to the first route whose condition holds; no screen.
type Router struct {
	// router
	Type string `json:"type" jsonschema:"enum=router"`
	// The routes, tried in order.
	Routes []Route `json:"routes"`
	// Where to go when no route's condition holds.
	Default Target `json:"default"`
}

// End shows a last screen and ends the session.
type End struct {
	// end
	Type string `json:"type" jsonschema:"enum=end"`
	// The last screen.
	Text Text `json:"text"`
}

// Subscribe records the user's consent to a topic's messages.
type Subscribe struct {
	// subscribe
	Type string `json:"type" jsonschema:"enum=subscribe"`
	// The topic, a template like "price:{{crop}}".
	Topic string `json:"topic"`
	// How the subscription is named to the user (My alerts, STOP confirmations).
	Label Text `json:"label"`
	// Values kept with the subscription (lower-case names); templates.
	Params map[string]Scalar `json:"params,omitempty"`
	// Where to go once it is recorded.
	Next Target `json:"next"`
	// Where to go when it cannot be recorded (default: the built-in "not available" screen).
	OnError *Target `json:"on_error,omitempty"`
}

// Unsubscribe removes the user's consent to a topic, or to all of the service's.
type Unsubscribe struct {
	// unsubscribe
	Type string `json:"type" jsonschema:"enum=unsubscribe"`
	// The topic, a template (or all: true).
	Topic string `json:"topic,omitempty"`
	// Every topic of the service.
	All *Bool `json:"all,omitempty"`
	// Where to go once it is removed.
	Next Target `json:"next"`
	// Where to go when there was no such subscription (default: next).
	OnEmpty *Target `json:"on_empty,omitempty"`
	// Where to go when it cannot be removed (default: the built-in "not available" screen).
	OnError *Target `json:"on_error,omitempty"`
}

// Subscriptions lists the user's subscriptions to the service.
type Subscriptions struct {
	// subscriptions
	Type string `json:"type" jsonschema:"enum=subscriptions"`
	// The variable the list is saved under (a menu's items can read it).
	Save string `json:"save" jsonschema:"pattern=^[a-z][a-z0-9_]*$"`
	// Where to go with the list.
	Next Target `json:"next"`
	// Where to go when there is none (default: next).
	OnEmpty *Target `json:"on_empty,omitempty"`
	// Where to go when they cannot be read (default: the built-in "not available" screen).
	OnError *Target `json:"on_error,omitempty"`
}

// Option is one fixed choice of a menu.
type Option struct {
	// The choice's text.
	Label Text `json:"label"`
	// Where the choice goes.
	Next Target `json:"next"`
	// Variables set when it is chosen; values are templates.
	Set map[string]Scalar `json:"set,omitempty"`
	// Shown only when this condition holds, like: jobs.more == true
	When string `json:"when,omitempty"`
}

// Items are the choices a menu makes from a saved list.
type Items struct {
	// The list: the save: of an action, or a list in it (jobs.items).
	From string `json:"from"`
	// Each choice's text; {{item.name}} and the item's other fields.
	Label Text `json:"label"`
	// Where a choice goes.
	Next Target `json:"next"`
	// Variables set from the chosen item, like {crop: "{{item.id}}"}.
	Set map[string]Scalar `json:"set,omitempty"`
	// At most this many choices (default 20).
	Max int `json:"max,omitempty" jsonschema:"minimum=1,maximum=50"`
}

// Route is one branch of a router.
type Route struct {
	// The condition, like: age >= 18 && lang == "sw"
	When string `json:"when"`
	// Where to go when it holds.
	Next Target `json:"next"`
}

// Validate is what an input accepts.
type Validate struct {
	// text (default), number, integer or date (saved as YYYY-MM-DD).
	Type string `json:"type,omitempty" jsonschema:"enum=text,enum=number,enum=integer,enum=date"`
	// A regular expression the whole answer must match.
	Pattern string `json:"pattern,omitempty"`
	// The smallest number accepted.
	Min *float64 `json:"min,omitempty"`
	// The largest number accepted.
	Max *float64 `json:"max,omitempty"`
	// The fewest characters accepted.
	MinLength int `json:"min_length,omitempty" jsonschema:"minimum=0"`
	// The most characters accepted.
	MaxLength int `json:"max_length,omitempty" jsonschema:"minimum=0"`
	// The only answers accepted (any case); saved as written here.
	OneOf *StringList `json:"one_of,omitempty"`
	// Dates: not after today.
	NotFuture *Bool `json:"not_future,omitempty"`
}
