package main

import (
	"testing"

	"github.com/sycamore-go/sycamore/benchmarks/servers/internal/peertest"
)

func TestMain(m *testing.M) { peertest.Main(m, main) }

func TestServes(t *testing.T) { peertest.HTTPAndHTTPS(t) }
