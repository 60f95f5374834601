module github.com/sycamore-go/sycamore

go 1.25.0

require (
	go.uber.org/atomic v1.12.0
	go.uber.org/goleak v1.3.0
	golang.org/x/sys v0.47.0
)
