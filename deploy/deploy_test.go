// Package deploy holds the deployment files (Dockerfile, compose file,
// systemd unit) and the tests that check them as far as a machine without
// a container runtime allows: they parse, say what they must, and the
// binary they ship builds static. Its tests may import anything of ours;
// nothing imports it.
package deploy

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	froms := regexp.MustCompile(`(?m)^FROM `).FindAllStringIndex(text, -1)
	if len(froms) < 2 {
		t.Fatalf("want a multi-stage build, got %d FROM lines", len(froms))
	}
	final := text[froms[len(froms)-1][0]:]
	user := regexp.MustCompile(`(?m)^USER (\S+)`).FindStringSubmatch(final)
	if user == nil || strings.HasPrefix(user[1], "root") || strings.HasPrefix(user[1], "0") {
		t.Errorf("the final stage must run as a non-root user, got %v", user)
	}
	if !strings.Contains(text, "CGO_ENABLED=0") {
		t.Error("the binary must be built with CGO_ENABLED=0 (static)")
	}
	if !strings.Contains(final, "0.0.0.0:8080") {
		t.Error("the container must listen on all interfaces")
	}
}

// TestStaticBinary builds the gateway as the Dockerfile does and checks
// that it needs no dynamic loader (it runs on a distroless static base).
func TestStaticBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	out := filepath.Join(t.TempDir(), "ussdgw")
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, "../cmd/ussdgw")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("the binary is dynamically linked (has PT_INTERP)")
		}
	}
}

func TestCompose(t *testing.T) {
	b, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Build       map[string]string `yaml:"build"`
			Environment map[string]string `yaml:"environment"`
			DependsOn   map[string]any    `yaml:"depends_on"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	if _, ok := c.Services["redis"]; !ok {
		t.Fatal("no redis service")
	}
	gateways := 0
	for name, s := range c.Services {
		if !strings.HasPrefix(name, "gateway") {
			continue
		}
		gateways++
		if s.Build["dockerfile"] != "deploy/Dockerfile" {
			t.Errorf("%s: builds %q", name, s.Build["dockerfile"])
		}
		if s.Environment["USSDGW_REDIS_URL"] == "" {
			t.Errorf("%s: no USSDGW_REDIS_URL: instances would not share sessions", name)
		}
		if s.Environment["USSDGW_CALLBACK_SECRET"] == "" {
			t.Errorf("%s: listens off loopback without a callback secret", name)
		}
		if _, ok := s.DependsOn["redis"]; !ok {
			t.Errorf("%s: does not wait for redis", name)
		}
	}
	if gateways < 2 {
		t.Errorf("want two gateway instances, got %d", gateways)
	}
}

// TestSystemdUnit runs systemd-analyze verify when it is installed (it
// reports unknown keys and bad values), on a copy whose ExecStart points
// at a binary that exists here.
func TestSystemdUnit(t *testing.T) {
	b, err := os.ReadFile("ussdgw.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"NoNewPrivileges=yes", "DynamicUser=yes", "KillSignal=SIGTERM", "ExecStart=/usr/local/bin/ussdgw", "ExecReload=/bin/kill -HUP $MAINPID"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("the unit lacks %s", want)
		}
	}
	tool, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed: the unit was only read")
	}
	unit := filepath.Join(t.TempDir(), "ussdgw.service")
	if err := os.WriteFile(unit, []byte(strings.ReplaceAll(string(b), "/usr/local/bin/ussdgw", "/bin/true")), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tool, "verify", unit).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}
