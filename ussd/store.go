package ussd

import "github.com/ussdgw/ussdgw/kv"

// Store is where sessions live: the module's one key-value interface,
// kv.Store (see there for the contract). An alias, so that callers that
// name ussd.Store keep compiling and every store passes where any of the
// packages asks for one.
type Store = kv.Store
