#!/bin/bash
# ab.sh: a quick side-by-side of HTTPS servers by hand (RESULTS.md quotes it).
# Each BIN is a server binary taking -addr, -tls-cert and -tls-key (examples/http,
# benchmarks/servers/nethttp); cert.pem and key.pem are in the current directory.
# Three rounds, the servers taking turns; for each run: wrk warmed once, then the
# server's requests per second, requests per CPU-second (utime+stime from
# /proc/PID/stat) and context switches per request (summed over its threads).
#
#   WRKARGS="-t1 -c64 -d4s" CLOSE=1 ./ab.sh http.old http.new
#
# CLOSE=1 adds -H 'Connection: close' (a new conn, and handshake, per request).
HDR=(); [ -n "$CLOSE" ] && HDR=(-H "Connection: close")
URL=https://127.0.0.1:18443/plaintext
cs() { local s=0 v f; for f in /proc/$1/task/*/status; do v=$(awk '/ctxt_switches/{s+=$2} END{print s}' "$f" 2>/dev/null); s=$((s+${v:-0})); done; echo $s; }
cpu() { awk '{print $14+$15}' /proc/$1/stat; }
for round in 1 2 3; do
	for b in "$@"; do
		./"$b" -addr 127.0.0.1:18443 -tls-cert cert.pem -tls-key key.pem 2>/dev/null &
		P=$!
		sleep 0.4
		wrk $WRKARGS "${HDR[@]}" $URL >/dev/null 2>&1
		c0=$(cs $P); u0=$(cpu $P)
		out=$(wrk $WRKARGS "${HDR[@]}" $URL 2>&1)
		c1=$(cs $P); u1=$(cpu $P)
		req=$(echo "$out" | awk '/requests in/{print $1}')
		rps=$(echo "$out" | awk '/Requests\/sec/{print $2}')
		echo "$b round $round: req/s $rps  req/cpu-s $((req * 100 / (u1 - u0 + 1)))  cs/req $(echo "scale=3; ($c1-$c0)/$req" | bc)"
		kill $P; wait $P 2>/dev/null
	done
done
