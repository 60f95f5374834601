package testutil

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
)

// FuzzSeeds reads the seed corpus of a fuzz target whose one argument is a []byte
// (testdata/fuzz/<Target>/ beside the test, in "go test fuzz v1" files), in name
// order, so that a test can also drive a whole server with every seed. A file it
// cannot read fails the test.
func FuzzSeeds(t testing.TB, target string) (names []string, seeds [][]byte) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", target)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("seed corpus of %s: %v", target, err)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatalf("seed %s: %v", e.Name(), err)
		}
		header, value, ok := bytes.Cut(bytes.TrimSpace(data), []byte("\n"))
		literal, isBytes := bytes.CutPrefix(bytes.TrimSpace(value), []byte("[]byte("))
		if !ok || string(header) != "go test fuzz v1" || !isBytes || !bytes.HasSuffix(literal, []byte(")")) {
			t.Fatalf("seed %s: not a go test fuzz v1 file holding one []byte", e.Name())
		}
		seed, err := strconv.Unquote(string(literal[:len(literal)-1]))
		if err != nil {
			t.Fatalf("seed %s: %v", e.Name(), err)
		}
		names = append(names, e.Name())
		seeds = append(seeds, []byte(seed))
	}
	return names, seeds
}
