package harness

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// WrkResult is what one wrk run measured.
type WrkResult struct {
	RPS      float64       // Requests/sec
	P50, P99 time.Duration // from --latency's distribution
	Requests int64         // total completed
	Errors   int64         // socket errors (connect, read, write, timeout) + non-2xx/3xx responses
	Cmd      string        // the exact command line run
}

// pipelineScript is the standard wrk pipelining script (as TechEmpower and
// wrk's own scripts/pipeline.lua use it): init builds one string holding the
// request depth times, and every request() sends all of them in one write.
// wrk still counts and times each response, so RPS stays per request.
const pipelineScript = `-- pipeline.lua: send args[1] requests per write.
init = function(args)
   local depth = tonumber(args[1]) or 1
   local r = {}
   for i = 1, depth do
      r[i] = wrk.format()
   end
   req = table.concat(r)
end

request = function()
   return req
end
`

// wrkGrace is how long past its -d duration a wrk run may take (connecting,
// warm-up, the final report) before it is killed.
const wrkGrace = 30 * time.Second

// WrkLoad is one wrk run.
type WrkLoad struct {
	URL            string
	Threads, Conns int
	Duration       time.Duration // rounded up to whole seconds (wrk's unit)
	Pipeline       int           // requests per write; 1 (or less) sends one at a time
	Headers        []string      // extra request headers, "Name: value" (wrk -H)
	// Env is extra environment for wrk ("KEY=value"), such as an OPENSSL_CONF
	// that shapes its TLS client; the command line quotes it.
	Env []string
}

// Wrk runs `wrk -t threads -c conns -d dur --latency [-s pipeline.lua] url
// [-- pipeline]`. With pipeline > 1 it writes the pipelining script to a temp
// file and sends pipeline requests per write; wrk then counts each response,
// so RPS is per request, not per batch. dur is rounded up to whole seconds
// (wrk's unit); the run is killed if it takes 30 s longer than that.
func Wrk(ctx context.Context, url string, threads, conns int, dur time.Duration, pipeline int) (WrkResult, error) {
	return RunWrk(ctx, WrkLoad{URL: url, Threads: threads, Conns: conns, Duration: dur, Pipeline: pipeline})
}

// RunWrk is Wrk with the whole of a WrkLoad: extra headers (-H) and
// environment as well.
func RunWrk(ctx context.Context, l WrkLoad) (WrkResult, error) {
	return wrk(ctx, nil, l)
}

// Wrk is Wrk run under perf stat: p.Counts holds the server's counts for the
// run, to divide by WrkResult.Requests.
func (p *Perf) Wrk(ctx context.Context, url string, threads, conns int, dur time.Duration, pipeline int) (WrkResult, error) {
	return p.RunWrk(ctx, WrkLoad{URL: url, Threads: threads, Conns: conns, Duration: dur, Pipeline: pipeline})
}

// RunWrk is RunWrk under perf stat, as (*Perf).Wrk is Wrk.
func (p *Perf) RunWrk(ctx context.Context, l WrkLoad) (WrkResult, error) {
	return wrk(ctx, p, l)
}

// wrkArgs returns wrk's arguments for l, with the pipelining script at
// script (used when l.Pipeline > 1).
func wrkArgs(l WrkLoad, script string) []string {
	secs := int((l.Duration + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	args := []string{
		"-t", strconv.Itoa(l.Threads), "-c", strconv.Itoa(l.Conns),
		"-d", strconv.Itoa(secs) + "s", "--latency",
	}
	for _, h := range l.Headers {
		args = append(args, "-H", h)
	}
	if l.Pipeline > 1 {
		return append(args, "-s", script, l.URL, "--", strconv.Itoa(l.Pipeline))
	}
	return append(args, l.URL)
}

// shellLine joins env and argv into a command line a shell would run as
// they are: words with spaces or quotes in them are single-quoted.
func shellLine(env, argv []string) string {
	words := make([]string, 0, len(env)+len(argv))
	for _, w := range append(append([]string(nil), env...), argv...) {
		if w == "" || strings.ContainsAny(w, " \t'\"$\\;&|<>*?()") {
			w = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
		}
		words = append(words, w)
	}
	return strings.Join(words, " ")
}

func wrk(ctx context.Context, perf *Perf, l WrkLoad) (WrkResult, error) {
	var script string
	if l.Pipeline > 1 {
		dir, err := os.MkdirTemp("", "harness-wrk-")
		if err != nil {
			return WrkResult{}, fmt.Errorf("harness: %w", err)
		}
		defer os.RemoveAll(dir)
		script = filepath.Join(dir, "pipeline.lua")
		if err := os.WriteFile(script, []byte(pipelineScript), 0o644); err != nil {
			return WrkResult{}, fmt.Errorf("harness: %w", err)
		}
	}
	args := wrkArgs(l, script)
	cmdline := shellLine(l.Env, append([]string{"wrk"}, args...))
	secs := int((l.Duration + time.Second - 1) / time.Second)

	out, errOut, err := runToolEnv(ctx, perf, time.Duration(max(secs, 1))*time.Second+wrkGrace, l.Env, append([]string{"wrk"}, args...)...)
	if err != nil {
		return WrkResult{Cmd: cmdline}, err
	}
	res, err := parseWrk(out)
	res.Cmd = cmdline
	if err != nil {
		return res, fmt.Errorf("%w\n%s%s", err, out, errOut)
	}
	return res, nil
}

// parseWrk parses the report of `wrk --latency`. It needs the Requests/sec
// line, the request count and the 50% and 99% latency lines; the error lines
// appear only when there were errors.
func parseWrk(out string) (WrkResult, error) {
	var r WrkResult
	var haveRPS, haveCount, haveP50, haveP99 bool
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 2 && f[0] == "Requests/sec:":
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return r, fmt.Errorf("harness: wrk: Requests/sec %q: %w", f[1], err)
			}
			r.RPS, haveRPS = v, true
		case len(f) >= 2 && f[1] == "requests" && len(f) >= 4 && f[2] == "in":
			// "253580 requests in 2.00s, 31.44MB read"
			v, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return r, fmt.Errorf("harness: wrk: request count %q: %w", f[0], err)
			}
			r.Requests, haveCount = v, true
		case len(f) == 2 && (f[0] == "50%" || f[0] == "99%"):
			d, err := parseWrkDuration(f[1])
			if err != nil {
				return r, err
			}
			if f[0] == "50%" {
				r.P50, haveP50 = d, true
			} else {
				r.P99, haveP99 = d, true
			}
		case len(f) > 2 && f[0] == "Socket" && f[1] == "errors:":
			// "Socket errors: connect 0, read 12, write 0, timeout 3"
			for i := 2; i+1 < len(f); i += 2 {
				v, err := strconv.ParseInt(strings.TrimSuffix(f[i+1], ","), 10, 64)
				if err != nil {
					return r, fmt.Errorf("harness: wrk: socket errors %q: %w", sc.Text(), err)
				}
				r.Errors += v
			}
		case strings.HasPrefix(strings.TrimSpace(sc.Text()), "Non-2xx or 3xx responses:"):
			v, err := strconv.ParseInt(f[len(f)-1], 10, 64)
			if err != nil {
				return r, fmt.Errorf("harness: wrk: non-2xx count %q: %w", sc.Text(), err)
			}
			r.Errors += v
		}
	}
	if !haveRPS || !haveCount || !haveP50 || !haveP99 {
		return r, fmt.Errorf("harness: wrk: report incomplete (Requests/sec %v, request count %v, 50%% %v, 99%% %v)",
			haveRPS, haveCount, haveP50, haveP99)
	}
	return r, nil
}

// parseWrkDuration parses wrk's latency format: a number followed by us, ms,
// s, m or h (wrk's format_time_us picks the unit).
func parseWrkDuration(s string) (time.Duration, error) {
	units := []struct {
		suffix string
		unit   time.Duration
	}{
		// "us" and "ms" before "s", so that "ms" is not read as "m" + "s".
		{"us", time.Microsecond}, {"ms", time.Millisecond},
		{"s", time.Second}, {"m", time.Minute}, {"h", time.Hour},
	}
	for _, u := range units {
		num, ok := strings.CutSuffix(s, u.suffix)
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return 0, fmt.Errorf("harness: wrk: latency %q: %w", s, err)
		}
		return time.Duration(v * float64(u.unit)), nil
	}
	return 0, fmt.Errorf("harness: wrk: latency %q has no unit", s)
}
