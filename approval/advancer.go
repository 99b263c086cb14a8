package approval

import (
	"context"
	"fmt"
)

// ResourceAdvancer is the host's code that moves a gated request on
// once its work item is decided: on StatusApproved it lets the request
// proceed, on StatusRejected it fails it.
//
// The engine calls Advance at least once per decision and never for a
// decision that did not commit. It may call it again after a crash, a
// failure, or a lease that ran out, so Advance must be idempotent: the
// work item ID is a stable key for that, and item.Status the outcome.
// A nil return marks the advance done; an error leaves it due, to be
// retried.
type ResourceAdvancer interface {
	// Advance moves the gated request of the decided item on.
	Advance(ctx context.Context, item WorkItem) error
}

// AdvancerFunc adapts a function to [ResourceAdvancer].
type AdvancerFunc func(ctx context.Context, item WorkItem) error

// Advance implements [ResourceAdvancer].
func (f AdvancerFunc) Advance(ctx context.Context, item WorkItem) error {
	return f(ctx, item)
}

// Router sends each decided work item to the advancer of its resource
// type. A type with no advancer fails with ErrNoAdvancer, so its items
// stay due until the host adds one.
type Router map[ResourceType]ResourceAdvancer

// Advance implements [ResourceAdvancer].
func (r Router) Advance(ctx context.Context, item WorkItem) error {
	a, ok := r[item.ResourceType]
	if !ok || a == nil {
		return fmt.Errorf("%s: %w", item.ResourceType, ErrNoAdvancer)
	}

	return a.Advance(ctx, item)
}
