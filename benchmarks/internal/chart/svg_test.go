package chart

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
)

// element is one parsed SVG element with the text it holds.
type element struct {
	name  string
	attrs map[string]string
	// text is the character data directly inside the element.
	text string
	// title is the text of the element's <title> child, its tooltip.
	title string
}

// allowedElements are the only elements the package promises to emit.
var allowedElements = map[string]bool{
	"svg": true, "rect": true, "line": true, "polyline": true,
	"circle": true, "text": true, "title": true,
}

// parseSVG walks data with a strict XML decoder, fails the test on any
// syntax error, a root other than an SVG-namespaced <svg>, or an element
// outside allowedElements, and returns the elements in document order.
func parseSVG(t *testing.T, data []byte) []element {
	t.Helper()
	decoder := xml.NewDecoder(bytes.NewReader(data))
	var elements []element
	var open []int
	for {
		token, err := decoder.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("output is not well-formed XML: %v\n%s", err, data)
		}
		switch token := token.(type) {
		case xml.StartElement:
			if len(elements) == 0 && (token.Name.Local != "svg" || token.Name.Space != "http://www.w3.org/2000/svg") {
				t.Fatalf("root element is %v, want svg in the SVG namespace", token.Name)
			}
			if !allowedElements[token.Name.Local] {
				t.Errorf("unexpected element <%s>", token.Name.Local)
			}
			attrs := map[string]string{}
			for _, attr := range token.Attr {
				attrs[attr.Name.Local] = attr.Value
			}
			elements = append(elements, element{name: token.Name.Local, attrs: attrs})
			open = append(open, len(elements)-1)
		case xml.CharData:
			if len(open) > 0 {
				elements[open[len(open)-1]].text += string(token)
			}
		case xml.EndElement:
			closed := elements[open[len(open)-1]]
			open = open[:len(open)-1]
			if closed.name == "title" && len(open) > 0 {
				elements[open[len(open)-1]].title = closed.text
			}
		}
	}
	if len(elements) == 0 {
		t.Fatal("output holds no element")
	}
	return elements
}

// texts returns the content of every <text> element.
func texts(elements []element) []string {
	var out []string
	for _, e := range elements {
		if e.name == "text" {
			out = append(out, e.text)
		}
	}
	return out
}

// hasText reports whether some <text> element holds exactly want.
func hasText(elements []element, want string) bool {
	for _, text := range texts(elements) {
		if text == want {
			return true
		}
	}
	return false
}

// barRects returns the bar rectangles: the <rect> elements with a tooltip.
func barRects(elements []element) []element {
	var out []element
	for _, e := range elements {
		if e.name == "rect" && e.title != "" {
			out = append(out, e)
		}
	}
	return out
}

func TestEscapeKeepsHostileTextParsable(t *testing.T) {
	hostile := `<script>alert("x & 'y'")</script>` + "\x00\x1b\xff\ufffe"
	var out bytes.Buffer
	groups := []Group{{Title: hostile, Unit: hostile, Bars: []Bar{{Label: hostile, Value: 1}}, Highlight: hostile}}
	if err := Bars(&out, hostile, hostile, groups); err != nil {
		t.Fatal(err)
	}
	elements := parseSVG(t, out.Bytes())
	want := `<script>alert("x & 'y'")</script>` + strings.Repeat("\ufffd", 4)
	if !hasText(elements, want) {
		t.Errorf("no <text> holds the escaped label %q; texts: %q", want, texts(elements))
	}
	if strings.Contains(out.String(), "<script") {
		t.Error("a raw <script tag reached the output")
	}
}

func TestNumPrintsShortStableCoordinates(t *testing.T) {
	tests := map[float64]string{0: "0", -0.001: "0", 1.5: "1.5", 2.004: "2", 10.256: "10.26", -3.1: "-3.1"}
	for in, want := range tests {
		if got := num(in); got != want {
			t.Errorf("num(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestNiceScaleNeverHasZeroWidth(t *testing.T) {
	for _, bounds := range [][2]float64{{0, 0}, {5, 5}, {-3, -3}, {0, 1e-300}, {0, 1e300}} {
		s := niceScale(bounds[0], bounds[1], axisOptions{intervals: 4})
		if !(s.high > s.low) || len(s.ticks) < 2 {
			t.Errorf("niceScale(%v) = [%v, %v] with ticks %v", bounds, s.low, s.high, s.ticks)
		}
		if s.low > bounds[0] || s.high < bounds[1] {
			t.Errorf("niceScale(%v) = [%v, %v] does not cover the data", bounds, s.low, s.high)
		}
	}
}

// failingWriter fails every write with errBroken.
type failingWriter struct{}

var errBroken = errors.New("broken pipe")

func (failingWriter) Write([]byte) (int, error) { return 0, errBroken }

func TestWriteFailureIsReturnedWrapped(t *testing.T) {
	err := Bars(failingWriter{}, "t", "", []Group{{Bars: []Bar{{Label: "a", Value: 1}}}})
	if !errors.Is(err, errBroken) || !strings.HasPrefix(err.Error(), "chart: ") {
		t.Errorf("Bars error = %v, want errBroken wrapped with the chart: prefix", err)
	}
	err = Lines(failingWriter{}, "t", "x", "y", "", []Series{{Name: "s", X: []float64{1}, Y: []float64{1}}}, 1, "m")
	if !errors.Is(err, errBroken) {
		t.Errorf("Lines error = %v, want errBroken", err)
	}
}
