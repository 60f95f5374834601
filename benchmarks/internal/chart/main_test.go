package chart

import (
	"testing"

	"github.com/sycamore-go/sycamore/internal/testutil"
)

// TestMain fails the run if a test leaves a goroutine or an fd behind.
func TestMain(m *testing.M) { testutil.VerifyMain(m) }
