package poller_test

import (
	"testing"

	"github.com/sycamore-go/sycamore/internal/testutil"
)

// TestMain fails the run on leaked goroutines or fds: every test closes each
// Poller and fd it makes.
func TestMain(m *testing.M) { testutil.VerifyMain(m) }
