package memdb

import (
	"context"
	"fmt"

	"github.com/hashicorp/go-memdb"

	"github.com/otpki/workitems/approval"
)

// ClaimAdvances implements [approval.Store].
func (s *Store) ClaimAdvances(ctx context.Context,
	c approval.AdvanceClaim,
) ([]approval.WorkItem, error) {
	var out []approval.WorkItem
	if c.Limit <= 0 {
		return out, nil
	}

	err := s.write(ctx, func(txn *memdb.Txn) error {
		var claim []*approval.WorkItem
		due := &approval.WorkItem{Advance: approval.Advance{State: approval.AdvanceDue}}
		err := scan(txn, byAdvance, []*approval.WorkItem{due}, c.After,
			func(w *approval.WorkItem) bool {
				if claimable(w.Advance, c) {
					claim = append(claim, w)
				}

				return len(claim) < c.Limit
			})
		if err != nil {
			return fmt.Errorf("memdb: %w", err)
		}

		// Insert after the scan: changing a table while walking one of
		// its indexes would disturb the walk.
		for _, stored := range claim {
			w := stored.Clone()
			w.Advance.LeaseOwner = c.Owner
			w.Advance.LeaseUntil = c.LeaseUntil
			if err := insert(txn, tableItems, &w); err != nil {
				return err
			}

			out = append(out, w.Clone())
		}

		return nil
	})
	if err != nil {
		return nil, err
	}

	return out, nil
}

// claimable reports whether a due advance may be leased under c.
func claimable(a approval.Advance, c approval.AdvanceClaim) bool {
	if !c.DueBy.IsZero() && a.NextAttemptAt.After(c.DueBy) {
		return false
	}

	return a.LeaseOwner == "" || !a.LeaseUntil.After(c.Now)
}

// UpdateAdvance implements [approval.Store].
func (s *Store) UpdateAdvance(ctx context.Context, id, owner string, adv approval.Advance) error {
	return s.write(ctx, func(txn *memdb.Txn) error {
		cur, err := getItemTxn(txn, id)
		if err != nil {
			return err
		}

		if !cur.Status.Decided() {
			return fmt.Errorf("work item %q is pending: %w", id, approval.ErrConflict)
		}

		if cur.Advance.LeaseOwner != owner {
			return fmt.Errorf("work item %q leased to %q, not %q: %w",
				id, cur.Advance.LeaseOwner, owner, approval.ErrConflict)
		}

		w := cur.Clone()
		w.Advance = adv

		return insert(txn, tableItems, &w)
	})
}
