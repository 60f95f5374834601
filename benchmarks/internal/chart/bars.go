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

// Bar chart layout in pixels. The chart is a grid of panels, at most
// barColumns side by side, and at most maxBarsWidth wide. Such a chart is
// usually shown scaled down, e.g. to the 880 to 1000 pixels of a README
// column on GitHub, so its text is large: at a scale of 0.55, the smallest
// text (minBarsTextSize) still reads as 10 pixels and the bar labels as 11.
const (
	maxBarsWidth = 1600
	barColumns   = 3
	barsMargin   = 24
	panelGap     = 26
	// panelWidth fills maxBarsWidth with barColumns panels.
	panelWidth   = (maxBarsWidth - 2*barsMargin - (barColumns-1)*panelGap) / barColumns
	panelPadding = 18
	panelInner   = panelWidth - 2*panelPadding
	// headingGap separates a panel's heading from its first bar.
	headingGap = 8
	barRow     = 32
	barHeight  = 22
	// labelGap separates the label column from the bars, and a bar's end
	// from its value.
	labelGap = 10
	valueGap = 8
	// The label and value columns get what their longest text needs, up
	// to these shares of the panel, so that a bar always has room.
	maxLabelShare = 0.38
	maxValueShare = 0.26
	// headerGap separates the title and subtitle from the first row.
	headerGap = 20

	barsTitleSize   = 30
	subtitleSize    = 20
	headingSize     = 22
	barTextSize     = 20
	noteSize        = 19
	minBarsTextSize = noteSize
	// lineSpacing is the distance between the baselines of two lines of
	// wrapped text, as a multiple of the font size.
	lineSpacing = 1.3
	// Wrapped text is cut after this many lines.
	maxTitleLines    = 2
	maxSubtitleLines = 3
	maxHeadingLines  = 2

	panelColour     = "#f4f6f8"
	highlightColour = "#fde8e1"
)

// Text styles of the bar chart.
var (
	barsTitleStyle = textStyle{size: barsTitleSize, anchor: "start", fill: textColour, bold: true}
	subtitleStyle  = textStyle{size: subtitleSize, anchor: "start", fill: mutedColour}
	headingStyle   = textStyle{size: headingSize, anchor: "start", fill: textColour, bold: true}
	labelStyle     = textStyle{size: barTextSize, anchor: "end", fill: textColour}
	valueStyle     = textStyle{size: barTextSize, anchor: "start", fill: textColour}
	noteStyle      = textStyle{size: noteSize, anchor: "start", fill: mutedColour}
)

// panel is one group ready to draw: its heading broken into lines and the
// texts of its bars.
type panel struct {
	group   Group
	heading []string
	format  func(float64) string
	values  []string
	largest float64
}

// columns is the width of the label column and of the value column, the
// same in every panel so that the panels line up.
type columns struct {
	label, value float64
}

// Bars writes a chart of several groups, each its own panel with its own
// scale, because units differ (req/s, requests per CPU-second, bytes per
// connection). The panels fill rows of up to three, so the chart is at most
// 1600 pixels wide however many groups there are; it grows downwards. The
// title and the footnote (e.g. the machine and the settings) head the chart,
// wrapped to its width.
//
// A panel's heading is the group's title followed by its unit in brackets,
// unless the title already ends with the unit. Its bars are horizontal, in
// the order given, each with its label on the left and its humanized value
// at its end; the highlighted bar is drawn in the accent colour on a tinted
// row with bold text. A NaN or infinite value draws no bar and reads "n/a";
// a negative value is drawn as zero, keeps its real label, and the panel
// says so. Text too wide for its place is cut with an ellipsis; a bar's
// tooltip keeps its full label and value. A chart without groups, or a
// group without bars, says "no data".
func Bars(w io.Writer, title, footnote string, groups []Group) error {
	if len(groups) == 0 {
		return writeNoData(w, title, footnote)
	}
	panels := make([]panel, len(groups))
	for i, group := range groups {
		panels[i] = newPanel(group)
	}
	cols := barColumnsFor(panels)
	perRow := min(len(panels), barColumns)
	width := 2*barsMargin + float64(perRow)*panelWidth + float64(perRow-1)*panelGap

	titleLines := wrap(title, width-2*barsMargin, barsTitleStyle, maxTitleLines)
	var subtitleLines []string
	for _, line := range footnoteLines(footnote) {
		subtitleLines = append(subtitleLines, wrap(line, width-2*barsMargin, subtitleStyle, maxSubtitleLines)...)
	}
	top := float64(barsMargin)
	top = textBlockEnd(top, titleLines, barsTitleStyle)
	top = textBlockEnd(top, subtitleLines, subtitleStyle)
	top += headerGap

	var rows [][]panel
	for start := 0; start < len(panels); start += barColumns {
		rows = append(rows, panels[start:min(start+barColumns, len(panels))])
	}
	height := top + barsMargin - panelGap
	for _, row := range rows {
		height += rowHeight(row) + panelGap
	}

	var c canvas
	c.begin(width, height)
	c.textLines(barsMargin, barsMargin, titleLines, barsTitleStyle)
	c.textLines(barsMargin, textBlockEnd(barsMargin, titleLines, barsTitleStyle), subtitleLines, subtitleStyle)
	for _, row := range rows {
		headingLines := 1
		for _, p := range row {
			headingLines = max(headingLines, len(p.heading))
		}
		rowH := rowHeight(row)
		for i, p := range row {
			left := barsMargin + float64(i)*(panelWidth+panelGap)
			drawPanel(&c, p, cols, left, top, rowH, headingLines)
		}
		top += rowH + panelGap
	}
	return c.end(w)
}

// newPanel prepares group for drawing.
func newPanel(group Group) panel {
	p := panel{group: group, format: Humanize}
	if isByteUnit(group.Unit) {
		p.format = HumanBytes
	}
	heading := group.Title
	unit := strings.TrimSpace(group.Unit)
	if unit != "" && !strings.HasSuffix(strings.ToLower(heading), strings.ToLower(unit)) {
		heading = strings.TrimSpace(heading + " (" + unit + ")")
	}
	p.heading = wrap(heading, panelInner, headingStyle, maxHeadingLines)
	for _, bar := range group.Bars {
		text := "n/a"
		if finite(bar.Value) {
			text = p.format(bar.Value)
			p.largest = math.Max(p.largest, bar.Value)
		}
		p.values = append(p.values, text)
	}
	return p
}

// barColumnsFor sizes the label and value columns for the widest label and
// value of any panel, measured bold as a highlighted bar's are.
func barColumnsFor(panels []panel) columns {
	var cols columns
	for _, p := range panels {
		for i, bar := range p.group.Bars {
			cols.label = math.Max(cols.label, measure(bar.Label, barTextSize, true))
			cols.value = math.Max(cols.value, measure(p.values[i], barTextSize, true))
		}
	}
	cols.label = math.Min(cols.label, maxLabelShare*panelInner)
	cols.value = math.Min(cols.value, maxValueShare*panelInner)
	return cols
}

// rowHeight is the height of a row of panels: the most heading lines and
// the most bars of any of them, and a line for the note on negative values
// if one of them has it.
func rowHeight(row []panel) float64 {
	headingLines, bars, note := 1, 1, false
	for _, p := range row {
		headingLines = max(headingLines, len(p.heading))
		bars = max(bars, len(p.group.Bars))
		note = note || hasNegative(p.group)
	}
	height := 2*panelPadding + float64(headingLines)*headingSize*lineSpacing + headingGap + float64(bars)*barRow
	if note {
		height += noteSize * lineSpacing
	}
	return height
}

// drawPanel draws p as a panel of the given height with its top left corner
// at (left, top); its bars start below headingLines lines of heading, so
// that the bars of a row line up.
func drawPanel(c *canvas, p panel, cols columns, left, top, height float64, headingLines int) {
	c.rect(left, top, panelWidth, height, panelColour, "")
	inner := left + panelPadding
	c.textLines(inner, top+panelPadding, p.heading, headingStyle)
	barsTop := top + panelPadding + float64(headingLines)*headingSize*lineSpacing + headingGap
	if len(p.group.Bars) == 0 {
		c.text(left+panelWidth/2, barsTop+barRow/2+barTextSize*0.35, "no data",
			textStyle{size: barTextSize, anchor: "middle", fill: mutedColour})
		return
	}
	barLeft := inner + cols.label + labelGap
	barSpace := panelInner - cols.label - labelGap - valueGap - cols.value
	for i, bar := range p.group.Bars {
		rowTop := barsTop + float64(i)*barRow
		highlight := p.group.Highlight != "" && bar.Label == p.group.Highlight
		fill, label, value := barColour, labelStyle, valueStyle
		if highlight {
			c.rect(left, rowTop, panelWidth, barRow, highlightColour, "")
			fill, label.bold, value.bold, value.fill = accentColour, true, true, accentColour
		}
		baseline := rowTop + barRow/2 + barTextSize*0.35
		c.text(inner+cols.label, baseline, fit(bar.Label, cols.label, label), label)
		end := barLeft
		if finite(bar.Value) {
			length := 0.0
			if p.largest > 0 {
				length = math.Max(bar.Value, 0) / p.largest * barSpace
			}
			c.rect(barLeft, rowTop+(barRow-barHeight)/2, length, barHeight, fill, tooltip(p, i))
			end += length
		}
		c.text(end+valueGap, baseline, fit(p.values[i], cols.value, value), value)
	}
	// The zero line, so that a bar too short to see still has a start.
	c.line(barLeft, barsTop, barLeft, barsTop+float64(len(p.group.Bars))*barRow, axisColour, false)
	if hasNegative(p.group) {
		c.textLines(inner, barsTop+float64(len(p.group.Bars))*barRow, []string{"negative values drawn as 0"}, noteStyle)
	}
}

// tooltip is the full description of the i-th bar of p, e.g.
// "sycamore: 126k req/s (125903.18)".
func tooltip(p panel, i int) string {
	bar := p.group.Bars[i]
	text := bar.Label + ": " + p.values[i]
	if p.group.Unit != "" && !isByteUnit(p.group.Unit) {
		text += " " + p.group.Unit
	}
	return text + " (" + strconv.FormatFloat(bar.Value, 'g', -1, 64) + ")"
}

// textBlockEnd is the y coordinate below lines of text in style whose
// block starts at top.
func textBlockEnd(top float64, lines []string, style textStyle) float64 {
	return top + float64(len(lines))*style.size*lineSpacing
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
