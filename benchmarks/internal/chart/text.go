package chart

import (
	"strings"
)

// asciiWidths are the advance widths, in em, of the printable ASCII
// characters from ' ' to '~' in DejaVu Sans, the sans-serif font of most
// Linux systems and of librsvg. It is wider than Helvetica, Arial and the
// other common sans-serif fonts, so text measured with it fits in those too.
var asciiWidths = [...]float64{
	// ' ' ! " # $ % & ' ( ) * + , - . /
	0.318, 0.400, 0.460, 0.838, 0.636, 0.950, 0.780, 0.275, 0.390, 0.390, 0.500, 0.838, 0.318, 0.361, 0.318, 0.337,
	// 0 to 9
	0.636, 0.636, 0.636, 0.636, 0.636, 0.636, 0.636, 0.636, 0.636, 0.636,
	// : ; < = > ? @
	0.337, 0.337, 0.838, 0.838, 0.838, 0.531, 1.000,
	// A to Z
	0.684, 0.686, 0.698, 0.770, 0.632, 0.575, 0.775, 0.752, 0.295, 0.295, 0.656, 0.557, 0.863,
	0.748, 0.787, 0.603, 0.787, 0.695, 0.635, 0.611, 0.732, 0.684, 0.989, 0.685, 0.611, 0.685,
	// [ \ ] ^ _ `
	0.390, 0.337, 0.390, 0.838, 0.500, 0.500,
	// a to z
	0.613, 0.635, 0.550, 0.635, 0.615, 0.352, 0.635, 0.634, 0.278, 0.278, 0.579, 0.278, 0.974,
	0.634, 0.612, 0.635, 0.635, 0.411, 0.521, 0.392, 0.634, 0.592, 0.818, 0.592, 0.592, 0.525,
	// { | } ~
	0.636, 0.337, 0.636, 0.838,
}

// Width estimates beyond the ASCII table: other characters count as one em,
// the width of the widest Latin letters, and bold text (DejaVu Sans Bold)
// is about a sixth wider than regular text.
const (
	otherRuneWidth = 1.0
	boldWidening   = 1.16
)

// ellipsis replaces the end of text that does not fit.
const ellipsis = "…"

// measure estimates the rendered width in pixels of s at the given font
// size. The renderer's font is unknown, so the estimate errs on the wide
// side; see asciiWidths.
func measure(s string, size float64, bold bool) float64 {
	ems := 0.0
	for _, r := range s {
		if r >= ' ' && r <= '~' {
			ems += asciiWidths[r-' ']
		} else {
			ems += otherRuneWidth
		}
	}
	if bold {
		ems *= boldWidening
	}
	return ems * size
}

// textWidth estimates the rendered width of s at the small font size.
func textWidth(s string) float64 {
	return measure(s, smallSize, false)
}

// fit returns s if it is at most width pixels wide at the given style, and
// otherwise its longest prefix that fits with an ellipsis appended (just
// the ellipsis if nothing else fits).
func fit(s string, width float64, style textStyle) string {
	if measure(s, style.size, style.bold) <= width {
		return s
	}
	runes := []rune(s)
	for n := len(runes) - 1; n > 0; n-- {
		cut := strings.TrimRight(string(runes[:n]), " ") + ellipsis
		if measure(cut, style.size, style.bold) <= width {
			return cut
		}
	}
	return ellipsis
}

// wrap breaks s into at most maxLines lines, each at most width pixels wide
// at the given style. Lines break between words; text beyond the last line
// and a single word wider than a line are cut with an ellipsis. A line that
// ends in a colon ("resp PING_INLINE -P 16: req per CPU-s") is preferred
// as the first line of text that needs more than one, when the rest then
// still fits, so that a load and its metric sit on lines of their own. An
// empty s has no lines.
func wrap(s string, width float64, style textStyle, maxLines int) []string {
	words := strings.Fields(s)
	if len(words) == 0 || maxLines < 1 {
		return nil
	}
	if maxLines > 1 && measure(s, style.size, style.bold) > width {
		for i, word := range words[:len(words)-1] {
			if !strings.HasSuffix(word, ":") {
				continue
			}
			head := strings.Join(words[:i+1], " ")
			rest := greedyWrap(words[i+1:], width, style, maxLines-1)
			if measure(head, style.size, style.bold) <= width && !strings.HasSuffix(rest[len(rest)-1], ellipsis) {
				return append([]string{head}, rest...)
			}
			break
		}
	}
	return greedyWrap(words, width, style, maxLines)
}

// greedyWrap fills each line with as many of words as fit; see wrap.
func greedyWrap(words []string, width float64, style textStyle, maxLines int) []string {
	fits := func(text string) bool { return measure(text, style.size, style.bold) <= width }
	var lines []string
	line := ""
	for i, word := range words {
		if candidate := strings.TrimSpace(line + " " + word); fits(candidate) {
			line = candidate
			continue
		}
		if line != "" && len(lines) < maxLines-1 {
			lines, line = append(lines, line), ""
			if fits(word) {
				line = word
				continue
			}
		}
		if len(lines) == maxLines-1 {
			// The last line: what does not fit is cut.
			rest := strings.TrimSpace(line + " " + strings.Join(words[i:], " "))
			return append(lines, fit(rest, width, style))
		}
		// A word wider than a line gets a line of its own, cut.
		lines = append(lines, fit(word, width, style))
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}
