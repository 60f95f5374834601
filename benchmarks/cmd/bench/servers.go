package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"github.com/sycamore-go/sycamore/benchmarks/internal/harness"
)

// binaries are the servers the harness builds: name → package.
var binaries = map[string]string{
	"sycamore-http":  "github.com/sycamore-go/sycamore/examples/http",
	"sycamore-redis": "github.com/sycamore-go/sycamore/examples/redis",
	"sycamore-echo":  "github.com/sycamore-go/sycamore/examples/echo",
	"sycamore-dns":   "github.com/sycamore-go/sycamore/examples/dns",
	"nethttp":        "./servers/nethttp",
	"fasthttp":       "./servers/fasthttp",
	"netpoll":        "./servers/netpoll",
	"netecho":        "./servers/netecho",
	"gnet":           "./servers/gnet",
	"nbio":           "./servers/nbio",
	"dns-miekg":      "./servers/dns-miekg",
}

// build compiles every server into dir with one go build, which links them in
// parallel: go build -o dir/ names each binary after its package's last path
// element, renamed here to its name in binaries.
func build(ctx context.Context, dir string) error {
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	rename := map[string]string{}
	for name, pkg := range binaries {
		base := path.Base(pkg)
		if _, dup := rename[base]; dup {
			return fmt.Errorf("build: two packages named %s", base)
		}
		rename[base] = name
		args = append(args, pkg)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s: %w", strings.Join(args, " "), err)
	}
	for base, name := range rename {
		if err := os.Rename(filepath.Join(dir, base), filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("build: %w", err)
		}
	}
	return nil
}

// sycamore returns the server for one of sycamore's examples.
func sycamore(bin, example, kind string, loops int, extra ...string) harness.Server {
	args := append([]string{filepath.Join(bin, "sycamore-"+example), "-addr", "{addr}", "-loops", fmt.Sprint(loops), "-drain", "0s"}, extra...)
	return harness.Server{Name: "sycamore", Kind: kind, Args: args}
}

// peer returns a peer server built by build.
func peer(bin, name, label, kind string, extra ...string) harness.Server {
	return harness.Server{Name: label, Kind: kind, Args: append([]string{filepath.Join(bin, name), "-addr", "{addr}"}, extra...)}
}

// httpServers are the servers of the HTTP section: sycamore first.
func httpServers(cfg config, bin string) []harness.Server {
	s := []harness.Server{
		sycamore(bin, "http", "http", cfg.loops),
		peer(bin, "nethttp", "net/http", "http"),
		peer(bin, "fasthttp", "fasthttp", "http"),
		peer(bin, "netpoll", "netpoll", "http", "-mode", "http"),
		peer(bin, "gnet", "gnet", "http", "-mode", "http", "-loops", fmt.Sprint(cfg.loops)),
		peer(bin, "nbio", "nbhttp", "http", "-mode", "http", "-loops", fmt.Sprint(cfg.loops)),
	}
	if ng, ok := harness.Nginx(cfg.loops); ok && !cfg.quick {
		s = append(s, ng)
	}
	return s
}

// runtimeServers are the echo servers of the runtime section, sycamore first;
// the event-loop runtimes that take a loop count get -loops, as sycamore does
// (netpoll keeps its default, as everywhere in the harness).
func runtimeServers(cfg config, bin string) []harness.Server {
	return []harness.Server{
		sycamore(bin, "echo", "echo", cfg.loops),
		peer(bin, "gnet", "gnet", "echo", "-mode", "echo", "-loops", fmt.Sprint(cfg.loops)),
		peer(bin, "nbio", "nbio", "echo", "-mode", "echo", "-loops", fmt.Sprint(cfg.loops)),
		peer(bin, "netpoll", "netpoll", "echo", "-mode", "echo"),
		peer(bin, "netecho", "net echo", "echo"),
	}
}

// missingTools lists the tools the full run uses that are not installed.
func missingTools() []string {
	var missing []string
	for _, tool := range []string{"wrk", "redis-benchmark", "redis-server", "nginx", "perf", "dnsperf", "nsd"} {
		if _, ok := harness.FindTool(tool); !ok {
			missing = append(missing, tool)
		}
	}
	return missing
}

func splitComma(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
