module github.com/sycamore-go/sycamore

go 1.25.0

require (
	github.com/panjf2000/ants/v2 v2.12.1
	go.uber.org/atomic v1.12.0
	go.uber.org/goleak v1.3.0
	golang.org/x/sys v0.47.0
)

require golang.org/x/sync v0.11.0 // indirect
