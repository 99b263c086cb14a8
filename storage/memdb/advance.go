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

	until, err := toStamp("claim.lease_until", c.LeaseUntil)
	if err != nil {
		return nil, err
	}

	err = s.write(ctx, func(txn *memdb.Txn) error {
		var claim []*record
		due := []seek{{byAdvance, like{tag: byte(codeDue)}}}
		err := scan(txn, due, c.After, func(r *record) bool {
			if claimable(&r.outcome.advance, c) {
				claim = append(claim, r)
			}

			return len(claim) < c.Limit
		})
		if err != nil {
			return fmt.Errorf("memdb: %w", err)
		}

		// Insert after the scan: changing a table while walking one of
		// its indexes would disturb the walk.
		for _, stored := range claim {
			adv := stored.outcome.advance
			adv.leaseOwner, adv.leaseUntil = c.Owner, until

			next := stored.withAdvance(adv)
			if err := insert(txn, tableItems, next); err != nil {
				return err
			}

			out = append(out, next.item())
		}

		return nil
	})
	if err != nil {
		return nil, err
	}

	return out, nil
}

// claimable reports whether a due advance may be leased under c.
func claimable(a *advance, c approval.AdvanceClaim) bool {
	if !c.DueBy.IsZero() && a.nextAttemptAt.time().After(c.DueBy) {
		return false
	}

	return a.leaseOwner == "" || !a.leaseUntil.time().After(c.Now)
}

// UpdateAdvance implements [approval.Store].
func (s *Store) UpdateAdvance(ctx context.Context, id, owner string, adv approval.Advance) error {
	return s.write(ctx, func(txn *memdb.Txn) error {
		cur, err := getItemTxn(txn, id)
		if err != nil {
			return err
		}

		if cur.status == codePending {
			return fmt.Errorf("work item %q is pending: %w", id, approval.ErrConflict)
		}

		var leasedTo string
		if cur.outcome != nil {
			leasedTo = cur.outcome.advance.leaseOwner
		}

		if leasedTo != owner {
			return fmt.Errorf("work item %q leased to %q, not %q: %w",
				id, leasedTo, owner, approval.ErrConflict)
		}

		next, err := toAdvance(adv)
		if err != nil {
			return err
		}

		return insert(txn, tableItems, cur.withAdvance(next))
	})
}
