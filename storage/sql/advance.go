package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/otpki/workitems/approval"
)

// ClaimAdvances implements [approval.Store].
//
// On PostgreSQL it is one statement that locks the due items with
// FOR UPDATE SKIP LOCKED and leases them. On MySQL it is a
// transaction that does the same in two statements. On SQLite, whose
// single writer serializes claims, it is a BEGIN IMMEDIATE
// transaction.
func (s *Store) ClaimAdvances(ctx context.Context,
	c approval.AdvanceClaim,
) ([]approval.WorkItem, error) {
	if c.Limit <= 0 {
		return nil, nil
	}

	var out []approval.WorkItem
	err := s.retry(ctx, "claim advances", func() error {
		var err error
		if s.q.claimAdvances != "" {
			out, err = s.claimOne(ctx, c)
		} else {
			out, err = s.claimTx(ctx, c)
		}

		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim advances: %w", err)
	}

	slices.SortFunc(out, func(a, b approval.WorkItem) int {
		return strings.Compare(a.ID, b.ID)
	})

	return out, nil
}

func (s *Store) claimOne(ctx context.Context,
	c approval.AdvanceClaim,
) ([]approval.WorkItem, error) {
	return s.queryItems(ctx, s.db, c.Limit, s.itemDest, s.q.claimAdvances,
		c.Owner, s.timeArg(c.LeaseUntil), c.After,
		s.timeArg(c.DueBy), s.timeArg(c.Now), c.Limit)
}

func (s *Store) claimTx(ctx context.Context,
	c approval.AdvanceClaim,
) ([]approval.WorkItem, error) {
	var out []approval.WorkItem
	err := s.inTx(ctx, func(tx execer) error {
		due := s.timeArg(c.DueBy)

		items, err := s.queryItems(ctx, tx, c.Limit, s.itemDest,
			s.q.selectClaimable,
			c.After, due, due, s.timeArg(c.Now), c.Limit)
		if err != nil || len(items) == 0 {
			return err
		}

		args := []any{c.Owner, s.timeArg(c.LeaseUntil)}
		for _, w := range items {
			args = append(args, w.ID)
		}

		text := s.q.leaseItems + inList(s.dialect, 1, len(items))
		if _, err := tx.ExecContext(ctx, text, args...); err != nil {
			return fmt.Errorf("lease: %w", err)
		}

		for i := range items {
			items[i].Advance.LeaseOwner = c.Owner
			items[i].Advance.LeaseUntil = c.LeaseUntil
		}
		out = items

		return nil
	})

	return out, err
}

// UpdateAdvance implements [approval.Store].
func (s *Store) UpdateAdvance(ctx context.Context, id, owner string, adv approval.Advance) error {
	args := append(s.advanceArgs(adv), id, owner)

	// A lease's holder records the outcome of its advance.
	query := s.q.updateAdvance
	if owner != "" {
		query = s.q.recordAdvance
	}

	var n int64
	err := s.retry(ctx, "update advance", func() error {
		res, err := s.writer().ExecContext(ctx, query, args...)
		if err != nil {
			return err
		}

		n, err = affected(res)

		return err
	})

	switch {
	case err != nil:
		return fmt.Errorf("update advance of work item %q: %w", id, err)
	case n > 0:
		return nil
	}

	st, err := s.itemState(ctx, s.db, id)
	switch {
	case err != nil:
		return err
	case !st.status.Decided():
		return fmt.Errorf("work item %q is pending: %w", id, approval.ErrConflict)
	case st.owner != owner:
		return fmt.Errorf("work item %q leased to %q, not %q: %w",
			id, st.owner, owner, approval.ErrConflict)
	}

	// The row matched but already held adv, which MySQL counts as no
	// row changed.
	return nil
}
