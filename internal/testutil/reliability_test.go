package testutil_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/sycamore-go/sycamore/internal/testutil"
)

func TestMain(m *testing.M) { testutil.VerifyMain(m) }

// rowPattern matches a row of RELIABILITY.md's table: "| 7 | failure | ... |".
var rowPattern = regexp.MustCompile(`^\| *(\d+) *\|`)

// testRef matches a test named in a row: "`TestName` (`dir/file_test.go`)".
var testRef = regexp.MustCompile("`((?:Test|Fuzz)\\w+)` \\(`([\\w/.-]+_test\\.go)`\\)")

// TestReliabilityTableNamesRealTests keeps RELIABILITY.md honest: rows 1 to 20
// and the production-traffic rows that have landed (21 and 22 slow consumers,
// 23 TLS, 24 restarts, 25 the PROXY protocol) and 26 (datagrams) are there, each
// names at least one test, and every test it names is defined in the file it
// names, so renaming or deleting a test fails here until the table follows.
func TestReliabilityTableNamesRealTests(t *testing.T) {
	root := filepath.Join("..", "..")
	doc, err := os.ReadFile(filepath.Join(root, "RELIABILITY.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[int]int{} // row number -> tests named
	for line := range strings.SplitSeq(string(doc), "\n") {
		m := rowPattern.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		row, _ := strconv.Atoi(m[1])
		if _, dup := rows[row]; dup {
			t.Errorf("row %d appears twice", row)
		}
		rows[row] = 0
		for _, ref := range testRef.FindAllStringSubmatch(line, -1) {
			name, file := ref[1], ref[2]
			rows[row]++
			src, err := os.ReadFile(filepath.Join(root, file))
			if err != nil {
				t.Errorf("row %d: %s: %v", row, name, err)
				continue
			}
			if !regexp.MustCompile(`(?m)^func ` + name + `\(`).Match(src) {
				t.Errorf("row %d: %s is not defined in %s", row, name, file)
			}
		}
	}
	want := []int{21, 22, 23, 24, 25, 26} // the wave-2 rows, and UDP
	for row := 1; row <= 20; row++ {
		want = append(want, row)
	}
	for _, row := range want {
		if n, ok := rows[row]; !ok {
			t.Errorf("row %d is missing", row)
		} else if n == 0 {
			t.Errorf("row %d names no test", row)
		}
	}
	for row := range rows {
		if row < 1 || row > 26 {
			t.Errorf("row %d: the table has rows 1 to 26", row)
		}
	}
}
