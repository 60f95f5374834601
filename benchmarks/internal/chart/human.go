package chart

import (
	"math"
	"strconv"
	"strings"
)

// decimalUnits are the suffixes Humanize appends, one per factor of 1000.
var decimalUnits = []string{"", "k", "M", "G", "T", "P"}

// binaryUnits are the units HumanBytes appends, one per factor of 1024.
var binaryUnits = []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}

// Humanize formats v with a k, M, G, T or P suffix and three significant
// digits, trailing zeros removed: 950 → "950", 1234 → "1.23k",
// 123456 → "123k", 1200000 → "1.2M". Magnitudes below one keep three
// significant digits too (0.0125 → "0.0125"). NaN is "n/a" and the
// infinities are "inf" and "-inf".
func Humanize(v float64) string {
	return humanize(v, 1000, decimalUnits, "")
}

// HumanBytes formats a byte count with the binary units B, KiB, MiB, GiB,
// TiB and PiB and three significant digits: 256 → "256 B",
// 1536 → "1.5 KiB", 3<<20 → "3 MiB". Fractional counts, such as an average
// per connection, keep their fraction (12.5 → "12.5 B"). NaN is "n/a" and
// the infinities are "inf" and "-inf".
func HumanBytes(v float64) string {
	return humanize(v, 1024, binaryUnits, " ")
}

// humanize scales v by powers of base until it is below base, then prints
// three significant digits followed by sep and the matching unit.
func humanize(v, base float64, units []string, sep string) string {
	switch {
	case math.IsNaN(v):
		return "n/a"
	case math.IsInf(v, 1):
		return "inf"
	case math.IsInf(v, -1):
		return "-inf"
	case v == 0:
		return "0" + sep + units[0]
	}
	sign := ""
	if v < 0 {
		sign = "-"
		v = -v
	}
	unit := 0
	scaled := v
	// A value is promoted to the next unit once its rounded text would read
	// "1000" or more (for base 1000) or "1024" or more (for base 1024), so
	// that 999.7 prints as "1k" rather than "1000".
	for unit < len(units)-1 && roundSignificant(scaled) >= base {
		scaled /= base
		unit++
	}
	return sign + significant(scaled) + sep + units[unit]
}

// roundSignificant rounds v (positive) to three significant digits, except
// that whole numbers of 1000 and above keep all their integer digits.
func roundSignificant(v float64) float64 {
	rounded, err := strconv.ParseFloat(significant(v), 64)
	if err != nil {
		// significant only produces decimal text, so this cannot happen;
		// falling back to v keeps the caller correct regardless.
		return v
	}
	return rounded
}

// significant prints v (positive) with three significant digits and no
// trailing zeros. Values from 1000 to a million print as rounded integers,
// which only happens for the largest unit or for bytes between 1000 and
// 1023; beyond a million, the exponent form keeps the text short.
func significant(v float64) string {
	var text string
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v, 'g', 3, 64)
	case v >= 100:
		text = strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		text = strconv.FormatFloat(v, 'f', 1, 64)
	case v >= 1:
		text = strconv.FormatFloat(v, 'f', 2, 64)
	default:
		// Below one, 'g' with precision 3 keeps three significant digits
		// and switches to exponent form only below 1e-4.
		text = strconv.FormatFloat(v, 'g', 3, 64)
	}
	if strings.Contains(text, ".") && !strings.ContainsAny(text, "eE") {
		text = strings.TrimRight(text, "0")
		text = strings.TrimSuffix(text, ".")
	}
	return text
}
