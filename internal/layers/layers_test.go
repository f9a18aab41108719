package layers

import (
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// pkg is what the test reads of one directory's Go files.
type pkg struct {
	path    string              // relative to the module
	imports map[string][]string // module-relative import -> files importing it
	tests   map[string][]string // the same for the test files
	doc     string              // the package comment of the non-test files
	testDoc string              // the package comment of the test files
}

// load parses the imports and package comments of every Go file of the
// module, test files included (a test that imports a higher layer ties the
// layers together as much as code does), except external _test packages,
// which are not part of the package they test.
func load(t *testing.T) map[string]*pkg {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root: %v", err)
	}
	pkgs := map[string]*pkg{}
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(file string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if file != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "node_modules" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, file, nil, parser.ImportsOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		isTest := strings.HasSuffix(name, "_test.go")
		if isTest && strings.HasSuffix(f.Name.Name, "_test") {
			return nil
		}
		dir, _ := filepath.Rel(root, filepath.Dir(file))
		dir = filepath.ToSlash(dir)
		p := pkgs[dir]
		if p == nil {
			p = &pkg{path: dir, imports: map[string][]string{}, tests: map[string][]string{}}
			pkgs[dir] = p
		}
		if f.Doc != nil {
			if isTest {
				p.testDoc = f.Doc.Text()
			} else {
				p.doc = f.Doc.Text()
			}
		}
		for _, is := range f.Imports {
			ip, _ := strconv.Unquote(is.Path.Value)
			if ip == Module || strings.HasPrefix(ip, Module+"/") {
				rel := strings.TrimPrefix(strings.TrimPrefix(ip, Module), "/")
				if isTest {
					p.tests[rel] = append(p.tests[rel], name)
				} else {
					p.imports[rel] = append(p.imports[rel], name)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) < 10 {
		t.Fatalf("found %d packages under %s: not the module", len(pkgs), root)
	}
	return pkgs
}

func sorted[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// testSupport is where the test helpers every package's tests may use
// live (logcheck, redistest...): a test file may import them whatever its
// package's layer.
const testSupport = "internal"

// allowed lists the imports that break the rules today, each with why it
// is not fixed yet. The test fails when one no longer happens, so that
// the list only shrinks.
var allowed = map[[2]string]string{
	{"adapters/internal/kvtest", "ussd"}:           "the stores the adapters' tests run against live in ussd until package kv has them",
	{"adapters/internal/kvtest", "ussd/storetest"}: "the stores the adapters' tests run against live in ussd until package kv has them",
}

// violations returns the imports of pkgs that break the rules, except
// those in allow, which it marks in seen.
func violations(pkgs map[string]*pkg, allow map[[2]string]string, seen map[[2]string]bool) []string {
	var out []string
	check := func(dir string, from int, imports map[string][]string, test bool) {
		for _, imp := range sorted(imports) {
			if imp == dir || test && (imp == testSupport || strings.HasPrefix(imp, testSupport+"/")) {
				continue
			}
			bad := ""
			to, ok := Of(imp)
			switch {
			case Layers[from].Leaf && !test:
				bad = "the codecs import nothing of ours"
			case ok && to > from:
				bad = "layer " + Layers[to].Name + " is higher"
			}
			if bad == "" {
				continue
			}
			if _, ok := allow[[2]string{dir, imp}]; ok {
				seen[[2]string{dir, imp}] = true
				continue
			}
			out = append(out, fmt.Sprintf("%s (layer %s) imports %s in %v: %s", dir, Layers[from].Name, imp, imports[imp], bad))
		}
	}
	for _, dir := range sorted(pkgs) {
		if dir == "." {
			continue
		}
		from, ok := Of(dir)
		if !ok {
			out = append(out, dir+" has no layer: add it to Layers in internal/layers/layers.go")
			continue
		}
		check(dir, from, pkgs[dir].imports, false)
		check(dir, from, pkgs[dir].tests, true)
	}
	return out
}

// TestLayers fails when a package imports one of a higher layer, when a
// codec imports any package of ours, or when a package has no layer.
func TestLayers(t *testing.T) {
	seen := map[[2]string]bool{}
	for _, v := range violations(load(t), allowed, seen) {
		t.Error(v)
	}
	for k, why := range allowed {
		if !seen[k] {
			t.Errorf("%s no longer imports %s: remove it from allowed (%s)", k[0], k[1], why)
		}
	}
}

// TestViolations shows that the check catches what it must and lets pass
// what it may, on made-up packages.
func TestViolations(t *testing.T) {
	imports := func(paths ...string) map[string][]string {
		m := map[string][]string{}
		for _, p := range paths {
			m[p] = []string{"x.go"}
		}
		return m
	}
	for _, c := range []struct {
		name    string
		p       pkg
		allow   map[[2]string]string
		wantBad bool
	}{
		{"flows imports ussd", pkg{path: "flows", imports: imports("ussd")}, nil, true},
		{"flows test imports ussd", pkg{path: "flows", tests: imports("ussd/storetest")}, nil, true},
		{"ussd imports flows", pkg{path: "ussd", imports: imports("flows", "flows/x")}, nil, false},
		{"adapters import smpp", pkg{path: "adapters/quiz", imports: imports("smpp")}, nil, true},
		{"smpp imports gateway (same layer)", pkg{path: "smpp/bridge", imports: imports("gateway")}, nil, false},
		{"codec imports a codec", pkg{path: "gsm", imports: imports("msisdn")}, nil, true},
		{"codec test imports logcheck", pkg{path: "gsm", tests: imports("internal/logcheck")}, nil, false},
		{"codec test imports flows", pkg{path: "gsm", tests: imports("flows")}, nil, true},
		{"unplaced package", pkg{path: "newthing"}, nil, true},
		{"allowed", pkg{path: "flows", imports: imports("ussd")}, map[[2]string]string{{"flows", "ussd"}: "why"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			seen := map[[2]string]bool{}
			got := violations(map[string]*pkg{c.p.path: &c.p}, c.allow, seen)
			if (len(got) > 0) != c.wantBad {
				t.Errorf("violations = %q, want bad=%v", got, c.wantBad)
			}
			if c.allow != nil && len(seen) != len(c.allow) {
				t.Errorf("allowed imports seen = %v, want all of %v", seen, c.allow)
			}
		})
	}
}

// TestPackageDocs checks that each package's documentation opens with a
// paragraph that says what the package is for and what it must not import
// (go doc shows that paragraph first).
func TestPackageDocs(t *testing.T) {
	pkgs := load(t)
	for _, dir := range sorted(pkgs) {
		p := pkgs[dir]
		doc := p.doc
		if doc == "" {
			doc = p.testDoc // a package of tests only (deploy)
		}
		if doc == "" {
			t.Errorf("%s: no package comment", dir)
			continue
		}
		first, _, _ := strings.Cut(doc, "\n\n")
		if !strings.Contains(first, "import") {
			t.Errorf("%s: the package comment's first paragraph does not say what the package must not import:\n%s", dir, first)
		}
	}
}

// TestOf pins the lookup: longest prefix wins, a prefix is a whole path
// element, and an unknown package has no layer.
func TestOf(t *testing.T) {
	for _, c := range []struct {
		path string
		want string
		ok   bool
	}{
		{"smpp/bridge", "transports", true},
		{"ussd/sms", "ussd", true},
		{"gsm", "codec", true},
		{"internal/layers", "base", true},
		{"flowsx", "", false},
		{"cmd/smsc-sim", "commands", true},
	} {
		i, ok := Of(c.path)
		if ok != c.ok || (ok && Layers[i].Name != c.want) {
			t.Errorf("Of(%q) = %v %v, want %q %v", c.path, i, ok, c.want, c.ok)
		}
	}
}
