package approvaltest

import (
	"context"
	"errors"
	"sync"

	"github.com/otpki/workitems/approval"
)

// Call is one call the engine made to a [RecordingAdvancer].
type Call struct {
	// Item is the decided work item the engine passed, copied.
	Item approval.WorkItem

	// Err is what the call returned: nil when the advance succeeded.
	Err error
}

// RecordingAdvancer is an [approval.ResourceAdvancer] that records
// every call, in the order the calls returned, so a test can assert
// how often each work item was advanced and with which status. It
// hands each call on to another advancer, if it has one, and returns
// that advancer's result; without one, every call succeeds. It is safe
// for concurrent use.
type RecordingAdvancer struct {
	next approval.ResourceAdvancer

	mu    sync.Mutex
	calls []Call
}

var _ approval.ResourceAdvancer = (*RecordingAdvancer)(nil)

// NewRecordingAdvancer returns an advancer that records every call and
// then hands it on to next. A nil next makes every call succeed.
func NewRecordingAdvancer(next approval.ResourceAdvancer) *RecordingAdvancer {
	return &RecordingAdvancer{next: next}
}

// Advance implements [approval.ResourceAdvancer].
func (r *RecordingAdvancer) Advance(ctx context.Context, item approval.WorkItem) error {
	var err error
	if r.next != nil {
		err = r.next.Advance(ctx, item)
	}

	r.mu.Lock()
	defer r.mu.Unlock()

	r.calls = append(r.calls, Call{Item: item.Clone(), Err: err})

	return err
}

// Calls returns every call so far, in order.
func (r *RecordingAdvancer) Calls() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()

	out := make([]Call, len(r.calls))
	for i, c := range r.calls {
		out[i] = Call{Item: c.Item.Clone(), Err: c.Err}
	}

	return out
}

// CallsFor returns the calls for one work item, in order.
func (r *RecordingAdvancer) CallsFor(itemID string) []Call {
	r.mu.Lock()
	defer r.mu.Unlock()

	var out []Call
	for _, c := range r.calls {
		if c.Item.ID == itemID {
			out = append(out, Call{Item: c.Item.Clone(), Err: c.Err})
		}
	}

	return out
}

// Statuses returns the status the work item had in each call for it,
// in order, failed calls included: its length is how often the engine
// tried to advance the item. Nil means the item was never advanced.
func (r *RecordingAdvancer) Statuses(itemID string) []approval.Status {
	r.mu.Lock()
	defer r.mu.Unlock()

	var out []approval.Status
	for _, c := range r.calls {
		if c.Item.ID == itemID {
			out = append(out, c.Item.Status)
		}
	}

	return out
}

// Succeeded returns how many calls for the work item returned nil.
// Once the engine has recorded an advance as done it does not call
// again, so for a settled item this is 1.
func (r *RecordingAdvancer) Succeeded(itemID string) int {
	r.mu.Lock()
	defer r.mu.Unlock()

	n := 0
	for _, c := range r.calls {
		if c.Item.ID == itemID && c.Err == nil {
			n++
		}
	}

	return n
}

// ErrInjected is what a [FailingAdvancer] made with a nil error
// returns.
var ErrInjected = errors.New("injected advance failure")

// FailingAdvancer is an [approval.ResourceAdvancer] that returns an
// error for the calls a test wants to fail and succeeds for the rest.
// Pass it to [WithAdvancer] to see the decided-but-not-advanced path.
// It is safe for concurrent use.
type FailingAdvancer struct {
	err   error
	first int // calls to fail; negative fails all

	mu    sync.Mutex
	calls int
}

var _ approval.ResourceAdvancer = (*FailingAdvancer)(nil)

// FailAlways returns an advancer whose every call returns err, or
// ErrInjected when err is nil.
func FailAlways(err error) *FailingAdvancer {
	return &FailingAdvancer{err: orInjected(err), first: -1}
}

// FailFirst returns an advancer whose first n calls return err, or
// ErrInjected when err is nil, and whose later calls succeed. A
// negative n counts as zero.
func FailFirst(n int, err error) *FailingAdvancer {
	return &FailingAdvancer{err: orInjected(err), first: max(n, 0)}
}

func orInjected(err error) error {
	if err == nil {
		return ErrInjected
	}

	return err
}

// Advance implements [approval.ResourceAdvancer].
func (f *FailingAdvancer) Advance(context.Context, approval.WorkItem) error {
	f.mu.Lock()
	defer f.mu.Unlock()

	f.calls++
	if f.first < 0 || f.calls <= f.first {
		return f.err
	}

	return nil
}

// Calls returns how many times Advance was called.
func (f *FailingAdvancer) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()

	return f.calls
}
