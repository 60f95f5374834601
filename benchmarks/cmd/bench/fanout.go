package main

import (
	"context"
	"fmt"
	"strconv"

	"github.com/sycamore-go/sycamore/benchmarks/internal/fanout"
	"github.com/sycamore-go/sycamore/benchmarks/internal/harness"
)

// pubsubLimit is what a subscriber may owe before the server disconnects it:
// 1 MiB, Redis's `client-output-buffer-limit pubsub 1mb 0 0`.
const pubsubLimit = 1 << 20

// fanoutLoad is one load of the fanout section.
type fanoutLoad struct {
	name string
	load fanout.Load
}

// fanoutLoads are the section's loads, -pipeline PUBLISH commands a write.
func fanoutLoads(cfg config) []fanoutLoad {
	return []fanoutLoad{
		{"slow subscribers (10 reading, 20 not reading)",
			fanout.Load{Readers: 10, Stalled: 20, Publishers: 4, Depth: cfg.depth, Duration: cfg.fanoutDuration}},
		{"1,000 subscribers",
			fanout.Load{Readers: 1000, Publishers: 2, Depth: cfg.depth, Duration: cfg.fanoutDuration}},
	}
}

// fanoutServers are sycamore's redis example, with the resp section's loops,
// and redis-server where it is installed, both with the 1 MiB limit.
func fanoutServers(bin string) []harness.Server {
	servers := []harness.Server{sycamore(bin, "redis", "resp", respLoops, "-pubsub-limit", strconv.Itoa(pubsubLimit))}
	if rs, ok := harness.RedisServer(); ok {
		rs.Args = append(rs.Args, "--client-output-buffer-limit", fmt.Sprintf("pubsub %d 0 0", pubsubLimit))
		servers = append(servers, rs)
	}
	return servers
}

// runFanout runs the fanout section: PUBLISH to one channel that many conns
// SUBSCRIBE to, sycamore's redis example against redis-server, each
// disconnecting a subscriber that owes more than pubsubLimit (sycamore's
// -pubsub-limit; redis-server's hard pubsub client-output-buffer-limit, with
// no soft limit). Publishers pipeline 64-byte messages that name their
// publisher and sequence number for -fanout-duration; every reading
// subscriber must then have every message of every publisher, in order, or
// the section fails.
//
//   - slow subscribers: 10 reading and 20 non-reading subscribers, 4
//     publishers. Every non-reading subscriber must have been disconnected
//     (found after the load: read until EOF or a reset; nothing for 2 s is
//     still connected), or the section fails.
//   - 1,000 subscribers: 1,000 reading subscribers, 2 publishers.
//
// publishes/s is PUBLISH replies over the publishing time; delivered/s is
// the messages all reading subscribers received over the time until the last
// of them had every one; per CPU-s divides by the server's utime+stime over
// both (from /proc/PID/stat); peak RSS is the server's VmHWM at the end.
// Every load runs on a server started for it, so that its peak RSS is the
// load's own.
//
// The subscribers and publishers are goroutines of this process, on the same
// cores as the server (two, on the machine of the published results), so
// delivered/s is bounded by how fast the clients read as well as by how fast
// the server writes.
func runFanout(ctx context.Context, cfg config, bin string, rep *report) error {
	servers := fanoutServers(bin)
	for _, l := range fanoutLoads(cfg) {
		err := each(ctx, cfg.rounds, servers, rep, "fanout", func(s harness.Server, p *harness.Proc, _ bool) error {
			smp, err := measureFanout(ctx, s, p, l.load)
			if err != nil {
				return fmt.Errorf("%s: %w", l.name, err)
			}
			rep.add("fanout", l.name, s.Name, smp)
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// measureFanout subscribes the load's subscribers to p, takes the server's
// CPU time around the publishing and the delivery, then checks that every
// non-reading subscriber was disconnected, and reads the peak RSS last.
func measureFanout(ctx context.Context, s harness.Server, p *harness.Proc, load fanout.Load) (sample, error) {
	load.Addr = p.Addr
	run, err := fanout.Subscribe(ctx, load)
	if err != nil {
		return sample{}, err
	}
	defer run.Close()
	var res fanout.Result
	cpu, err := during(p, func() (err error) {
		res, err = run.Publish(ctx)
		return err
	})
	if err != nil {
		return sample{}, err
	}
	disconnected := nan
	if load.Stalled > 0 {
		gone, err := run.Disconnected(ctx)
		if err != nil {
			return sample{}, err
		}
		disconnected = float64(gone)
	}
	peak, err := p.PeakRSS()
	if err != nil {
		return sample{}, err
	}
	smp := nanSample()
	smp.RPS, smp.CPU, smp.ReqPerCPU, smp.RSS = res.PublishesPerSecond(), cpu, perCPU(float64(res.Published), cpu), float64(peak)
	smp.Fanout = &fanoutFigures{
		Delivered:       res.DeliveredPerSecond(),
		DeliveredPerCPU: perCPU(float64(res.Delivered), cpu),
		Disconnected:    disconnected,
	}
	smp.Cmd = fmt.Sprintf("fanout client (internal/fanout): %s; server: %s", load, s.Line())
	return smp, nil
}
