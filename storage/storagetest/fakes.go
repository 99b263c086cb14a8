package storagetest

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/otpki/workitems/approval"
)

// clock is a fake clock that moves only when told.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock(t time.Time) *clock {
	return &clock{now: t}
}

// Now implements [approval.Clock].
func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()

	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()

	c.now = c.now.Add(d)
}

// errAdvance is what a failing advancer returns.
var errAdvance = errors.New("gated request store unavailable")

// advancer records every call and, while told to, fails them.
type advancer struct {
	mu        sync.Mutex
	failing   bool
	calls     map[string]int
	succeeded map[string][]approval.Status
}

func newAdvancer() *advancer {
	return &advancer{
		calls:     make(map[string]int),
		succeeded: make(map[string][]approval.Status),
	}
}

// Advance implements [approval.ResourceAdvancer].
func (a *advancer) Advance(_ context.Context, w approval.WorkItem) error {
	a.mu.Lock()
	defer a.mu.Unlock()

	a.calls[w.ID]++
	if a.failing {
		return errAdvance
	}

	a.succeeded[w.ID] = append(a.succeeded[w.ID], w.Status)

	return nil
}

func (a *advancer) setFailing(on bool) {
	a.mu.Lock()
	defer a.mu.Unlock()

	a.failing = on
}

// attempts returns how often the advancer was called for the item.
func (a *advancer) attempts(id string) int {
	a.mu.Lock()
	defer a.mu.Unlock()

	return a.calls[id]
}

// successes returns the statuses the item was advanced with.
func (a *advancer) successes(id string) []approval.Status {
	a.mu.Lock()
	defer a.mu.Unlock()

	return append([]approval.Status(nil), a.succeeded[id]...)
}
