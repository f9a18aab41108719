package prices

import (
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/ussdgw/ussdgw/adapters/internal/source"
)

func sourceDecode(raw []byte) (*Doc, any, error) {
	d, ix, err := source.Decode[Doc]("prices.yaml", raw, false)
	return d, ix, err
}

func sourceFrom(d *data) *source.Source[data] { return source.FromData(d) }

type yamlNode struct{ *yaml.Node }

func (n *yamlNode) parse(t *testing.T, src string) {
	t.Helper()
	n.Node = new(yaml.Node)
	if err := yaml.Unmarshal([]byte(src), n.Node); err != nil {
		t.Fatal(err)
	}
}
