package memdb

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/go-memdb"

	"github.com/otpki/workitems/approval"
)

// CreateWorkItem implements [approval.Store].
func (s *Store) CreateWorkItem(ctx context.Context, w approval.WorkItem,
	profileVersion int64,
) error {
	return s.write(ctx, func(txn *memdb.Txn) error {
		prof, err := getProfileTxn(txn, w.ProfileID)
		if err != nil {
			return err
		}

		if prof.Version != profileVersion {
			return fmt.Errorf("profile %q at version %d, not %d: %w",
				prof.ID, prof.Version, profileVersion, approval.ErrConflict)
		}

		_, err = getItemTxn(txn, w.ID)
		switch {
		case err == nil:
			return fmt.Errorf("work item %q exists: %w", w.ID, approval.ErrConflict)
		case !errors.Is(err, approval.ErrNotFound):
			return err
		}

		if err := checkPendingTxn(txn, w); err != nil {
			return err
		}

		w = w.Clone()

		return insert(txn, tableItems, &w)
	})
}

// checkPendingTxn refuses a second Pending work item for a resource.
func checkPendingTxn(txn *memdb.Txn, w approval.WorkItem) error {
	var pending *approval.WorkItem
	err := scan(txn, byResource, []*approval.WorkItem{&w}, "",
		func(other *approval.WorkItem) bool {
			if other.Status == approval.StatusPending {
				pending = other
			}

			return pending == nil
		})
	if err != nil {
		return fmt.Errorf("memdb: %w", err)
	}

	if pending != nil {
		return &approval.PendingItemExistsError{
			WorkItemID:   pending.ID,
			ResourceType: w.ResourceType,
			ResourceID:   w.ResourceID,
		}
	}

	return nil
}

// GetWorkItem implements [approval.Store].
func (s *Store) GetWorkItem(ctx context.Context, id string) (approval.WorkItem, error) {
	var w approval.WorkItem
	err := s.read(ctx, func(txn *memdb.Txn) error {
		stored, err := getItemTxn(txn, id)
		if err != nil {
			return err
		}

		w = stored.Clone()

		return nil
	})

	return w, err
}

// GetWorkItemAndProfile implements [approval.Store].
func (s *Store) GetWorkItemAndProfile(ctx context.Context,
	id string,
) (approval.WorkItem, approval.Profile, error) {
	var (
		w approval.WorkItem
		p approval.Profile
	)
	err := s.read(ctx, func(txn *memdb.Txn) error {
		stored, err := getItemTxn(txn, id)
		if err != nil {
			return err
		}
		w = stored.Clone()

		prof, err := getProfileTxn(txn, w.ProfileID)
		if err != nil {
			return err
		}
		p = prof.Clone()

		return nil
	})

	return w, p, err
}

// ListWorkItems implements [approval.Store].
func (s *Store) ListWorkItems(ctx context.Context,
	q approval.WorkItemQuery,
) ([]approval.WorkItem, error) {
	if q.Limit <= 0 {
		return nil, nil
	}

	out := make([]approval.WorkItem, 0, min(q.Limit, approval.MaxPageSize+1))

	collect := func(w *approval.WorkItem) bool {
		if matches(q, w) {
			out = append(out, w.Clone())
		}

		return len(out) < q.Limit
	}

	err := s.read(ctx, func(txn *memdb.Txn) error {
		idx, likes := plan(q)
		if likes == nil {
			return scanAll(txn, q.After, collect)
		}

		return scan(txn, idx, likes, q.After, collect)
	})
	if err != nil {
		return nil, fmt.Errorf("memdb: %w", err)
	}

	return out, nil
}

// Apply implements [approval.Store].
func (s *Store) Apply(ctx context.Context, c approval.Change) (approval.WorkItem, error) {
	var out approval.WorkItem
	err := s.write(ctx, func(txn *memdb.Txn) error {
		cur, err := getItemTxn(txn, c.Item.ID)
		if err != nil {
			return err
		}

		prof, err := getProfileTxn(txn, cur.ProfileID)
		if err != nil || prof.Version != c.ProfileVersion {
			return fmt.Errorf("profile %q changed: %w",
				cur.ProfileID, approval.ErrConflict)
		}

		// Write transactions run one at a time, so the change is made
		// to the item as stored, whichever version the caller read.
		next, err := c.On(*cur)
		if err != nil {
			return err
		}

		if err := insert(txn, tableItems, &next); err != nil {
			return err
		}
		out = next.Clone()

		return nil
	})

	return out, err
}
