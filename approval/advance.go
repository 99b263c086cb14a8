package approval

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
)

// claimBatch is how many items one claim takes.
const claimBatch = 100

func (e *Engine) leaseFrom(now time.Time) Lease {
	return Lease{Owner: e.instance, Until: now.Add(e.lease)}
}

// advance calls the advancer for a decided work item this engine holds
// the lease of, and records the outcome. A failure leaves the item due
// and returns a *NotAdvancedError.
//
// A panic in the advancer is not recovered: like a crash, it leaves
// the item due, and a later pass advances it once the lease runs out.
func (e *Engine) advance(ctx context.Context, w WorkItem) (WorkItem, error) {
	advErr := e.advancer.Advance(ctx, w)

	now := e.now()
	if advErr == nil {
		w.Advance = AdvanceSucceeded(w.Advance, now)
	} else {
		w.Advance = AdvanceFailedAttempt(w.Advance, advErr, now, e.policy)
	}

	err := e.store.UpdateAdvance(ctx, w.ID, e.instance, w.Advance)
	switch {
	case advErr != nil && err != nil:
		return w, &NotAdvancedError{Item: w, Err: errors.Join(advErr, err)}
	case advErr != nil:
		return w, &NotAdvancedError{Item: w, Err: advErr}
	case err != nil:
		// The host saw the decision; only the record of it is missing,
		// so the item stays due and is advanced again later, which an
		// idempotent advancer absorbs.
		e.log.Warn("record advance",
			zap.String("work_item_id", w.ID), zap.Error(err))
	}

	return w, nil
}

// ResumeAdvances advances every decided work item whose advance is due
// and not leased by a running engine, ignoring any backoff: the call a
// host makes at start-up, or an operator after fixing what made the
// advancer fail. Each item is tried once per call. Advancer failures
// are logged and leave the item due; the error is for the store alone.
// It returns how many items were advanced.
func (e *Engine) ResumeAdvances(ctx context.Context) (int, error) {
	return e.advanceDue(ctx, time.Time{})
}

// advanceDue claims and advances items due by dueBy, in ID order, each
// at most once.
func (e *Engine) advanceDue(ctx context.Context, dueBy time.Time) (int, error) {
	advanced := 0
	after := ""
	for {
		now := e.now()
		items, err := e.store.ClaimAdvances(ctx, AdvanceClaim{
			Owner:      e.instance,
			Now:        now,
			DueBy:      dueBy,
			After:      after,
			LeaseUntil: now.Add(e.lease),
			Limit:      claimBatch,
		})
		if err != nil {
			return advanced, fmt.Errorf("claim advances: %w", err)
		}

		for _, w := range items {
			_, err := e.advance(ctx, normalizeItem(w))
			if err != nil {
				e.log.Warn("advance work item", zap.String("work_item_id", w.ID),
					zap.String("status", string(w.Status)), zap.Error(err))
				continue
			}
			advanced++
		}

		if len(items) < claimBatch {
			return advanced, ctx.Err()
		}
		after = items[len(items)-1].ID
	}
}

// RetryAdvance makes a work item whose advance failed for good due
// again, with a fresh count of attempts, and advances it at once. It
// returns ErrNotFound, or an *InvalidArgumentError when the item's
// advance is not AdvanceFailed.
func (e *Engine) RetryAdvance(ctx context.Context, itemID string) (WorkItem, error) {
	if err := checkID("work_item_id", itemID); err != nil {
		return WorkItem{}, err
	}

	w, err := e.store.GetWorkItem(ctx, itemID)
	if err != nil {
		return WorkItem{}, fmt.Errorf("get work item %q: %w", itemID, err)
	}

	if w.Advance.State != AdvanceFailed {
		return WorkItem{}, invalid("work_item_id",
			"advance of work item %q is not failed", itemID)
	}

	now := e.now()
	lease := e.leaseFrom(now)
	w.Advance = Advance{
		State:      AdvanceDue,
		LeaseOwner: lease.Owner,
		LeaseUntil: lease.Until,
	}

	err = e.store.UpdateAdvance(ctx, itemID, "", w.Advance)
	if err != nil {
		return WorkItem{}, fmt.Errorf("retry advance of %q: %w", itemID, err)
	}

	return e.advance(ctx, normalizeItem(w))
}
