// Package chart writes the load-benchmark results as self-contained SVG
// charts: bar panels (Bars) and line charts (Lines).
//
// Guarantees:
//   - The output is a single well-formed XML document: an <svg> root with
//     only <rect>, <line>, <polyline>, <circle>, <text> and <title>
//     elements and presentation attributes. There is no script, no
//     stylesheet and no external font, so browsers and GitHub's image
//     viewer render it as is.
//   - The output is deterministic: the same input produces the same bytes,
//     so committed charts diff cleanly.
//   - All caller text is escaped; characters that XML 1.0 forbids (most
//     control characters, invalid UTF-8) are replaced.
//   - The whole chart is built in memory and handed to the io.Writer in one
//     Write call, so a failed render writes nothing.
//
// Implementation note: text widths are estimated from the advance widths of
// DejaVu Sans, a wide sans-serif font, because the renderer's font is
// unknown; text that would not fit is wrapped or cut with an ellipsis.
//
// The functions are safe to call from any goroutine; they share no state.
package chart

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrSeriesLength reports a Series whose X and Y slices differ in length.
var ErrSeriesLength = errors.New("chart: series X and Y have different lengths")

// Colours. The accent is the only saturated warm colour, so the highlighted
// bar stands out against the blue-grey bars even when printed in greyscale.
const (
	accentColour = "#e4572e"
	barColour    = "#7d93ad"
	textColour   = "#222222"
	mutedColour  = "#666666"
	gridColour   = "#dddddd"
	axisColour   = "#888888"
	background   = "#ffffff"
)

// seriesColours are the line colours, used in order and repeated after the
// last one. They are taken from the Tableau 10 palette, which stays
// distinguishable for the common forms of colour blindness.
var seriesColours = []string{
	"#4e79a7", "#e15759", "#59a14f", "#f28e2b",
	"#76b7b2", "#b07aa1", "#edc948", "#9c755f",
}

// Font sizes in pixels of the line charts and of the "no data" chart; bar
// charts, which are shown scaled down, have their own (see bars.go).
const (
	titleSize = 16
	labelSize = 12
	smallSize = 11
)

// canvas accumulates one SVG document in memory.
type canvas struct {
	buf bytes.Buffer
}

// begin writes the root element and a white background, so the chart stays
// readable on GitHub's dark theme.
func (c *canvas) begin(width, height float64) {
	fmt.Fprintf(&c.buf, `<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %s %s" font-family="sans-serif">`+"\n",
		num(width), num(height), num(width), num(height))
	c.rect(0, 0, width, height, background, "")
}

// end closes the document and writes it to w in a single call.
func (c *canvas) end(w io.Writer) error {
	c.buf.WriteString("</svg>\n")
	if _, err := w.Write(c.buf.Bytes()); err != nil {
		return fmt.Errorf("chart: write: %w", err)
	}
	return nil
}

// rect draws a filled rectangle; a non-empty tooltip becomes its <title>.
func (c *canvas) rect(x, y, width, height float64, fill, tooltip string) {
	fmt.Fprintf(&c.buf, `<rect x="%s" y="%s" width="%s" height="%s" fill="%s"`,
		num(x), num(y), num(width), num(height), fill)
	if tooltip == "" {
		c.buf.WriteString("/>\n")
		return
	}
	fmt.Fprintf(&c.buf, "><title>%s</title></rect>\n", escape(tooltip))
}

// line draws a one-pixel line; dashed lines use a 4-on, 3-off pattern.
func (c *canvas) line(x1, y1, x2, y2 float64, stroke string, dashed bool) {
	fmt.Fprintf(&c.buf, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="1"`,
		num(x1), num(y1), num(x2), num(y2), stroke)
	if dashed {
		c.buf.WriteString(` stroke-dasharray="4 3"`)
	}
	c.buf.WriteString("/>\n")
}

// polyline draws an unfilled path through the given points.
func (c *canvas) polyline(points [][2]float64, stroke string) {
	parts := make([]string, len(points))
	for i, p := range points {
		parts[i] = num(p[0]) + "," + num(p[1])
	}
	fmt.Fprintf(&c.buf, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n",
		strings.Join(parts, " "), stroke)
}

// circle draws a point marker; a non-empty tooltip becomes its <title>.
func (c *canvas) circle(x, y, radius float64, fill, tooltip string) {
	fmt.Fprintf(&c.buf, `<circle cx="%s" cy="%s" r="%s" fill="%s"`, num(x), num(y), num(radius), fill)
	if tooltip == "" {
		c.buf.WriteString("/>\n")
		return
	}
	fmt.Fprintf(&c.buf, "><title>%s</title></circle>\n", escape(tooltip))
}

// textStyle says how a piece of text is drawn. Anchor is "start", "middle"
// or "end"; Rotate, in degrees, turns the text about its anchor point.
type textStyle struct {
	size   float64
	anchor string
	fill   string
	bold   bool
	rotate float64
}

// text draws one line of escaped text with its baseline at y.
func (c *canvas) text(x, y float64, content string, style textStyle) {
	fmt.Fprintf(&c.buf, `<text x="%s" y="%s" font-size="%s" text-anchor="%s" fill="%s"`,
		num(x), num(y), num(style.size), style.anchor, style.fill)
	if style.bold {
		c.buf.WriteString(` font-weight="bold"`)
	}
	if style.rotate != 0 {
		fmt.Fprintf(&c.buf, ` transform="rotate(%s %s %s)"`, num(style.rotate), num(x), num(y))
	}
	fmt.Fprintf(&c.buf, ">%s</text>\n", escape(content))
}

// textLines draws lines of text in style one below the other, the first
// with its top at top; see textBlockEnd for where the block ends.
func (c *canvas) textLines(x, top float64, lines []string, style textStyle) {
	for i, line := range lines {
		c.text(x, top+style.size*(0.95+float64(i)*lineSpacing), line, style)
	}
}

// num prints a coordinate with at most two decimals and no trailing zeros,
// which keeps the files small and the output independent of float noise.
func num(v float64) string {
	text := strconv.FormatFloat(v, 'f', 2, 64)
	text = strings.TrimRight(text, "0")
	text = strings.TrimSuffix(text, ".")
	if text == "-0" {
		return "0"
	}
	return text
}

// escape makes s safe as XML character data or as an attribute value. It
// replaces the five markup characters with entities and every character
// that XML 1.0 does not allow (control characters other than tab, newline
// and carriage return, unpaired surrogates, U+FFFE, U+FFFF and invalid
// UTF-8) with U+FFFD.
func escape(s string) string {
	var out strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == '&':
			out.WriteString("&amp;")
		case r == '<':
			out.WriteString("&lt;")
		case r == '>':
			out.WriteString("&gt;")
		case r == '"':
			out.WriteString("&quot;")
		case r == '\'':
			out.WriteString("&apos;")
		case !allowedInXML(r, size):
			out.WriteRune(utf8.RuneError)
		default:
			out.WriteRune(r)
		}
	}
	return out.String()
}

// allowedInXML reports whether r, decoded from size bytes, is in the XML 1.0
// Char production. A RuneError of size one is an invalid byte.
func allowedInXML(r rune, size int) bool {
	switch {
	case r == utf8.RuneError && size == 1:
		return false
	case r == '\t' || r == '\n' || r == '\r':
		return true
	case r < 0x20:
		return false
	case r >= 0xD800 && r <= 0xDFFF, r == 0xFFFE, r == 0xFFFF:
		return false
	}
	return true
}

// finite reports whether v is neither NaN nor an infinity.
func finite(v float64) bool {
	return !math.IsNaN(v) && !math.IsInf(v, 0)
}
