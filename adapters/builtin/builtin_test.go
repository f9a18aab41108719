package builtin

import (
	"context"
	"strings"
	"testing"

	"go.uber.org/goleak"
	"go.yaml.in/yaml/v3"

	"github.com/ussdgw/ussdgw/adapters"
	"github.com/ussdgw/ussdgw/adapters/internal/kvtest"

	"github.com/ussdgw/ussdgw/internal/logcheck"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(logcheck.Checked(m)) }

// The gateway's adapters section, as cmd/ would hand it over, builds
// every shipped kind over the shipped data.
func TestBuildShipped(t *testing.T) {
	const src = `adapters:
  prices: {kind: prices, file: flows-examples/data/prices.yaml}
  health: {kind: health, file: flows-examples/data/health.yaml, tz: Africa/Nairobi}
  quiz:   {kind: quiz, file: flows-examples/data/quiz.yaml}
  jobs:   {kind: jobs, file: flows-examples/data/jobs.yaml, page_size: 4}
  crm:    {kind: http, url: "https://crm.example.org/api/v1/patients/{{id}}", timeout: 2s,
           headers: {Authorization: "Bearer ${CRM_TOKEN}"}, map: {name: data.name}}
`
	var doc struct {
		Adapters yaml.Node `yaml:"adapters"`
	}
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	deps := adapters.Deps{
		Dir:       "../..",
		KV:        kvtest.Stores(t)[0].KV,
		LookupEnv: func(k string) (string, bool) { return "tok-" + k, k == "CRM_TOKEN" },
	}
	reg, err := adapters.Build(Kinds(), "gateway.yaml", &doc.Adapters, deps)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(reg.Names(), ","); got != "crm,health,jobs,prices,quiz" {
		t.Errorf("names %s", got)
	}
	ctx := context.Background()
	if err := reg.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer reg.Stop(ctx)
	res, err := reg.Call(ctx, "jobs", adapters.Request{Op: "list"})
	if err != nil || res.(map[string]any)["count"] != 4 {
		t.Errorf("jobs list: %v, %v", res, err)
	}
	for _, name := range reg.Names() {
		a, _ := reg.Lookup(name)
		if d, ok := a.(adapters.Describer); !ok || len(d.Ops()) == 0 {
			t.Errorf("%s describes no ops", name)
		}
	}
	// Without the env var, Build names it.
	deps.LookupEnv = func(string) (string, bool) { return "", false }
	_, err = adapters.Build(Kinds(), "gateway.yaml", &doc.Adapters, deps)
	if err == nil || err.Error() != "gateway.yaml:7:37: adapters.crm.headers.Authorization: environment variable CRM_TOKEN is not set (missing-env)" {
		t.Errorf("Build = %v", err)
	}
}
