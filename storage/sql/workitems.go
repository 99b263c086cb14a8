package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/otpki/workitems/approval"
)

// CreateWorkItem implements [approval.Store].
func (s *Store) CreateWorkItem(ctx context.Context, w approval.WorkItem,
	profileVersion int64,
) error {
	if err := approval.ValidateNewWorkItem(w); err != nil {
		return fmt.Errorf("create work item: %w", err)
	}

	args, err := s.itemArgs(w)
	if err != nil {
		return err
	}
	args = append([]any{w.ID, w.ProfileID}, args...)
	args = append(args, w.ProfileID, profileVersion)

	var n int64
	err = s.retry(ctx, "create work item", func() error {
		var err error
		if len(w.Approvals) == 0 {
			n, err = s.insertItem(ctx, s.writer(), w, args)
			return err
		}

		return s.inTx(ctx, func(tx execer) error {
			n, err = s.insertItem(ctx, tx, w, args)
			return err
		})
	})

	switch {
	case isUnique(err):
		return s.itemTaken(ctx, w)
	case err != nil:
		return fmt.Errorf("insert work item %q: %w", w.ID, err)
	case n > 0:
		return nil
	}

	// No row was inserted: the profile is gone or changed.
	if err := s.profileMissed(ctx, w.ProfileID, profileVersion); err != nil {
		return err
	}

	return fmt.Errorf("profile %q changed: %w", w.ProfileID, approval.ErrConflict)
}

// insertItem inserts w, if its profile is at the version in args, with
// its approvals.
func (s *Store) insertItem(ctx context.Context, ex execer,
	w approval.WorkItem, args []any,
) (int64, error) {
	res, err := ex.ExecContext(ctx, s.q.insertItem, args...)
	if err != nil {
		return 0, err
	}

	n, err := affected(res)
	if err != nil || n == 0 {
		return n, err
	}

	for _, a := range w.Approvals {
		_, err := ex.ExecContext(ctx, s.q.insertApproval,
			w.ID, a.UserID, a.Comment, s.timeArg(a.At))
		if err != nil {
			return 0, fmt.Errorf("insert approval by %q: %w", a.UserID, err)
		}
	}

	return n, nil
}

// itemTaken tells which unique key refused w: its ID, which is a
// conflict, or its resource's Pending work item.
func (s *Store) itemTaken(ctx context.Context, w approval.WorkItem) error {
	_, err := s.GetWorkItem(ctx, w.ID)
	switch {
	case err == nil:
		return fmt.Errorf("work item %q exists: %w", w.ID, approval.ErrConflict)
	case !errors.Is(err, approval.ErrNotFound):
		return err
	}

	var pending string
	err = s.db.QueryRowContext(ctx, s.q.pendingOfResource,
		string(w.ResourceType), w.ResourceID).Scan(&pending)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		// Decided since the insert failed: reading again helps.
		return fmt.Errorf("%s %q changed: %w",
			w.ResourceType, w.ResourceID, approval.ErrConflict)
	case err != nil:
		return fmt.Errorf("find pending work item of %s %q: %w",
			w.ResourceType, w.ResourceID, err)
	}

	return &approval.PendingItemExistsError{
		WorkItemID:   pending,
		ResourceType: w.ResourceType,
		ResourceID:   w.ResourceID,
	}
}

// GetWorkItem implements [approval.Store].
func (s *Store) GetWorkItem(ctx context.Context, id string) (approval.WorkItem, error) {
	row := s.reader().QueryRowContext(ctx, s.q.getItem, id)

	w, err := s.scanItem(row)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return approval.WorkItem{}, fmt.Errorf("work item %q: %w", id, approval.ErrNotFound)
	case err != nil:
		return approval.WorkItem{}, fmt.Errorf("get work item %q: %w", id, err)
	}

	return w, nil
}

// GetWorkItemAndProfile implements [approval.Store]. It is one
// statement, so item and profile are read from one snapshot.
func (s *Store) GetWorkItemAndProfile(ctx context.Context,
	id string,
) (approval.WorkItem, approval.Profile, error) {
	var (
		ir itemRow
		pr profileRow
	)
	dest := append(s.itemDest(&ir), s.profileDest(&pr)...)

	err := s.reader().QueryRowContext(ctx, s.q.getItemAndProfile, id).Scan(dest...)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return approval.WorkItem{}, approval.Profile{},
			fmt.Errorf("work item %q: %w", id, approval.ErrNotFound)
	case err != nil:
		return approval.WorkItem{}, approval.Profile{},
			fmt.Errorf("get work item %q: %w", id, err)
	}

	w, err := ir.item()
	if err != nil {
		return approval.WorkItem{}, approval.Profile{}, err
	}

	if !pr.id.Valid {
		return w, approval.Profile{}, fmt.Errorf("profile %q of work item %q: %w",
			w.ProfileID, id, approval.ErrNotFound)
	}

	p, err := pr.profile()
	if err != nil {
		return approval.WorkItem{}, approval.Profile{}, err
	}

	return w, p, nil
}
