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
	if err := approval.ValidateNewWorkItem(w); err != nil {
		return fmt.Errorf("create work item: %w", err)
	}

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

		r, err := toRecord(&w)
		if err != nil {
			return err
		}

		if err := checkPendingTxn(txn, r); err != nil {
			return err
		}

		return insert(txn, tableItems, r)
	})
}

// checkPendingTxn refuses a second Pending work item for a resource.
func checkPendingTxn(txn *memdb.Txn, r *record) error {
	k, _ := byResource.of(r)

	var pending *record
	err := scan(txn, []seek{{byResource, k}}, "", func(other *record) bool {
		if other.status == codePending {
			pending = other
		}

		return pending == nil
	})
	if err != nil {
		return fmt.Errorf("memdb: %w", err)
	}

	if pending != nil {
		return &approval.PendingItemExistsError{
			WorkItemID:   pending.id(),
			ResourceType: r.resourceType.resourceType(),
			ResourceID:   r.resourceID(),
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

		w = stored.item()

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
		w = stored.item()

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

	f := compile(q)
	if f.none {
		return nil, nil
	}

	out := make([]approval.WorkItem, 0, min(q.Limit, approval.MaxPageSize+1))

	collect := func(r *record) bool {
		if f.matches(r) {
			out = append(out, r.item())
		}

		return len(out) < q.Limit
	}

	err := s.read(ctx, func(txn *memdb.Txn) error {
		cs, all, err := f.cursors(txn, q.After)
		switch {
		case err != nil:
			return err
		case all:
			return scanAll(txn, q.After, collect)
		}

		merge(cs, collect)

		return nil
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

		// A decided item's profile may be gone; On then says the item
		// is not Pending before it looks at the version.
		var version int64
		prof, err := getProfileTxn(txn, cur.profileID)
		switch {
		case err == nil:
			version = prof.Version
		case !errors.Is(err, approval.ErrNotFound):
			return err
		}

		// Write transactions run one at a time, so the change is made
		// to the item as stored, whichever version the caller read.
		next, err := c.On(cur.item(), version)
		if err != nil {
			return err
		}

		r, err := toRecord(&next)
		if err != nil {
			return err
		}

		if err := insert(txn, tableItems, r); err != nil {
			return err
		}

		// The record copied what it keeps of next, whose slices are
		// fresh from c.On, so next is the caller's to keep.
		out = next

		return nil
	})

	return out, err
}
