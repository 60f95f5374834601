package harness

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// dnsperfOutput is dnsperf 2.10's -v output of a short run: four responses,
// one timeout, then the statistics.
const dnsperfOutput = `DNS Performance Testing Tool
Version 2.10.0

[Status] Command line: dnsperf -s 127.0.0.1 -p 5399 -d q.txt -n 1 -v
[Status] Sending queries (to 127.0.0.1:5399)
[Status] Started at: Sat Dec  5 05:22:14 2026
[Status] Stopping after 1 run through file
> NOERROR host1.bench.test. A 0.000145
> NOERROR host1.bench.test. AAAA 0.000045
> NXDOMAIN nope.bench.test. A 0.000053
> NOERROR host0.bench.test. AAAA 0.000075
> T host2.bench.test. A
[Status] Testing complete (end of file)

Statistics:

  Queries sent:         5
  Queries completed:    4 (80.00%)
  Queries lost:         1 (20.00%)

  Response codes:       NOERROR 3 (75.00%), NXDOMAIN 1 (25.00%)
  Average packet size:  request 33, response 70
  Run time (s):         0.001372
  Queries per second:   2915.451895

  Average Latency (s):  0.000079 (min 0.000045, max 0.000145)
  Latency StdDev (s):   0.000045

`

func TestParseDnsperfTakesStatisticsAndPercentilesOfTheResponseLines(t *testing.T) {
	res, err := parseDnsperf(strings.NewReader(dnsperfOutput))
	if err != nil {
		t.Fatal(err)
	}
	want := DnsperfResult{Sent: 5, Completed: 4, Lost: 1, Rcodes: map[string]int64{"NOERROR": 3, "NXDOMAIN": 1},
		QPS: 2915.451895, Avg: 79 * time.Microsecond, Max: 145 * time.Microsecond,
		P50: 53 * time.Microsecond, P99: 145 * time.Microsecond}
	if !reflect.DeepEqual(res, want) {
		t.Errorf("parseDnsperf = %+v\nwant %+v", res, want)
	}
}

// A run where nothing came back has an empty response-codes line and no
// latencies: zeros, not an error.
func TestParseDnsperfOfARunWithNoAnswers(t *testing.T) {
	out := `  Queries sent:         100
  Queries completed:    0 (0.00%)
  Queries lost:         100 (100.00%)

  Response codes:       
  Queries per second:   0.000000

  Average Latency (s):  0.000000 (min 0.000000, max 0.000000)
`
	res, err := parseDnsperf(strings.NewReader(out))
	if err != nil || res.Lost != 100 || len(res.Rcodes) != 0 || res.P99 != 0 {
		t.Fatalf("parseDnsperf = %+v, %v; want 100 lost, no rcodes, no latency", res, err)
	}
}

func TestParseDnsperfOfATruncatedReportFails(t *testing.T) {
	cut := dnsperfOutput[:strings.Index(dnsperfOutput, "  Queries per second")]
	if _, err := parseDnsperf(strings.NewReader(cut)); err == nil || !strings.Contains(err.Error(), "Queries per second") {
		t.Fatalf("parseDnsperf of a report without its qps line = %v, want an error naming it", err)
	}
}

func TestPercentileIsNearestRank(t *testing.T) {
	micros := make([]int64, 200)
	for i := range micros {
		micros[i] = int64(200 - i) // 200 down to 1
	}
	if got := percentile(micros, 0.99); got != 198*time.Microsecond {
		t.Errorf("p99 of 1..200 µs = %v, want 198µs", got)
	}
	if got := percentile(micros, 0.50); got != 100*time.Microsecond {
		t.Errorf("p50 of 1..200 µs = %v, want 100µs", got)
	}
	if got := percentile(nil, 0.99); got != 0 {
		t.Errorf("p99 of nothing = %v, want 0", got)
	}
}
