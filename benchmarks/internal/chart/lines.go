package chart

import (
	"fmt"
	"io"
	"math"
)

// Series is one line of a line chart. X[i] and Y[i] form the i-th point;
// the points are joined in the order given.
type Series struct {
	Name string
	X    []float64
	Y    []float64
}

// Line chart layout in pixels. The plot has a fixed size; the legend to its
// right grows with the longest series name.
const (
	linePlotLeft   = 80
	linePlotTop    = 50
	linePlotWidth  = 560
	linePlotHeight = 300
	linePlotBottom = linePlotTop + linePlotHeight
	legendGap      = 24
	legendRow      = 20
	legendSwatch   = 22
	markerRadius   = 3.5
)

// Lines writes a line chart with one polyline and point markers per series,
// a legend, and axes with humanized tick labels. If markX is not NaN, a
// dashed vertical line at markX is labelled markLabel (e.g. "recommended: 4
// loops"). Points whose X or Y is NaN or infinite are left out and break
// their line in two. Whole-number x data (such as a loop count) gets
// whole-number ticks. A chart without any finite point says "no data".
// It returns an error wrapping ErrSeriesLength if a series has more X than
// Y values or the reverse, and writes nothing in that case.
func Lines(w io.Writer, title, xLabel, yLabel, footnote string, series []Series, markX float64, markLabel string) error {
	for _, s := range series {
		if len(s.X) != len(s.Y) {
			return fmt.Errorf("%w: %q has %d x and %d y values", ErrSeriesLength, s.Name, len(s.X), len(s.Y))
		}
	}
	x, y, ok := lineScales(series, markX)
	if !ok {
		return writeNoData(w, title, footnote)
	}
	legendWidth := 0.0
	for _, s := range series {
		legendWidth = math.Max(legendWidth, legendSwatch+8+textWidth(legendName(s)))
	}
	plotRight := float64(linePlotLeft + linePlotWidth)
	width := math.Max(plotRight+legendGap+legendWidth+margin, headerWidth(title, footnote))
	height := linePlotBottom + 50 + footnoteHeight(footnote)
	x.pixelLow, x.pixelHigh = linePlotLeft, plotRight
	y.pixelLow, y.pixelHigh = linePlotBottom, linePlotTop

	var c canvas
	c.begin(width, height)
	drawTitle(&c, title)
	drawLineAxes(&c, x, y, xLabel, yLabel)
	for i, s := range series {
		drawSeries(&c, s, x, y, seriesColours[i%len(seriesColours)])
	}
	if finite(markX) {
		drawMarker(&c, x.pixel(markX), markLabel)
	}
	for i, s := range series {
		legendY := float64(linePlotTop + 10 + i*legendRow)
		legendX := plotRight + legendGap
		colour := seriesColours[i%len(seriesColours)]
		c.line(legendX, legendY-4, legendX+legendSwatch, legendY-4, colour, false)
		c.circle(legendX+legendSwatch/2, legendY-4, markerRadius, colour, "")
		c.text(legendX+legendSwatch+8, legendY, legendName(s),
			textStyle{size: smallSize, anchor: "start", fill: textColour})
	}
	drawFootnote(&c, footnote, height)
	return c.end(w)
}

// lineScales returns the x and y scales that cover every finite point and
// a finite markX; ok is false when there is no finite point at all. The y
// scale always includes zero, so that throughput differences are not
// exaggerated by a cut-off axis.
func lineScales(series []Series, markX float64) (x, y scale, ok bool) {
	lowX, highX := math.Inf(1), math.Inf(-1)
	lowY, highY := 0.0, math.Inf(-1)
	wholeNumbers := true
	for _, s := range series {
		for i := range s.X {
			if !finite(s.X[i]) || !finite(s.Y[i]) {
				continue
			}
			ok = true
			lowX, highX = math.Min(lowX, s.X[i]), math.Max(highX, s.X[i])
			lowY, highY = math.Min(lowY, s.Y[i]), math.Max(highY, s.Y[i])
			wholeNumbers = wholeNumbers && s.X[i] == math.Trunc(s.X[i])
		}
	}
	if !ok {
		return scale{}, scale{}, false
	}
	if finite(markX) {
		lowX, highX = math.Min(lowX, markX), math.Max(highX, markX)
		wholeNumbers = wholeNumbers && markX == math.Trunc(markX)
	}
	// Eight x intervals give ticks every 2 for the usual 1..16 loop counts;
	// five y intervals keep the tick labels of a 300-pixel axis apart.
	x = niceScale(lowX, highX, axisOptions{intervals: 8, wholeNumbers: wholeNumbers})
	y = niceScale(lowY, highY, axisOptions{intervals: 5})
	return x, y, true
}

// drawLineAxes draws the y grid and tick labels, the x ticks and labels,
// the axis lines and the two axis captions.
func drawLineAxes(c *canvas, x, y scale, xLabel, yLabel string) {
	muted := textStyle{size: smallSize, anchor: "end", fill: mutedColour}
	for _, tick := range y.ticks {
		py := y.pixel(tick)
		c.line(x.pixelLow, py, x.pixelHigh, py, gridColour, false)
		c.text(x.pixelLow-6, py+4, Humanize(tick), muted)
	}
	muted.anchor = "middle"
	for _, tick := range x.ticks {
		px := x.pixel(tick)
		c.line(px, linePlotBottom, px, linePlotBottom+5, axisColour, false)
		c.text(px, linePlotBottom+18, Humanize(tick), muted)
	}
	c.line(x.pixelLow, linePlotBottom, x.pixelHigh, linePlotBottom, axisColour, false)
	c.line(x.pixelLow, linePlotTop, x.pixelLow, linePlotBottom, axisColour, false)
	caption := textStyle{size: labelSize, anchor: "middle", fill: textColour}
	if xLabel != "" {
		c.text((x.pixelLow+x.pixelHigh)/2, linePlotBottom+40, xLabel, caption)
	}
	if yLabel != "" {
		caption.rotate = -90
		c.text(24, (linePlotTop+linePlotBottom)/2, yLabel, caption)
	}
}

// drawSeries draws one series: a polyline through each run of consecutive
// finite points and a marker, with a tooltip, on every finite point.
func drawSeries(c *canvas, s Series, x, y scale, colour string) {
	var run [][2]float64
	flush := func() {
		if len(run) > 1 {
			c.polyline(run, colour)
		}
		run = run[:0]
	}
	for i := range s.X {
		if !finite(s.X[i]) || !finite(s.Y[i]) {
			flush()
			continue
		}
		run = append(run, [2]float64{x.pixel(s.X[i]), y.pixel(s.Y[i])})
	}
	flush()
	for i := range s.X {
		if finite(s.X[i]) && finite(s.Y[i]) {
			tooltip := fmt.Sprintf("%s: %s at %s", s.Name, Humanize(s.Y[i]), Humanize(s.X[i]))
			c.circle(x.pixel(s.X[i]), y.pixel(s.Y[i]), markerRadius, colour, tooltip)
		}
	}
}

// drawMarker draws the dashed vertical line at pixel px and its label,
// placed on whichever side of the line has more room.
func drawMarker(c *canvas, px float64, label string) {
	c.line(px, linePlotTop, px, linePlotBottom, textColour, true)
	style := textStyle{size: smallSize, anchor: "start", fill: textColour, bold: true}
	labelX := px + 5
	if px > linePlotLeft+linePlotWidth/2 {
		style.anchor, labelX = "end", px-5
	}
	if label != "" {
		c.text(labelX, linePlotTop+14, label, style)
	}
}

// legendName is the legend text of a series; a series without any finite
// point is marked so that its missing line is not mistaken for a bug.
func legendName(s Series) string {
	for i := range s.X {
		if finite(s.X[i]) && finite(s.Y[i]) {
			return s.Name
		}
	}
	return s.Name + " (no data)"
}
