package chart

import (
	"io"
	"math"
	"strconv"
	"strings"
)

// Bar is one bar of a group.
type Bar struct {
	Label string
	Value float64
}

// Group is a cluster of bars sharing an axis, e.g. one load ("wrk plain")
// with one bar per server.
//
// Values are printed with HumanBytes when Unit names bytes ("B", "bytes",
// or either followed by "/" or " per", such as "bytes/conn"), and with
// Humanize otherwise.
type Group struct {
	Title string
	Unit  string
	Bars  []Bar
	// Highlight is the label of the bar drawn in the accent colour, e.g.
	// "sycamore". Every bar with that label is highlighted; an empty or
	// unmatched Highlight highlights nothing.
	Highlight string
}

// Bar layout in pixels. A slot is the horizontal space of one bar; the gap
// inside it keeps neighbouring value labels such as "1.23 KiB" apart.
const (
	margin        = 20
	titleBaseline = 30
	panelTitleY   = 58
	plotTop       = 80
	plotHeight    = 220
	plotBottom    = plotTop + plotHeight
	yAxisSpace    = 60
	panelPadding  = 16
	panelGap      = 24
	barSlot       = 64
	barWidth      = 40
	footnoteSpace = 28
	noteSpace     = 18
	// labelAngle is the rotation of bar labels that are too wide for their
	// slot; sin(35°) ≈ 0.574 is how much of the label's length goes down.
	labelAngle = -35
	labelSlope = 0.574
	// maxLabelRunes bounds a drawn bar label, so that a slanted label of
	// the first panel (about 0.82 px leftwards per px of length) stays
	// inside the chart. The tooltip keeps the full label.
	maxLabelRunes = 20
)

// Bars writes a chart of several groups side by side. Each group is its own
// panel with its own y scale, because units differ (req/s, requests per
// CPU-second, bytes per connection). Every bar carries its humanized value
// on top; a NaN or infinite value draws no bar and reads "n/a"; a negative
// value is drawn as zero, keeps its real label, and the panel says so. A
// chart without groups, or a group without bars, says "no data". The
// footnote (e.g. the command and machine) is written at the bottom.
func Bars(w io.Writer, title, footnote string, groups []Group) error {
	if len(groups) == 0 {
		return writeNoData(w, title, footnote)
	}
	widths := make([]float64, len(groups))
	total := 2*margin + panelGap*float64(len(groups)-1)
	labelSpace, anyNegative := 0.0, false
	for i, group := range groups {
		widths[i] = panelWidth(group)
		total += widths[i]
		labelSpace = math.Max(labelSpace, barLabelSpace(group))
		anyNegative = anyNegative || hasNegative(group)
	}
	total = math.Max(total, headerWidth(title, footnote))
	height := plotBottom + labelSpace + footnoteHeight(footnote)
	if anyNegative {
		height += noteSpace
	}
	var c canvas
	c.begin(total, height)
	drawTitle(&c, title)
	left := float64(margin)
	for i, group := range groups {
		drawPanel(&c, group, left, widths[i], plotBottom+labelSpace)
		left += widths[i] + panelGap
	}
	drawFootnote(&c, footnote, height)
	return c.end(w)
}

// drawPanel draws one group whose panel starts at left; noteY is the
// baseline for the "negative values" remark below the bar labels.
func drawPanel(c *canvas, group Group, left, width, noteY float64) {
	plotLeft := left + yAxisSpace
	plotRight := left + width - panelPadding
	heading := group.Title
	if group.Unit != "" {
		heading += " (" + group.Unit + ")"
	}
	c.text((plotLeft+plotRight)/2, panelTitleY, heading,
		textStyle{size: labelSize, anchor: "middle", fill: textColour, bold: true})
	if len(group.Bars) == 0 {
		c.line(plotLeft, plotBottom, plotRight, plotBottom, axisColour, false)
		c.text((plotLeft+plotRight)/2, plotTop+plotHeight/2, "no data",
			textStyle{size: labelSize, anchor: "middle", fill: mutedColour})
		return
	}
	format := Humanize
	if isByteUnit(group.Unit) {
		format = HumanBytes
	}
	largest := 0.0
	for _, bar := range group.Bars {
		if finite(bar.Value) {
			largest = math.Max(largest, bar.Value)
		}
	}
	y := niceScale(0, largest, axisOptions{intervals: 4, binary: isByteUnit(group.Unit)})
	y.pixelLow, y.pixelHigh = plotBottom, plotTop
	for _, tick := range y.ticks {
		py := y.pixel(tick)
		c.line(plotLeft, py, plotRight, py, gridColour, false)
		c.text(plotLeft-6, py+4, format(tick),
			textStyle{size: smallSize, anchor: "end", fill: mutedColour})
	}
	c.line(plotLeft, plotBottom, plotRight, plotBottom, axisColour, false)
	rotate := needsRotation(group)
	for i, bar := range group.Bars {
		drawBar(c, group, bar, plotLeft+float64(i)*barSlot, y, format, rotate)
	}
	if hasNegative(group) {
		c.text(plotLeft, noteY+noteSpace-4, "negative values drawn as 0",
			textStyle{size: smallSize, anchor: "start", fill: mutedColour})
	}
}

// drawBar draws one bar in the slot starting at slotLeft, its value label
// above it and its name below the axis.
func drawBar(c *canvas, group Group, bar Bar, slotLeft float64, y scale, format func(float64) string, rotate bool) {
	centre := slotLeft + barSlot/2
	highlight := group.Highlight != "" && bar.Label == group.Highlight
	fill := barColour
	if highlight {
		fill = accentColour
	}
	top := float64(plotBottom)
	valueText := "n/a"
	if finite(bar.Value) {
		top = y.pixel(math.Max(bar.Value, 0))
		valueText = format(bar.Value)
		tooltip := bar.Label + ": " + valueText
		if group.Unit != "" && !isByteUnit(group.Unit) {
			tooltip += " " + group.Unit
		}
		tooltip += " (" + strconv.FormatFloat(bar.Value, 'g', -1, 64) + ")"
		c.rect(centre-barWidth/2, top, barWidth, plotBottom-top, fill, tooltip)
	}
	valueFill := textColour
	if highlight {
		valueFill = accentColour
	}
	c.text(centre, top-5, valueText,
		textStyle{size: smallSize, anchor: "middle", fill: valueFill, bold: highlight})
	style := textStyle{size: smallSize, anchor: "middle", fill: textColour, bold: highlight}
	labelX, labelY := centre, float64(plotBottom+16)
	if rotate {
		// A slanted label ends just below the right half of its bar.
		style.anchor, style.rotate = "end", labelAngle
		labelX, labelY = centre+6, plotBottom+12
	}
	c.text(labelX, labelY, shorten(bar.Label), style)
}

// panelWidth is the width of a group's panel: the y tick labels, one slot
// per bar, and enough room for the heading.
func panelWidth(group Group) float64 {
	slots := math.Max(float64(len(group.Bars)), 2) * barSlot
	heading := group.Title + " (" + group.Unit + ")"
	return yAxisSpace + panelPadding + math.Max(slots, textWidth(heading)*labelSize/smallSize)
}

// shorten cuts label to maxLabelRunes characters, the last one an ellipsis.
func shorten(label string) string {
	runes := []rune(label)
	if len(runes) <= maxLabelRunes {
		return label
	}
	return string(runes[:maxLabelRunes-1]) + "…"
}

// needsRotation reports whether a bar label of the group is wider than its
// slot, in which case the group's labels are drawn slanted.
func needsRotation(group Group) bool {
	for _, bar := range group.Bars {
		if textWidth(bar.Label) > barSlot-6 {
			return true
		}
	}
	return false
}

// barLabelSpace is the height below the axis that the group's bar labels
// need: one line, or the vertical extent of the longest slanted label.
func barLabelSpace(group Group) float64 {
	if !needsRotation(group) {
		return 24
	}
	longest := 0.0
	for _, bar := range group.Bars {
		longest = math.Max(longest, textWidth(shorten(bar.Label)))
	}
	return longest*labelSlope + 24
}

// hasNegative reports whether a bar of the group has a value below zero.
func hasNegative(group Group) bool {
	for _, bar := range group.Bars {
		if bar.Value < 0 {
			return true
		}
	}
	return false
}

// isByteUnit reports whether unit names bytes; see Group.
func isByteUnit(unit string) bool {
	unit = strings.ToLower(strings.TrimSpace(unit))
	for _, name := range []string{"b", "bytes"} {
		if unit == name || strings.HasPrefix(unit, name+"/") || strings.HasPrefix(unit, name+" per") {
			return true
		}
	}
	return false
}
