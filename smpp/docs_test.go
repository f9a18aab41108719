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
// protocol notes names a section docs/smpp.md has, and that every Markdown
// document a Go file names is one the repository has.
func TestProtocolNotesCited(t *testing.T) {
	notes, err := os.ReadFile("../docs/smpp.md")
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]bool{} // every .md of the repository, by path from the root and by name
	err = filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == ".git") {
			return filepath.SkipDir
		}
		if strings.HasSuffix(path, ".md") {
			docs[filepath.ToSlash(strings.TrimPrefix(path, "../"))] = true
			docs[d.Name()] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	named := regexp.MustCompile(`[A-Za-z0-9_./-]*[A-Za-z0-9_-]\.md\b`)
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
		for _, doc := range named.FindAllString(string(src), -1) {
			if !docs[strings.TrimPrefix(doc, "../")] && !docs[filepath.Base(doc)] {
				t.Errorf("%s names %s, which is not in the repository", path, doc)
			}
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
