package chart

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
)

// readmeColumn is about the narrowest width at which a README on GitHub
// shows an image; a wider chart is scaled down to it.
const readmeColumn = 880

// manyGroups is a chart the size the harness is growing towards: n loads,
// up to eight servers each, long loads and labels, a bytes panel now and
// then, and a bar too wide for its label column.
func manyGroups(n int) []Group {
	servers := []string{"sycamore", "fasthttp", "net/http", "netpoll", "nginx", "gnet", "nbio", "redis-server"}
	groups := make([]Group, n)
	for i := range groups {
		g := Group{Title: fmt.Sprintf("resp PING_INLINE -P 16 run %d: req per CPU-s", i), Unit: "req/CPU-s", Highlight: "sycamore"}
		if i%4 == 1 {
			g = Group{Title: "RSS per idle conn", Unit: "bytes", Highlight: "sycamore"}
		}
		for j := range 6 + i%3 {
			g.Bars = append(g.Bars, Bar{Label: servers[j], Value: float64((j*7919+i*104729)%1000+1) * math.Pow(1000, float64(i%3))})
		}
		groups[i] = g
	}
	groups[n-1].Bars[1].Label = "a server whose name is much too long for any column"
	return groups
}

// svgSize returns the width and height of the chart, and checks that its
// viewBox agrees, so that a scaled chart keeps its proportions.
func svgSize(t *testing.T, elements []element) (width, height float64) {
	t.Helper()
	root := elements[0]
	width, errW := strconv.ParseFloat(root.attrs["width"], 64)
	height, errH := strconv.ParseFloat(root.attrs["height"], 64)
	if errW != nil || errH != nil {
		t.Fatalf("svg size %q × %q", root.attrs["width"], root.attrs["height"])
	}
	if want := "0 0 " + num(width) + " " + num(height); root.attrs["viewBox"] != want {
		t.Errorf("viewBox %q, want %q", root.attrs["viewBox"], want)
	}
	return width, height
}

// box is a rectangle in chart coordinates.
type box struct{ left, top, right, bottom float64 }

func (b box) overlaps(o box) bool {
	return b.left < o.right && o.left < b.right && b.top < o.bottom && o.top < b.bottom
}

func (b box) contains(o box) bool {
	return o.left >= b.left && o.right <= b.right && o.top >= b.top && o.bottom <= b.bottom
}

// attr parses a numeric attribute of e, failing the test if it is not one.
func attr(t *testing.T, e element, name string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(e.attrs[name], 64)
	if err != nil {
		t.Fatalf("<%s %s=%q>: %v", e.name, name, e.attrs[name], err)
	}
	return v
}

// textBox is the estimated extent of a <text> element: measure's width
// placed by its anchor, from its ascent to its descent.
func textBox(t *testing.T, e element) box {
	t.Helper()
	x, y, size := attr(t, e, "x"), attr(t, e, "y"), attr(t, e, "font-size")
	width := measure(e.text, size, e.attrs["font-weight"] == "bold")
	left := x
	switch e.attrs["text-anchor"] {
	case "middle":
		left -= width / 2
	case "end":
		left -= width
	}
	return box{left, y - 0.76*size, left + width, y + 0.24*size}
}

// panels returns the panel backgrounds of a bar chart.
func panels(t *testing.T, elements []element) []box {
	var out []box
	for _, e := range elements {
		if e.name == "rect" && e.attrs["fill"] == panelColour {
			x, y := attr(t, e, "x"), attr(t, e, "y")
			out = append(out, box{x, y, x + attr(t, e, "width"), y + attr(t, e, "height")})
		}
	}
	return out
}

// layoutInputs are the charts whose layout the tests below check.
func layoutInputs() map[string][]Group {
	inputs := map[string][]Group{
		"sample": sampleGroups(),
		"long title and unit": {{
			Title: "a load with a title far too long for one line of its panel: requests per CPU-second",
			Unit:  "requests per CPU-second of the server", Bars: []Bar{{"sycamore", 5}, {"gnet", 6}}, Highlight: "sycamore",
		}},
		"negative and n/a": {{Title: "g", Bars: []Bar{{"a", -5}, {"b", math.NaN()}, {"c", math.Inf(1)}, {"d", 1e300}}}},
	}
	for _, n := range []int{1, 2, 4, 7, 18, 26, 30} {
		inputs[fmt.Sprintf("%d groups", n)] = manyGroups(n)
	}
	return inputs
}

const longTitle = "sycamore and its peers (medians), a title long enough to need wrapping even on a wide chart"

var longFootnote = strings.Repeat("AMD EPYC, 2 cores, linux 6.18, go1.26 — wrk -t2 -c128 -d10s, pipeline 16; ", 3) + "\nsecond line"

func TestBarsManyGroupsStayWithinTheWidthLimit(t *testing.T) {
	for name, groups := range layoutInputs() {
		width, _ := svgSize(t, parseSVG(t, renderBars(t, longTitle, longFootnote, groups)))
		if width > maxBarsWidth {
			t.Errorf("%s: chart is %v px wide, want at most %d", name, width, maxBarsWidth)
		}
	}
}

func TestBarsPanelsWrapIntoRows(t *testing.T) {
	for _, n := range []int{1, 2, 3, 4, 26} {
		elements := parseSVG(t, renderBars(t, "t", "f", manyGroups(n)))
		width, height := svgSize(t, elements)
		boxes := panels(t, elements)
		if len(boxes) != n {
			t.Fatalf("%d groups: %d panels", n, len(boxes))
		}
		lefts, tops := map[float64]bool{}, map[float64]bool{}
		for i, b := range boxes {
			lefts[b.left], tops[b.top] = true, true
			if !(box{0, 0, width, height}).contains(b) {
				t.Errorf("%d groups: panel %d %v lies outside the %v × %v chart", n, i, b, width, height)
			}
			for j := range i {
				if b.overlaps(boxes[j]) {
					t.Errorf("%d groups: panels %d %v and %d %v overlap", n, j, boxes[j], i, b)
				}
			}
		}
		wantColumns := min(n, barColumns)
		wantRows := (n + barColumns - 1) / barColumns
		if len(lefts) != wantColumns || len(tops) != wantRows {
			t.Errorf("%d groups: %d columns and %d rows, want %d and %d", n, len(lefts), len(tops), wantColumns, wantRows)
		}
	}
}

func TestBarsTextStaysInsideTheChartAndItsPanel(t *testing.T) {
	for name, groups := range layoutInputs() {
		elements := parseSVG(t, renderBars(t, longTitle, longFootnote, groups))
		width, height := svgSize(t, elements)
		chart := box{0, 0, width, height}
		boxes := panels(t, elements)
		for _, e := range elements {
			if e.name != "text" {
				continue
			}
			if e.attrs["transform"] != "" {
				t.Errorf("%s: text %q is rotated", name, e.text)
			}
			b := textBox(t, e)
			if !chart.contains(b) {
				t.Errorf("%s: text %q at %v extends past the %v × %v chart", name, e.text, b, width, height)
			}
			if len(boxes) > 0 && b.top < boxes[0].top {
				continue // the title and subtitle
			}
			inside := false
			for _, p := range boxes {
				inside = inside || p.contains(b)
			}
			if !inside {
				t.Errorf("%s: text %q at %v is not inside a panel", name, e.text, b)
			}
		}
	}
}

func TestBarsTextsDoNotOverlap(t *testing.T) {
	for name, groups := range layoutInputs() {
		elements := parseSVG(t, renderBars(t, longTitle, longFootnote, groups))
		var boxes []box
		var contents []string
		for _, e := range elements {
			if e.name == "text" {
				boxes = append(boxes, textBox(t, e))
				contents = append(contents, e.text)
			}
		}
		for i := range boxes {
			for j := range i {
				if boxes[i].overlaps(boxes[j]) {
					t.Errorf("%s: %q %v overlaps %q %v", name, contents[j], boxes[j], contents[i], boxes[i])
				}
			}
		}
	}
}

func TestBarsTextIsLegibleInAReadmeColumn(t *testing.T) {
	// Ten pixels is about the smallest text that reads comfortably.
	const minShown = 10
	for name, groups := range layoutInputs() {
		elements := parseSVG(t, renderBars(t, longTitle, longFootnote, groups))
		width, _ := svgSize(t, elements)
		shrink := math.Min(1, readmeColumn/width)
		for _, e := range elements {
			if e.name != "text" {
				continue
			}
			if shown := attr(t, e, "font-size") * shrink; shown < minShown {
				t.Errorf("%s: %q is shown %.1f px high in a %d px column, want at least %d", name, e.text, shown, readmeColumn, minShown)
			}
		}
	}
}

func TestBarsHeadingShowsTheUnitOnce(t *testing.T) {
	groups := []Group{
		{Title: "http plain: req/s", Unit: "req/s", Bars: []Bar{{"a", 1}}},
		{Title: "idle", Unit: "bytes", Bars: []Bar{{"a", 1}}},
	}
	elements := parseSVG(t, renderBars(t, "t", "", groups))
	if !hasText(elements, "http plain: req/s") || !hasText(elements, "idle (bytes)") {
		t.Errorf("headings: %q", texts(elements))
	}
}

func TestWrapBreaksBetweenWordsAndCutsTheRest(t *testing.T) {
	style := textStyle{size: 20}
	width := measure("resp PING_INLINE -P 16:", 20, false)
	tests := []struct {
		in       string
		maxLines int
		want     []string
	}{
		{"", 2, nil},
		{"short", 2, []string{"short"}},
		{"resp PING_INLINE -P 16: req per CPU-s", 2, []string{"resp PING_INLINE -P 16:", "req per CPU-s"}},
		{"aa bb cc dd ee ff gg hh ii jj kk ll mm nn oo pp qq rr ss tt uu vv", 1, []string{fit("aa bb cc dd ee ff gg hh ii jj kk ll mm nn oo pp qq rr ss tt uu vv", width, style)}},
		{strings.Repeat("x", 100) + " y", 3, []string{fit(strings.Repeat("x", 100), width, style), "y"}},
	}
	for _, tt := range tests {
		got := wrap(tt.in, width, style, tt.maxLines)
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("wrap(%q, %d) = %q, want %q", tt.in, tt.maxLines, got, tt.want)
		}
		for _, line := range got {
			if measure(line, 20, false) > width {
				t.Errorf("wrap(%q): line %q is wider than %v", tt.in, line, width)
			}
		}
	}
	if got := wrap("aa bb cc dd ee ff gg hh ii jj kk ll mm nn oo pp qq rr ss tt uu vv", width, style, 1)[0]; !strings.HasSuffix(got, ellipsis) {
		t.Errorf("a cut line %q does not end in an ellipsis", got)
	}
}
