package harness

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// These tests start real servers and load tools; -short skips them.

// buildServer builds the peer server benchmarks/servers/name into a temp dir
// and returns the binary's path.
func buildServer(t *testing.T, name string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("starts real servers")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not on PATH")
	}
	bin := filepath.Join(t.TempDir(), name)
	out, err := exec.Command(goTool, "build", "-o", bin, "../../servers/"+name).CombinedOutput()
	if err != nil {
		t.Fatalf("go build servers/%s: %v\n%s", name, err, out)
	}
	return bin
}

// idleConns runs IdleConns with 1000 conns against p and checks the result.
func idleConns(t *testing.T, p *Proc) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := IdleConns(ctx, p.Addr, 1000, p)
	if err != nil {
		t.Fatalf("IdleConns: %v\nlog:\n%s", err, p.Log())
	}
	if res.Conns != 1000 || res.RSSBefore <= 0 || res.RSSAfter <= res.RSSBefore || res.PerConn <= 0 {
		t.Fatalf("IdleConns = %+v, want 1000 conns and RSS growing", res)
	}
	t.Logf("%s: %s: RSS %d -> %d, %.0f B/conn", p.Name, res.Cmd, res.RSSBefore, res.RSSAfter, res.PerConn)
}

func TestIdleConnsAgainstNetEcho(t *testing.T) {
	bin := buildServer(t, "netecho")
	p := StartTest(t, Server{Name: "net echo", Kind: "echo", Args: []string{bin, "-addr", "{addr}"}})
	idleConns(t, p)
}

func TestIdleConnsAgainstNetpollEcho(t *testing.T) {
	bin := buildServer(t, "netpoll")
	p := StartTest(t, Server{Name: "netpoll", Kind: "echo", Args: []string{bin, "-addr", "{addr}", "-mode", "echo"}})
	idleConns(t, p)
}

func TestIdleConnsAgainstNetpollHTTP(t *testing.T) {
	bin := buildServer(t, "netpoll")
	p := StartTest(t, Server{Name: "netpoll", Kind: "http", Args: []string{bin, "-addr", "{addr}"}})
	idleConns(t, p)
}

func TestWrkAgainstNetHTTP(t *testing.T) {
	if !Have("wrk") {
		t.Skip("wrk not installed")
	}
	bin := buildServer(t, "nethttp")
	p := StartTest(t, Server{Name: "net/http", Kind: "http", Args: []string{bin, "-addr", "{addr}"}})
	before, err := p.CPU()
	if err != nil {
		t.Fatal(err)
	}
	res, err := Wrk(context.Background(), "http://"+p.Addr+"/plaintext", 1, 8, time.Second, 1)
	if err != nil {
		t.Fatal(err)
	}
	if res.RPS <= 0 || res.Requests <= 0 || res.P50 <= 0 || res.P99 < res.P50 || res.Errors != 0 {
		t.Fatalf("Wrk = %+v", res)
	}
	after, err := p.CPU()
	if err != nil || after <= before {
		t.Fatalf("CPU %v -> %v (%v), want it to grow under load", before, after, err)
	}
	t.Logf("%s: %.0f req/s, p50 %v, p99 %v, server CPU %v", res.Cmd, res.RPS, res.P50, res.P99, after-before)
}

// TestWrkPipelinedAgainstNetpollHTTP checks both the pipeline script and the
// netpoll server's handling of many requests in one read.
func TestWrkPipelinedAgainstNetpollHTTP(t *testing.T) {
	if !Have("wrk") {
		t.Skip("wrk not installed")
	}
	bin := buildServer(t, "netpoll")
	p := StartTest(t, Server{Name: "netpoll", Kind: "http", Args: []string{bin, "-addr", "{addr}"}})
	res, err := Wrk(context.Background(), "http://"+p.Addr+"/plaintext", 1, 8, time.Second, 16)
	if err != nil {
		t.Fatal(err)
	}
	if res.RPS <= 0 || res.Errors != 0 || !strings.Contains(res.Cmd, "-s ") || !strings.HasSuffix(res.Cmd, "-- 16") {
		t.Fatalf("Wrk = %+v", res)
	}
	t.Logf("%s: %.0f req/s", res.Cmd, res.RPS)
}

func TestNginxServesHelloWorldWithWorkers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts nginx")
	}
	s, ok := Nginx(2)
	if !ok {
		t.Skip("nginx not installed")
	}
	p := StartTest(t, s)
	resp, err := http.Get("http://" + p.Addr + "/plaintext")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	if resp.StatusCode != 200 || string(body) != "Hello, World!" {
		t.Fatalf("GET = %d %q", resp.StatusCode, body)
	}
	pids, err := p.Pids()
	if err != nil || len(pids) < 3 {
		t.Fatalf("Pids = %v, %v; want the master and two workers", pids, err)
	}
	if rss, err := p.RSS(); err != nil || rss <= 0 {
		t.Fatalf("RSS = %d, %v", rss, err)
	}
}

func TestRedisBenchmarkAgainstRedisServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-server")
	}
	s, ok := RedisServer()
	if !ok || !Have("redis-benchmark") {
		t.Skip("redis-server or redis-benchmark not installed")
	}
	p := StartTest(t, s)
	res, err := RedisBenchmark(context.Background(), p.Addr, []string{"ping_inline", "set"}, 5000, 10, 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[0].Test != "PING_INLINE" || res[1].Test != "SET" || res[0].RPS <= 0 || res[1].P50 <= 0 {
		t.Fatalf("RedisBenchmark = %+v", res)
	}
	t.Logf("%s: %+v", res[0].Cmd, res)
}

func TestStopIsCleanAndIdempotent(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server")
	}
	p, err := Start(context.Background(), helper("serve"))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(); err != nil {
		t.Fatalf("first Stop: %v", err)
	}
	if err := p.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if _, err := p.CPU(); err == nil {
		t.Fatal("CPU of a stopped server succeeded")
	}
}

func TestStopKillsServerThatIgnoresSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("waits 5 s for SIGTERM to be ignored")
	}
	p, err := Start(context.Background(), helper("ignore-term"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = p.Stop()
	if err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("Stop = %v, want a killed error", err)
	}
	if took := time.Since(start); took < stopTimeout || took > stopTimeout+2*time.Second {
		t.Fatalf("Stop took %v, want about %v", took, stopTimeout)
	}
	if members := groupMembers(p.Pid); len(members) > 0 {
		t.Fatalf("process group %d still has %v", p.Pid, members)
	}
}

func TestStopReportsServerThatDiedEarly(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server")
	}
	p, err := Start(context.Background(), helper("serve"))
	if err != nil {
		t.Fatal(err)
	}
	syscall.Kill(p.Pid, syscall.SIGKILL)
	<-p.exited
	if err := p.Stop(); err == nil || !strings.Contains(err.Error(), "before Stop") {
		t.Fatalf("Stop = %v, want an exited-before-Stop error", err)
	}
}

// TestRedisBenchmarkDrivesAnEchoServerUnderPerf checks that an echoed
// ping_mbulk is a reply redis-benchmark accepts (the runtime section rests on
// it), and that a counted run counts the server's syscalls and context
// switches over the run.
func TestRedisBenchmarkDrivesAnEchoServerUnderPerf(t *testing.T) {
	if !Have("redis-benchmark") {
		t.Skip("redis-benchmark not installed")
	}
	bin := buildServer(t, "netecho")
	p := StartTest(t, Server{Name: "net echo", Kind: "echo", Args: []string{bin, "-addr", "{addr}"}})
	ctx := context.Background()
	res, err := RedisBenchmark(ctx, p.Addr, []string{"ping_mbulk"}, 5000, 16, 4)
	if err != nil || len(res) != 1 || res[0].Test != "PING_MBULK" || res[0].RPS <= 0 {
		t.Fatalf("RedisBenchmark = %+v, %v", res, err)
	}
	if !Have("perf") {
		t.Skip("perf not installed")
	}
	perf := &Perf{Pid: p.Pid, Events: PerfEvents}
	if _, err := perf.RedisBenchmark(ctx, p.Addr, []string{"ping_mbulk"}, 5000, 16, 4); err != nil {
		t.Skipf("perf unavailable here: %v", err)
	}
	sys, ok1 := perf.PerRequest(EventSyscalls, 5000)
	cs, ok2 := perf.PerRequest(EventCtxSwitches, 5000)
	if !ok1 || !ok2 || sys <= 0 || cs <= 0 {
		t.Fatalf("per request: %v syscalls (%v), %v ctx switches (%v); counts %v, why %q", sys, ok1, cs, ok2, perf.Counts, perf.Why)
	}
	t.Logf("%s: %.3f syscalls/req, %.3f ctx switches/req", res[0].Cmd, sys, cs)
}

// TestIdleConnsTLSAgainstNetEchoTLS holds conns that each did a full TLS
// handshake and an echo; a config with a session cache (conns that would
// resume) is refused.
func TestIdleConnsTLSAgainstNetEchoTLS(t *testing.T) {
	bin := buildServer(t, "netecho")
	cert, err := SelfSignedCert(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p := StartTest(t, Server{Name: "net echo", Kind: "echo",
		Args: []string{bin, "-addr", "{addr}", "-tls-cert", cert.CertFile, "-tls-key", cert.KeyFile}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	caching := cert.ClientConfig()
	caching.ClientSessionCache = tls.NewLRUClientSessionCache(1)
	if _, err := IdleConnsTLS(ctx, p.Addr, 10, p, caching); err == nil {
		t.Fatal("IdleConnsTLS took a config with a session cache")
	}
	res, err := IdleConnsTLS(ctx, p.Addr, 500, p, cert.ClientConfig())
	if err != nil {
		t.Fatalf("IdleConnsTLS: %v\nlog:\n%s", err, p.Log())
	}
	// A goroutine per conn with crypto/tls's buffers: several KiB a conn at least.
	if res.Conns != 500 || res.PerConn < 4<<10 || !strings.Contains(res.Cmd, "full TLS handshake") {
		t.Fatalf("IdleConnsTLS = %+v, want 500 conns of several KiB each", res)
	}
	t.Logf("%s: %s: RSS %d -> %d, %.0f B/conn", p.Name, res.Cmd, res.RSSBefore, res.RSSAfter, res.PerConn)
	resumes, err := TLSResumes(ctx, p.Addr, "echo", cert.ClientConfig())
	if err != nil || !resumes {
		t.Fatalf("TLSResumes = %v, %v; want crypto/tls to resume", resumes, err)
	}
}
