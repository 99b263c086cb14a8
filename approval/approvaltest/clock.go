package approvaltest

import (
	"sync"
	"time"

	"github.com/otpki/workitems/approval"
)

// FakeClock is an [approval.Clock] that moves only when a test moves
// it, so times in assertions are exact and nothing sleeps. It is safe
// for concurrent use. The zero value reads the zero time; most tests
// want [NewFakeClock].
type FakeClock struct {
	mu  sync.Mutex
	now time.Time
}

var _ approval.Clock = (*FakeClock)(nil)

// NewFakeClock returns a clock that reads start until it is moved.
func NewFakeClock(start time.Time) *FakeClock {
	return &FakeClock{now: start}
}

// Now implements [approval.Clock].
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()

	return c.now
}

// Advance moves the clock forward by d, or back when d is negative,
// and returns the new time.
func (c *FakeClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()

	c.now = c.now.Add(d)

	return c.now
}

// Set moves the clock to t, forward or back.
func (c *FakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()

	c.now = t
}
