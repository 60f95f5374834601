package chart

import (
	"math"
	"testing"
)

func TestHumanizeKeepsThreeSignificantDigits(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{0, "0"},
		{1, "1"},
		{7.5, "7.5"},
		{12.345, "12.3"},
		{950, "950"},
		{999.4, "999"},
		{999.7, "1k"}, // rounds up to 1000, so it is promoted a unit.
		{1000, "1k"},
		{1234, "1.23k"},
		{12345, "12.3k"},
		{123456, "123k"},
		{123456.7, "123k"},
		{999999, "1M"},
		{1200000, "1.2M"},
		{2.5e9, "2.5G"},
		{4e12, "4T"},
		{7e15, "7P"},
		{3e18, "3000P"}, // the largest unit keeps all integer digits.
		{1.5e300, "1.5e+285P"},
		{0.5, "0.5"},
		{0.0125, "0.0125"},
		{0.99951, "1"},
		{-1234, "-1.23k"},
		{-0.25, "-0.25"},
		{math.NaN(), "n/a"},
		{math.Inf(1), "inf"},
		{math.Inf(-1), "-inf"},
	}
	for _, test := range tests {
		if got := Humanize(test.in); got != test.want {
			t.Errorf("Humanize(%v) = %q, want %q", test.in, got, test.want)
		}
	}
}

func TestHumanBytesUsesBinaryUnits(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{0, "0 B"},
		{1, "1 B"},
		{12.5, "12.5 B"},
		{256, "256 B"},
		{1000, "1000 B"}, // below 1024, so still bytes.
		{1023, "1023 B"},
		{1024, "1 KiB"},
		{1536, "1.5 KiB"},
		{10 * 1024, "10 KiB"},
		{1023.9 * 1024, "1 MiB"}, // rounds to 1024 KiB, so it is promoted.
		{3 << 20, "3 MiB"},
		{1.25 * (1 << 30), "1.25 GiB"},
		{-1536, "-1.5 KiB"},
		{math.NaN(), "n/a"},
		{math.Inf(1), "inf"},
	}
	for _, test := range tests {
		if got := HumanBytes(test.in); got != test.want {
			t.Errorf("HumanBytes(%v) = %q, want %q", test.in, got, test.want)
		}
	}
}

func BenchmarkHumanize(b *testing.B) {
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		Humanize(float64(i) * 1234.5)
	}
}
