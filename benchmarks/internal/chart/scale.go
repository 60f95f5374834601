package chart

import "math"

// scale maps data values linearly onto pixels and carries the tick values
// that label the axis. The pixel range may run backwards (a y axis grows
// upwards on screen, so its low pixel is the larger number).
type scale struct {
	low, high float64
	pixelLow  float64
	pixelHigh float64
	ticks     []float64
}

// pixel returns the screen coordinate of v. Values outside the scale, which
// only arise beyond maxMagnitude, are drawn at its nearer end.
func (s scale) pixel(v float64) float64 {
	v = math.Min(math.Max(v, s.low), s.high)
	return s.pixelLow + (v-s.low)/(s.high-s.low)*(s.pixelHigh-s.pixelLow)
}

// axisOptions say how niceScale picks its ticks.
type axisOptions struct {
	// intervals is the number of tick intervals wanted; the result has
	// between about half and twice as many.
	intervals int
	// wholeNumbers keeps the tick step at one or more, for axes such as a
	// loop count where 2.5 would be meaningless.
	wholeNumbers bool
}

// maxMagnitude bounds the data range of a scale. Beyond it, rounding the
// range out to a tick or taking its width could overflow to infinity; no
// benchmark measures anything that large.
const maxMagnitude = 1e300

// niceScale returns a scale whose range covers [low, high] and ends on
// round tick values (1, 2 or 5 times a power of ten). A zero-width range is
// widened so that the scale never divides by zero: around zero to [0, 1],
// elsewhere by 10% of the value (or by one for whole-number axes). Data
// beyond ±maxMagnitude is clamped to it.
func niceScale(low, high float64, options axisOptions) scale {
	if low > high {
		low, high = high, low
	}
	low = math.Min(math.Max(low, -maxMagnitude), maxMagnitude)
	high = math.Min(math.Max(high, -maxMagnitude), maxMagnitude)
	if low == high {
		pad := math.Abs(low) / 10
		if options.wholeNumbers || pad == 0 {
			pad = 1
		}
		if low == 0 {
			high = 1
		} else {
			low, high = low-pad, high+pad
			// A range that only reached below zero through the padding
			// would show a meaningless negative tick for a positive value.
			if low < 0 && low+pad >= 0 {
				low = 0
			}
		}
	}
	step := niceStep((high - low) / float64(options.intervals))
	if options.wholeNumbers && step < 1 {
		step = 1
	}
	first := math.Floor(low/step) * step
	last := math.Ceil(high/step) * step
	result := scale{low: first, high: last}
	// The count bound only guards against float overflow for absurd
	// ranges; a normal axis has intervals+2 ticks at most.
	for i := 0; i <= 4*options.intervals+2; i++ {
		tick := first + float64(i)*step
		if tick > last+step/1e6 {
			break
		}
		// Snap float noise such as 3e-17 to an exact zero, so the label
		// reads "0" rather than "3e-17".
		if math.Abs(tick) < step/1e6 {
			tick = 0
		}
		result.ticks = append(result.ticks, tick)
	}
	return result
}

// niceStep rounds raw up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if !(raw > 0) || math.IsInf(raw, 0) {
		return 1
	}
	magnitude := math.Pow(10, math.Floor(math.Log10(raw)))
	switch fraction := raw / magnitude; {
	case fraction <= 1:
		return magnitude
	case fraction <= 2:
		return 2 * magnitude
	case fraction <= 5:
		return 5 * magnitude
	}
	return 10 * magnitude
}
