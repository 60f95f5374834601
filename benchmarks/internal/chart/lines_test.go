package chart

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
)

// renderLines renders series and fails the test if Lines returns an error.
func renderLines(t *testing.T, series []Series, markX float64, markLabel string) []byte {
	t.Helper()
	var out bytes.Buffer
	err := Lines(&out, "Loops", "event loops", "req/s", "wrk on test-box", series, markX, markLabel)
	if err != nil {
		t.Fatalf("Lines: %v", err)
	}
	return out.Bytes()
}

// countElements counts the elements named name.
func countElements(elements []element, name string) int {
	count := 0
	for _, e := range elements {
		if e.name == name {
			count++
		}
	}
	return count
}

func TestLinesIsWellFormedForNormalAndEdgeInputs(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	inputs := map[string][]Series{
		"normal":         sampleSeries(),
		"no series":      nil,
		"empty series":   {{Name: "empty"}},
		"single point":   {{Name: "one", X: []float64{4}, Y: []float64{1000}}},
		"all zero":       {{Name: "zero", X: []float64{1, 2}, Y: []float64{0, 0}}},
		"all non-finite": {{Name: "bad", X: []float64{nan, 1}, Y: []float64{1, inf}}},
		"negative y":     {{Name: "neg", X: []float64{1, 2, 3}, Y: []float64{-5, 3, 10}}},
		"fractional x":   {{Name: "frac", X: []float64{0.1, 0.25, 0.3}, Y: []float64{1, 2, 3}}},
		"huge values":    {{Name: "huge", X: []float64{1, 2}, Y: []float64{1e300, math.MaxFloat64}}},
	}
	for name, series := range inputs {
		t.Run(name, func(t *testing.T) {
			for _, markX := range []float64{nan, 2, 100} {
				elements := parseSVG(t, renderLines(t, series, markX, "mark"))
				for _, e := range elements {
					for attr, value := range e.attrs {
						if strings.Contains(value, "NaN") || strings.Contains(value, "Inf") {
							t.Errorf("<%s %s=%q> holds a non-finite number", e.name, attr, value)
						}
					}
				}
			}
		})
	}
}

func TestLinesSaysNoDataWithoutFinitePoints(t *testing.T) {
	series := []Series{{Name: "bad", X: []float64{math.NaN()}, Y: []float64{1}}}
	elements := parseSVG(t, renderLines(t, series, math.NaN(), ""))
	if !hasText(elements, "no data") {
		t.Errorf("no \"no data\" text in %q", texts(elements))
	}
}

func TestLinesContainsEveryLabel(t *testing.T) {
	series := sampleSeries()
	elements := parseSVG(t, renderLines(t, series, 4, "recommended: 4 loops"))
	want := []string{"Loops", "event loops", "req/s", "wrk on test-box", "recommended: 4 loops"}
	for _, s := range series {
		want = append(want, s.Name)
	}
	for _, text := range want {
		if !hasText(elements, text) {
			t.Errorf("label %q is missing; texts: %q", text, texts(elements))
		}
	}
	points := 0
	for _, s := range series {
		points += len(s.X)
	}
	// Each series also has one legend marker without a tooltip.
	if got := countElements(elements, "circle"); got != points+len(series) {
		t.Errorf("%d circles, want %d points and %d legend markers", got, points, len(series))
	}
}

func TestLinesMismatchedSeriesReturnsErrSeriesLengthAndWritesNothing(t *testing.T) {
	var out bytes.Buffer
	series := []Series{{Name: "bad", X: []float64{1, 2}, Y: []float64{1}}}
	err := Lines(&out, "t", "x", "y", "", series, math.NaN(), "")
	if !errors.Is(err, ErrSeriesLength) {
		t.Errorf("Lines error = %v, want ErrSeriesLength", err)
	}
	if out.Len() != 0 {
		t.Errorf("Lines wrote %d bytes despite the error", out.Len())
	}
}

func TestLinesNonFinitePointBreaksTheLine(t *testing.T) {
	series := []Series{{Name: "gap", X: []float64{1, 2, 3, 4, 5}, Y: []float64{1, 2, math.NaN(), 4, 5}}}
	elements := parseSVG(t, renderLines(t, series, math.NaN(), ""))
	if got := countElements(elements, "polyline"); got != 2 {
		t.Errorf("%d polylines, want 2 around the NaN point", got)
	}
}

func TestLinesMarkerIsDrawnOnlyWhenMarkXIsFinite(t *testing.T) {
	dashed := func(elements []element) int {
		count := 0
		for _, e := range elements {
			if e.attrs["stroke-dasharray"] != "" {
				count++
			}
		}
		return count
	}
	if got := dashed(parseSVG(t, renderLines(t, sampleSeries(), math.NaN(), "unused"))); got != 0 {
		t.Errorf("%d dashed lines with markX NaN, want 0", got)
	}
	if got := dashed(parseSVG(t, renderLines(t, sampleSeries(), 4, "four"))); got != 1 {
		t.Errorf("%d dashed lines with markX 4, want 1", got)
	}
}

func TestLinesWholeNumberXGetsWholeNumberTicks(t *testing.T) {
	series := []Series{{Name: "s", X: []float64{1, 2, 3}, Y: []float64{1, 2, 3}}}
	elements := parseSVG(t, renderLines(t, series, math.NaN(), ""))
	for _, text := range texts(elements) {
		if strings.Contains(text, ".") {
			t.Errorf("tick label %q is fractional", text)
		}
	}
}

func TestLinesIsDeterministic(t *testing.T) {
	first := renderLines(t, sampleSeries(), 4, "recommended: 4 loops")
	second := renderLines(t, sampleSeries(), 4, "recommended: 4 loops")
	if !bytes.Equal(first, second) {
		t.Error("two renders of the same input differ")
	}
}
