package harness

import (
	"reflect"
	"testing"
	"time"
)

// A real `redis-benchmark -t ping_inline,set,get -n 20000 -c 50 -P 16 --csv -q`
// report (redis-benchmark 7.0.15).
const sampleRedisCSV = `"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
"PING_INLINE","666666.69","0.846","0.264","0.831","1.455","1.751","1.903"
"SET","588235.25","0.939","0.160","0.871","1.631","3.999","4.127"
"GET","540540.56","0.923","0.240","0.855","1.575","2.759","2.903"
`

func TestParseRedisCSVReadsEveryTest(t *testing.T) {
	got, err := parseRedisCSV(sampleRedisCSV)
	if err != nil {
		t.Fatal(err)
	}
	want := []RedisResult{
		{Test: "PING_INLINE", RPS: 666666.69, P50: 831 * time.Microsecond},
		{Test: "SET", RPS: 588235.25, P50: 871 * time.Microsecond},
		{Test: "GET", RPS: 540540.56, P50: 855 * time.Microsecond},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("parseRedisCSV = %+v, want %+v", got, want)
	}
}

func TestParseRedisCSVFindsColumnsByName(t *testing.T) {
	out := "\"p50_latency_ms\",\"test\",\"rps\"\n\"0.5\",\"SET\",\"1000\"\n"
	got, err := parseRedisCSV(out)
	if err != nil {
		t.Fatal(err)
	}
	want := []RedisResult{{Test: "SET", RPS: 1000, P50: 500 * time.Microsecond}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("parseRedisCSV = %+v, want %+v", got, want)
	}
}

func TestParseRedisCSVRejectsHeaderOnlyAndOldFormat(t *testing.T) {
	for _, out := range []string{
		`"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms"` + "\n",
		// redis-benchmark 5 and 6 print no header and no latency columns.
		`"SET","588235.25"` + "\n" + `"GET","540540.56"` + "\n",
	} {
		if _, err := parseRedisCSV(out); err == nil {
			t.Errorf("parseRedisCSV(%q) succeeded, want an error", out)
		}
	}
}
