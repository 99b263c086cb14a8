package sqlstore_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run when a test leaves a goroutine behind: the
// tests start engines, dispatchers and pools, and every one of them
// must be stopped or closed by the end.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
