//go:build tools

// Package benchmarks keeps the root module required: the harness builds
// sycamore's examples (main packages, which cannot be imported) with go build,
// and that needs the module in go.mod. The tools tag keeps this file out of
// every real build.
package benchmarks

import _ "github.com/sycamore-go/sycamore/shard"
