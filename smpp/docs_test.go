package smpp

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestProtocolNotesCited checks that every code comment citing the
// protocol notes names a section docs/smpp.md has, and that none cites a
// document outside the repository.
func TestProtocolNotesCited(t *testing.T) {
	notes, err := os.ReadFile("../docs/smpp.md")
	if err != nil {
		t.Fatal(err)
	}
	cite := regexp.MustCompile(`docs/smpp\.md, "([^"]+)"`)
	n := 0
	err = filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "node_modules" {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "docs_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.Contains(string(src), "PROTOCOL"+".md") {
			t.Errorf("%s cites PROTOCOL.md, which is not in the repository", path)
		}
		for _, m := range cite.FindAllStringSubmatch(string(src), -1) {
			n++
			if !strings.Contains(string(notes), "\n## "+m[1]+"\n") {
				t.Errorf("%s cites docs/smpp.md section %q, which it does not have", path, m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Error("no citation found: the pattern no longer matches how comments cite the notes")
	}
}
