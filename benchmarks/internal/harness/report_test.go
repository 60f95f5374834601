package harness

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSaveReportPrintsAndSavesMarkdownAndJSON(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new") // SaveReport makes it
	var out strings.Builder
	v := map[string]int{"conns": 19000}
	if err := SaveReport(&out, dir, "soak", "## table\n", v); err != nil {
		t.Fatal(err)
	}
	if out.String() != "## table\n" {
		t.Errorf("printed %q, want the markdown", out.String())
	}
	md, err := os.ReadFile(filepath.Join(dir, "soak.md"))
	if err != nil || string(md) != "## table\n" {
		t.Errorf("soak.md = %q, %v; want the markdown", md, err)
	}
	js, err := os.ReadFile(filepath.Join(dir, "soak.json"))
	var back map[string]int
	if err != nil || json.Unmarshal(js, &back) != nil || back["conns"] != 19000 {
		t.Errorf("soak.json = %q, %v; want the value as JSON", js, err)
	}
}

func TestSaveReportFailsWhenTheDirectoryCannotBeMade(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := SaveReport(&out, filepath.Join(file, "sub"), "x", "md", 1); err == nil {
		t.Error("SaveReport under a regular file succeeded")
	}
}
