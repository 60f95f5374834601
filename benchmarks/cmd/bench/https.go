package main

import (
	"context"
	"fmt"
	"math"
	"os"

	"github.com/sycamore-go/sycamore/benchmarks/internal/harness"
)

// httpsConns is wrk's -c in the https section.
const httpsConns = 64

// httpsLoad is one wrk load of the https section.
type httpsLoad struct {
	name    string
	threads int
	close   bool // -H 'Connection: close': a conn, and a handshake, per request
	full    bool // TLS 1.2 without tickets (harness.OpenSSLFullHandshakes): no resumption
}

// httpsLoads are the loads of the https section: keep-alive at wrk's -t and
// at -t1, the same with Connection: close (wrk reconnects after every
// response, resuming its TLS 1.3 session), and Connection: close with full
// handshakes at -t. Quick mode runs Connection: close at -t only, the load
// that exercises both a handshake and a request.
func httpsLoads(cfg config) []httpsLoad {
	if cfg.quick {
		return []httpsLoad{{name: "Connection: close (TLS 1.3 resumed)", threads: cfg.threads, close: true}}
	}
	loads := []httpsLoad{{name: "keep-alive", threads: cfg.threads}}
	if cfg.threads != 1 {
		loads = append(loads, httpsLoad{name: "keep-alive wrk -t1", threads: 1})
	}
	loads = append(loads, httpsLoad{name: "Connection: close (TLS 1.3 resumed)", threads: cfg.threads, close: true})
	if cfg.threads != 1 {
		loads = append(loads, httpsLoad{name: "Connection: close (TLS 1.3 resumed) wrk -t1", threads: 1, close: true})
	}
	return append(loads, httpsLoad{name: "Connection: close (TLS 1.2 full handshake)", threads: cfg.threads, close: true, full: true})
}

// wrkLoad is l as wrk runs it against url; fullEnv points OpenSSL at
// harness.OpenSSLFullHandshakes.
func (l httpsLoad) wrkLoad(cfg config, url, fullEnv string) harness.WrkLoad {
	w := harness.WrkLoad{URL: url, Threads: l.threads, Conns: httpsConns, Duration: cfg.httpsDuration, Pipeline: 1}
	if l.close {
		w.Headers = []string{"Connection: close"}
	}
	if l.full {
		w.Env = []string{fullEnv}
	}
	return w
}

// httpsServers are the HTTPS servers, sycamore first, each serving cert.
func httpsServers(cfg config, bin string, cert harness.Cert) []harness.Server {
	tls := []string{"-tls-cert", cert.CertFile, "-tls-key", cert.KeyFile}
	return []harness.Server{
		sycamore(bin, "http", "http", cfg.loops, tls...),
		peer(bin, "nethttp", "net/http", "http", tls...),
		peer(bin, "fasthttp", "fasthttp", "http", tls...),
		peer(bin, "nbio", "nbhttp", "http", append([]string{"-mode", "http", "-loops", fmt.Sprint(cfg.loops)}, tls...)...),
	}
}

// tlsEchoServers are the echo servers that speak TLS, sycamore first.
func tlsEchoServers(cfg config, bin string, cert harness.Cert) []harness.Server {
	tls := []string{"-tls-cert", cert.CertFile, "-tls-key", cert.KeyFile}
	return []harness.Server{
		sycamore(bin, "echo", "echo", cfg.loops, tls...),
		peer(bin, "netecho", "net echo", "echo", tls...),
	}
}

// runHTTPS measures the HTTPS servers under wrk (keep-alive, and a conn per
// request), then the RSS an idle TLS conn costs them and the TLS echo servers.
// Every server uses one throwaway ECDSA P-256 certificate, made here.
func runHTTPS(ctx context.Context, cfg config, bin string, rep *report) error {
	dir, err := os.MkdirTemp("", "sycamore-bench-tls-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cert, err := harness.SelfSignedCert(dir)
	if err != nil {
		return err
	}
	fullEnv, err := harness.WriteOpenSSLFullHandshakes(dir)
	if err != nil {
		return err
	}
	if !harness.Have("wrk") {
		rep.skip("https", "wrk is not installed (apt-get install wrk)")
	} else if err := runHTTPSLoads(ctx, cfg, bin, rep, cert, fullEnv); err != nil {
		return err
	}
	return runTLSIdle(ctx, cfg, bin, rep, cert)
}

func runHTTPSLoads(ctx context.Context, cfg config, bin string, rep *report, cert harness.Cert, fullEnv string) error {
	loads := httpsLoads(cfg)
	servers := httpsServers(cfg, bin, cert)
	return each(ctx, cfg.rounds, servers, rep, "https", func(s harness.Server, p *harness.Proc, first bool) error {
		url := "https://" + p.Addr + "/plaintext"
		resumes := nan
		if first {
			ok, err := harness.TLSResumes(ctx, p.Addr, "http", cert.ClientConfig("http/1.1"))
			if err != nil {
				return err
			}
			resumes = b2f(ok)
		}
		if cfg.warmup > 0 {
			warm := httpsLoad{threads: cfg.threads}.wrkLoad(cfg, url, fullEnv)
			warm.Duration = cfg.warmup
			if _, err := harness.RunWrk(ctx, warm); err != nil {
				return fmt.Errorf("warm-up: %w", err)
			}
		}
		for _, load := range loads {
			// Syscalls and context switches are counted once per server; in
			// quick mode for sycamore only, as a counted run costs a second.
			count := first && (!cfg.quick || s.Name == "sycamore")
			smp, err := measureLoad(ctx, rep, p, load.wrkLoad(cfg, url, fullEnv), count)
			if err != nil {
				return err
			}
			smp.Resumes = resumes
			if load.close && smp.NewConns < 0.9 {
				rep.warn(fmt.Sprintf("https %s: %s: %.2f new conns per request, want 1: wrk did not reconnect after every response",
					load.name, s.Name, smp.NewConns))
			}
			rep.add("https", load.name, s.Name, smp)
		}
		return nil
	})
}

// runTLSIdle measures the RSS an idle TLS conn costs each HTTPS server (after
// a full handshake and one GET) and each TLS echo server (after a full
// handshake and a 16-byte echo).
func runTLSIdle(ctx context.Context, cfg config, bin string, rep *report, cert harness.Cert) error {
	for _, set := range []struct {
		load    string
		servers []harness.Server
		alpn    []string
	}{
		{fmt.Sprintf("%d idle TLS conns, HTTPS (a GET each)", cfg.idleTLS), httpsServers(cfg, bin, cert), []string{"http/1.1"}},
		{fmt.Sprintf("%d idle TLS conns, echo (16 bytes each)", cfg.idleTLS), tlsEchoServers(cfg, bin, cert), nil},
	} {
		err := each(ctx, cfg.rounds, set.servers, rep, "tls idle", func(s harness.Server, p *harness.Proc, _ bool) error {
			res, err := harness.IdleConnsTLS(ctx, p.Addr, cfg.idleTLS, p, cert.ClientConfig(set.alpn...))
			if err != nil {
				return err
			}
			rep.add("tls idle", set.load, s.Name, idleSample(res))
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// yesNo shows a Resumes figure.
func yesNo(v float64) string {
	switch {
	case math.IsNaN(v):
		return "n/a"
	case v >= 0.5:
		return "yes"
	}
	return "no"
}
