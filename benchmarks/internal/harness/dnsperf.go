package harness

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DnsperfLoad is one dnsperf run: queries read in turn from QueryFile, over
// UDP, to a server on Addr.
type DnsperfLoad struct {
	Addr      string        // the server, host:port
	QueryFile string        // dnsperf's -d: one "NAME TYPE" a line
	Duration  time.Duration // -l, in seconds with a fraction
	Clients   int           // -c: sockets (source ports) the queries come from
	Threads   int           // -T: threads sending and receiving
	// Outstanding (-q) is how many queries may wait for an answer at once:
	// with no MaxQPS the run sends as fast as answers come back, so this
	// and the server's speed set the rate.
	Outstanding int
	MaxQPS      int // -Q: a cap on queries a second; 0 is none
}

// DnsperfResult is what one dnsperf run measured.
type DnsperfResult struct {
	Sent, Completed, Lost int64            // "Queries sent", "completed", "lost"
	Rcodes                map[string]int64 // responses by rcode: "NOERROR", "NXDOMAIN", ...
	QPS                   float64          // "Queries per second": completed over the run time
	Avg, Max              time.Duration    // "Average Latency" and its max
	// P50 and P99 are the percentiles of the latencies dnsperf -v prints for
	// each response (to the microsecond); lost queries have none.
	P50, P99 time.Duration
	Cmd      string // the command line, the query file by its base name
}

// dnsperfGrace is how long past its -l a dnsperf run may take before it is
// killed: dnsperf waits up to its query timeout (-t, 5 s) for the last
// answers, then reports.
const dnsperfGrace = 30 * time.Second

// Dnsperf runs
//
//	dnsperf -s HOST -p PORT -d FILE -l SECONDS -c CLIENTS -T THREADS -q OUTSTANDING [-Q MAXQPS] -v
//
// and returns its statistics, with the median and 99th percentile of the
// latencies that -v prints, a line a response, into a file in a temp dir
// (dnsperf 2.10 has no latency histogram; in a file, the lines cost it no
// throughput that a run can tell from noise). The run is killed if it
// takes 30 s longer than -l.
func Dnsperf(ctx context.Context, l DnsperfLoad) (DnsperfResult, error) {
	host, port, err := net.SplitHostPort(l.Addr)
	if err != nil {
		return DnsperfResult{}, fmt.Errorf("harness: dnsperf address: %w", err)
	}
	args := []string{"-s", host, "-p", port, "-d", l.QueryFile,
		"-l", strconv.FormatFloat(l.Duration.Seconds(), 'f', -1, 64),
		"-c", strconv.Itoa(max(l.Clients, 1)), "-T", strconv.Itoa(max(l.Threads, 1)),
		"-q", strconv.Itoa(max(l.Outstanding, 1))}
	if l.MaxQPS > 0 {
		args = append(args, "-Q", strconv.Itoa(l.MaxQPS))
	}
	args = append(args, "-v")
	shown := slices.Clone(args)
	shown[slices.Index(shown, "-d")+1] = filepath.Base(l.QueryFile)
	cmdline := shellLine(nil, append([]string{"dnsperf"}, shown...))

	dir, err := os.MkdirTemp("", "harness-dnsperf-")
	if err != nil {
		return DnsperfResult{}, fmt.Errorf("harness: %w", err)
	}
	defer os.RemoveAll(dir)
	outPath := filepath.Join(dir, "dnsperf.out")
	out, err := os.Create(outPath)
	if err != nil {
		return DnsperfResult{}, fmt.Errorf("harness: %w", err)
	}
	defer out.Close()
	tail := func() string { return readTail(outPath, logTail) }
	if _, err := runToolInto(ctx, nil, l.Duration+dnsperfGrace, nil, out, tail, append([]string{"dnsperf"}, args...)...); err != nil {
		return DnsperfResult{Cmd: cmdline}, err
	}
	if _, err := out.Seek(0, io.SeekStart); err != nil {
		return DnsperfResult{Cmd: cmdline}, fmt.Errorf("harness: %w", err)
	}
	res, err := parseDnsperf(out)
	res.Cmd = cmdline
	if err != nil {
		return res, fmt.Errorf("%w\n%s", err, tail())
	}
	return res, nil
}

// parseDnsperf reads the output of dnsperf -v: a line for each response,
// "> NOERROR host1.bench.test. A 0.000145" (the latency in seconds), or "> T
// NAME TYPE" for a query that timed out, then the statistics. It needs the
// sent, completed, lost, queries-per-second and average-latency lines.
func parseDnsperf(r io.Reader) (DnsperfResult, error) {
	res := DnsperfResult{Rcodes: map[string]int64{}}
	var micros []int64
	need := map[string]bool{"Queries sent:": false, "Queries completed:": false, "Queries lost:": false,
		"Queries per second:": false, "Average Latency (s):": false}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if f := strings.Fields(line); len(f) == 5 && f[0] == ">" {
			sec, err := strconv.ParseFloat(f[4], 64)
			if err != nil {
				return res, fmt.Errorf("harness: dnsperf: latency in %q: %w", line, err)
			}
			micros = append(micros, int64(sec*1e6+0.5))
			continue
		}
		label, value, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		label += ":"
		if _, wanted := need[label]; wanted {
			need[label] = true
		}
		if err := res.parseStat(label, strings.TrimSpace(value)); err != nil {
			return res, fmt.Errorf("harness: dnsperf: %q: %w", line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return res, fmt.Errorf("harness: dnsperf: %w", err)
	}
	for label, seen := range need {
		if !seen {
			return res, fmt.Errorf("harness: dnsperf: report incomplete: no %q line", label)
		}
	}
	res.P50, res.P99 = percentile(micros, 0.50), percentile(micros, 0.99)
	return res, nil
}

// parseStat sets the figure of one statistics line, label (with its colon)
// and value; it ignores the lines it does not use.
func (res *DnsperfResult) parseStat(label, value string) error {
	first, _, _ := strings.Cut(value, " ")
	var err error
	switch label {
	case "Queries sent:":
		res.Sent, err = strconv.ParseInt(first, 10, 64)
	case "Queries completed:":
		res.Completed, err = strconv.ParseInt(first, 10, 64)
	case "Queries lost:":
		res.Lost, err = strconv.ParseInt(first, 10, 64)
	case "Queries per second:":
		res.QPS, err = strconv.ParseFloat(first, 64)
	case "Average Latency (s):":
		// "0.000629 (min 0.000017, max 0.004682)"
		var avg, minimum, maximum float64
		if _, err = fmt.Sscanf(value, "%g (min %g, max %g)", &avg, &minimum, &maximum); err == nil {
			res.Avg, res.Max = seconds(avg), seconds(maximum)
		}
	case "Response codes:":
		// "NOERROR 372265 (95.00%), NXDOMAIN 19592 (5.00%)"; empty when
		// nothing came back.
		for _, part := range strings.Split(value, ",") {
			f := strings.Fields(part)
			if len(f) < 2 {
				continue
			}
			var n int64
			if n, err = strconv.ParseInt(f[1], 10, 64); err != nil {
				return err
			}
			res.Rcodes[f[0]] = n
		}
	}
	return err
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// percentile returns the nearest-rank q-th percentile of micros (in
// microseconds), 0 when there are none; it sorts micros.
func percentile(micros []int64, q float64) time.Duration {
	if len(micros) == 0 {
		return 0
	}
	slices.Sort(micros)
	rank := int(math.Ceil(float64(len(micros))*q)) - 1
	return time.Duration(micros[min(max(rank, 0), len(micros)-1)]) * time.Microsecond
}
