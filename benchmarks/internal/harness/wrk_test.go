package harness

import (
	"strings"
	"testing"
	"time"
)

// A real `wrk -t2 -c64 -d2s --latency` report (net/http on this machine).
const sampleWrk = `Running 2s test @ http://127.0.0.1:18080/plaintext
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.30ms    1.62ms  12.39ms   86.49%
    Req/Sec    36.33k     6.32k   64.06k    87.80%
  Latency Distribution
     50%  665.00us
     75%    1.70ms
     90%    3.52ms
     99%    7.52ms
  148413 requests in 2.10s, 18.68MB read
Requests/sec:  70655.87
Transfer/sec:      8.89MB
`

func TestParseWrkReadsRateCountAndPercentiles(t *testing.T) {
	r, err := parseWrk(sampleWrk)
	if err != nil {
		t.Fatal(err)
	}
	want := WrkResult{RPS: 70655.87, P50: 665 * time.Microsecond, P99: 7520 * time.Microsecond, Requests: 148413}
	if r != want {
		t.Fatalf("parseWrk = %+v, want %+v", r, want)
	}
}

func TestParseWrkSumsSocketErrorsAndNon2xx(t *testing.T) {
	out := strings.Replace(sampleWrk, "Requests/sec:",
		"  Socket errors: connect 1, read 20, write 3, timeout 400\n  Non-2xx or 3xx responses: 5000\nRequests/sec:", 1)
	r, err := parseWrk(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.Errors != 1+20+3+400+5000 {
		t.Fatalf("Errors = %d, want %d", r.Errors, 1+20+3+400+5000)
	}
}

func TestParseWrkRejectsReportWithoutLatencyDistribution(t *testing.T) {
	out := strings.Replace(sampleWrk, "     50%  665.00us\n", "", 1)
	if _, err := parseWrk(out); err == nil {
		t.Fatal("parseWrk accepted a report without the 50% line")
	}
}

func TestParseWrkRejectsFailedRun(t *testing.T) {
	if _, err := parseWrk("unable to connect to 127.0.0.1:1 Connection refused\n"); err == nil {
		t.Fatal("parseWrk accepted a failed run")
	}
}

func TestParseWrkDurationUnits(t *testing.T) {
	cases := map[string]time.Duration{
		"665.00us": 665 * time.Microsecond,
		"1.70ms":   1700 * time.Microsecond,
		"2.00s":    2 * time.Second,
		"1.50m":    90 * time.Second,
		"1.00h":    time.Hour,
	}
	for in, want := range cases {
		got, err := parseWrkDuration(in)
		if err != nil || got != want {
			t.Errorf("parseWrkDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := parseWrkDuration("12"); err == nil {
		t.Error("parseWrkDuration accepted a number without a unit")
	}
}

func TestWrkArgsAddHeadersBeforeTheURL(t *testing.T) {
	got := strings.Join(wrkArgs(WrkLoad{URL: "https://127.0.0.1:1/plaintext", Threads: 2, Conns: 64, Duration: 1500 * time.Millisecond,
		Headers: []string{"Connection: close"}}, ""), "|")
	want := "-t|2|-c|64|-d|2s|--latency|-H|Connection: close|https://127.0.0.1:1/plaintext"
	if got != want {
		t.Errorf("wrkArgs = %s, want %s", got, want)
	}
	got = strings.Join(wrkArgs(WrkLoad{URL: "http://a/", Threads: 1, Conns: 8, Pipeline: 16}, "/tmp/p.lua"), "|")
	want = "-t|1|-c|8|-d|1s|--latency|-s|/tmp/p.lua|http://a/|--|16"
	if got != want {
		t.Errorf("wrkArgs pipelined = %s, want %s", got, want)
	}
}

func TestShellLineQuotesWordsWithSpacesAndQuotes(t *testing.T) {
	got := shellLine([]string{"OPENSSL_CONF=/tmp/x.cnf"}, []string{"wrk", "-H", "Connection: close", "it's", "https://a/"})
	want := `OPENSSL_CONF=/tmp/x.cnf wrk -H 'Connection: close' 'it'\''s' https://a/`
	if got != want {
		t.Errorf("shellLine = %s, want %s", got, want)
	}
}
