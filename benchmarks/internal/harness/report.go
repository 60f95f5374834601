package harness

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
)

// SaveReport prints the markdown report md to w, then saves it as dir/name.md and
// v, indented, as dir/name.json, making dir if needed. The commands draw their
// charts beside them.
func SaveReport(w io.Writer, dir, name, md string, v any) error {
	if _, err := io.WriteString(w, md); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, name+".json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, name+".md"), []byte(md), 0o644)
}
