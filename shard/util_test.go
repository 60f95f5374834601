package shard

import "runtime"

func runtimeCPUs() int    { return runtime.NumCPU() }
func runtimeGOOS() string { return runtime.GOOS }
