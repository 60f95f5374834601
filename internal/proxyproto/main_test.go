package proxyproto

import (
	"testing"

	"github.com/sycamore-go/sycamore/internal/testutil"
)

// TestMain fails the run on leaked goroutines or fds.
func TestMain(m *testing.M) { testutil.VerifyMain(m) }
