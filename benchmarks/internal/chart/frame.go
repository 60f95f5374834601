package chart

import (
	"io"
	"math"
	"strings"
)

// Layout of the line charts' and the "no data" chart's frame in pixels:
// the title at the top left, the footnote at the bottom.
const (
	margin        = 20
	titleBaseline = 30
	footnoteSpace = 28
	// footnoteLineHeight is the distance between the baselines of two
	// footnote lines, a little more than the small font size.
	footnoteLineHeight = 14
)

// drawTitle writes the chart title at the top left.
func drawTitle(c *canvas, title string) {
	if title == "" {
		return
	}
	c.text(margin, titleBaseline, title,
		textStyle{size: titleSize, anchor: "start", fill: textColour, bold: true})
}

// footnoteLines splits a footnote into its lines; an empty footnote has none.
func footnoteLines(footnote string) []string {
	if footnote == "" {
		return nil
	}
	return strings.Split(strings.TrimRight(footnote, "\n"), "\n")
}

// footnoteHeight is the vertical space the footnote needs at the bottom.
func footnoteHeight(footnote string) float64 {
	lines := len(footnoteLines(footnote))
	if lines == 0 {
		return footnoteSpace
	}
	return footnoteSpace + float64(lines-1)*footnoteLineHeight
}

// drawFootnote writes the footnote, one <text> per line, so that its last
// line sits just above the bottom edge of a chart of the given height.
func drawFootnote(c *canvas, footnote string, height float64) {
	lines := footnoteLines(footnote)
	for i, line := range lines {
		y := height - 10 - float64(len(lines)-1-i)*footnoteLineHeight
		c.text(margin, y, line, textStyle{size: smallSize, anchor: "start", fill: mutedColour})
	}
}

// headerWidth is the chart width that the title and the longest footnote
// line need, margins included.
func headerWidth(title, footnote string) float64 {
	width := measure(title, titleSize, true)
	for _, line := range footnoteLines(footnote) {
		width = math.Max(width, textWidth(line))
	}
	return width + 2*margin
}

// writeNoData writes a small chart that holds only the title, the words
// "no data" and the footnote.
func writeNoData(w io.Writer, title, footnote string) error {
	width := math.Max(480, headerWidth(title, footnote))
	height := 140 + footnoteHeight(footnote)
	var c canvas
	c.begin(width, height)
	drawTitle(&c, title)
	c.text(width/2, 90, "no data", textStyle{size: labelSize, anchor: "middle", fill: mutedColour})
	drawFootnote(&c, footnote, height)
	return c.end(w)
}
