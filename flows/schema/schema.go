// Package schema holds the JSON Schema of flow files, flow.schema.json,
// for editors (docs/editor.md) and for `ussdgw flow-schema` to print. It
// is generated from the Go types of flows/schema/model, whose tests fail
// when this copy is stale; do not edit it by hand. It imports nothing.
package schema

import _ "embed"

// JSON is flow.schema.json.
//
//go:embed flow.schema.json
var JSON []byte
