package chart

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"testing"
)

// renderBars renders groups and fails the test if Bars returns an error.
func renderBars(t *testing.T, title, footnote string, groups []Group) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := Bars(&out, title, footnote, groups); err != nil {
		t.Fatalf("Bars: %v", err)
	}
	return out.Bytes()
}

func TestBarsIsWellFormedForNormalAndEdgeInputs(t *testing.T) {
	inputs := map[string][]Group{
		"normal":        sampleGroups(),
		"no groups":     nil,
		"empty group":   {{Title: "empty", Unit: "req/s"}},
		"single bar":    {{Title: "one", Bars: []Bar{{Label: "a", Value: 42}}}},
		"all zero":      {{Title: "zero", Bars: []Bar{{"a", 0}, {"b", 0}}}},
		"nan and inf":   {{Title: "bad", Bars: []Bar{{"a", math.NaN()}, {"b", math.Inf(1)}, {"c", math.Inf(-1)}}}},
		"negative":      {{Title: "neg", Bars: []Bar{{"a", -5}, {"b", 10}}}},
		"only negative": {{Title: "neg", Bars: []Bar{{"a", -5}}}},
		"huge":          {{Title: "huge", Bars: []Bar{{"a", math.MaxFloat64}, {"b", 1}}}},
		"tiny":          {{Title: "tiny", Bars: []Bar{{"a", 1e-300}}}},
		"long labels":   {{Title: "long", Bars: []Bar{{"a server with a very long name", 3}, {"b", 4}}}},
		"bytes":         {{Title: "mem", Unit: "bytes/conn", Bars: []Bar{{"a", 1536}, {"b", 300}}}},
	}
	for name, groups := range inputs {
		t.Run(name, func(t *testing.T) {
			elements := parseSVG(t, renderBars(t, "title", "footnote", groups))
			for _, e := range elements {
				for attr, value := range e.attrs {
					if strings.Contains(value, "NaN") || strings.Contains(value, "Inf") {
						t.Errorf("<%s %s=%q> holds a non-finite number", e.name, attr, value)
					}
				}
			}
		})
	}
}

func TestBarsSaysNoDataWithoutGroupsOrBars(t *testing.T) {
	for _, groups := range [][]Group{nil, {{Title: "empty"}}} {
		elements := parseSVG(t, renderBars(t, "title", "", groups))
		if !hasText(elements, "no data") {
			t.Errorf("groups %v: no \"no data\" text in %q", groups, texts(elements))
		}
	}
}

func TestBarsContainsEveryLabel(t *testing.T) {
	groups := sampleGroups()
	elements := parseSVG(t, renderBars(t, "Sycamore vs others", "wrk -t4 -c256 on test-box", groups))
	want := []string{"Sycamore vs others", "wrk -t4 -c256 on test-box"}
	for _, group := range groups {
		want = append(want, group.Title+" ("+group.Unit+")")
		for _, bar := range group.Bars {
			want = append(want, bar.Label)
		}
	}
	for _, text := range want {
		if !hasText(elements, text) {
			t.Errorf("label %q is missing; texts: %q", text, texts(elements))
		}
	}
	if !hasText(elements, "1.5 KiB") || !hasText(elements, "123k") {
		t.Errorf("humanized value labels are missing; texts: %q", texts(elements))
	}
}

func TestBarsHighlightUsesAccentColourAndOthersDoNot(t *testing.T) {
	elements := parseSVG(t, renderBars(t, "t", "", sampleGroups()))
	highlighted := 0
	for _, rect := range barRects(elements) {
		isHighlight := strings.HasPrefix(rect.title, "sycamore:")
		if isHighlight {
			highlighted++
		}
		if (rect.attrs["fill"] == accentColour) != isHighlight {
			t.Errorf("bar %q has fill %s", rect.title, rect.attrs["fill"])
		}
	}
	if highlighted != len(sampleGroups()) {
		t.Errorf("%d highlighted bars, want one per group (%d)", highlighted, len(sampleGroups()))
	}
}

func TestBarsNaNAndInfDrawNoBarAndReadNotAvailable(t *testing.T) {
	groups := []Group{{Title: "g", Bars: []Bar{{"ok", 3}, {"nan", math.NaN()}, {"inf", math.Inf(1)}}}}
	elements := parseSVG(t, renderBars(t, "t", "", groups))
	rects := barRects(elements)
	if len(rects) != 1 || !strings.HasPrefix(rects[0].title, "ok:") {
		t.Fatalf("bar rects %v, want only the finite bar", rects)
	}
	count := 0
	for _, text := range texts(elements) {
		if text == "n/a" {
			count++
		}
	}
	if count != 2 {
		t.Errorf("%d \"n/a\" labels, want 2; texts: %q", count, texts(elements))
	}
}

func TestBarsLengthsAreProportionalToValues(t *testing.T) {
	groups := []Group{
		{Title: "other", Bars: []Bar{{"x", 1000}}},
		{Title: "ratio", Bars: []Bar{{"one", 1}, {"two", 2}, {"four", 4}}},
	}
	lengths := map[string]float64{}
	for _, rect := range barRects(parseSVG(t, renderBars(t, "t", "", groups))) {
		length, err := strconv.ParseFloat(rect.attrs["width"], 64)
		if err != nil {
			t.Fatalf("bar %q: %v", rect.title, err)
		}
		lengths[strings.SplitN(rect.title, ":", 2)[0]] = length
	}
	if lengths["one"] <= 0 {
		t.Fatalf("lengths %v: the smallest bar has no length", lengths)
	}
	for name, ratio := range map[string]float64{"two": 2, "four": 4} {
		if got := lengths[name] / lengths["one"]; math.Abs(got-ratio) > 0.01 {
			t.Errorf("length(%s)/length(one) = %.3f, want %v (lengths %v)", name, got, ratio, lengths)
		}
	}
	if lengths["x"] != lengths["four"] {
		t.Errorf("lengths %v: the longest bar of each panel should fill the same width", lengths)
	}
}

func TestBarsNegativeValueIsClampedToZeroAndNoted(t *testing.T) {
	groups := []Group{{Title: "g", Bars: []Bar{{"neg", -1500}, {"pos", 10}}}}
	elements := parseSVG(t, renderBars(t, "t", "", groups))
	for _, rect := range barRects(elements) {
		if strings.HasPrefix(rect.title, "neg:") && rect.attrs["width"] != "0" {
			t.Errorf("negative bar has length %s, want 0", rect.attrs["width"])
		}
	}
	if !hasText(elements, "-1.5k") || !hasText(elements, "negative values drawn as 0") {
		t.Errorf("negative value or its note is missing; texts: %q", texts(elements))
	}
}

func TestBarsLongLabelIsShortenedButKeptInTooltip(t *testing.T) {
	long := "a server with a much too long name to fit in its column"
	groups := []Group{{Title: "g", Bars: []Bar{{long, 1}}}}
	elements := parseSVG(t, renderBars(t, "t", "", groups))
	shortened := false
	for _, text := range texts(elements) {
		prefix, cut := strings.CutSuffix(text, ellipsis)
		shortened = shortened || (cut && len(prefix) > 4 && strings.HasPrefix(long, prefix))
	}
	if !shortened {
		t.Errorf("no shortened label; texts: %q", texts(elements))
	}
	if rects := barRects(elements); len(rects) != 1 || !strings.HasPrefix(rects[0].title, long+":") {
		t.Errorf("tooltip does not hold the full label: %v", rects)
	}
}

func TestBarsIsDeterministic(t *testing.T) {
	first := renderBars(t, "t", "f", sampleGroups())
	second := renderBars(t, "t", "f", sampleGroups())
	if !bytes.Equal(first, second) {
		t.Error("two renders of the same input differ")
	}
}

func BenchmarkBars(b *testing.B) {
	b.ReportAllocs()
	groups := sampleGroups()
	var out bytes.Buffer
	for b.Loop() {
		out.Reset()
		if err := Bars(&out, "title", "footnote", groups); err != nil {
			b.Fatal(err)
		}
	}
}
