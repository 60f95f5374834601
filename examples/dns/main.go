// Command dns is an authoritative DNS server for one zone, read from a master
// file. This main only loads the zone and reports it; the UDP server on
// sycamore's loops replaces it.
//
//	go run ./examples/dns -zone examples/dns/testdata/example.zone
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	zonePath := flag.String("zone", "", "the zone's master file (BIND and NSD format)")
	flag.Parse()
	if *zonePath == "" {
		fmt.Fprintln(os.Stderr, "dns: -zone FILE is required")
		os.Exit(2)
	}
	z, err := loadZone(*zonePath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dns:", err)
		os.Exit(1)
	}
	fmt.Printf("zone OK: %d records\n", z.records)
}
