package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/otpki/workitems/approval"
)

// Apply implements [approval.Store].
//
// On PostgreSQL it is one statement in autocommit that makes the
// change to the row as it finds it once locked, as [approval.Change.On]
// says: approvals that race each other wait for the row in turn, and
// all count. An approval derived as one that leaves the item Pending
// first runs a narrower statement, which writes only if it does; when
// that finds nothing to write, the full statement follows.
//
// On MySQL and SQLite the change is first written as derived, at the
// version read: a rejection in one statement, an approval in a
// transaction with its row. When the item moved on, the transaction
// reads it locked and makes the change to it instead.
//
// With a [Config.TxAdvancer], every change that may decide the item
// runs in a transaction that advances it when the change does; see
// [TxAdvancer].
func (s *Store) Apply(ctx context.Context, c approval.Change) (approval.WorkItem, error) {
	if s.txAdvancer != nil {
		return s.applyAdvancing(ctx, c)
	}

	var out approval.WorkItem
	err := s.retry(ctx, "apply", func() error {
		var err error
		out, err = s.apply(ctx, c)
		return err
	})
	if err != nil {
		return approval.WorkItem{}, applyError(c, err)
	}

	return out, nil
}

// apply runs one attempt of Apply.
func (s *Store) apply(ctx context.Context, c approval.Change) (approval.WorkItem, error) {
	if s.q.approveInPlace != "" {
		out, ok, err := s.approveBelow(ctx, c)
		if ok || err != nil {
			return out, err
		}

		return s.applyInPlace(ctx, s.db, c)
	}

	// A rejection is one statement at the version read; when the item
	// moved on, a transaction changes it as stored.
	write := s.applyTx
	if c.Approval == nil {
		n, err := s.writeItem(ctx, s.writer(), c.Item, c.ReadVersion, c.ProfileVersion)
		if err != nil || n > 0 {
			return c.Item.Clone(), err
		}
		write = s.applyOnStored
	}

	var out approval.WorkItem
	err := s.inTx(ctx, func(tx execer) error {
		var err error
		out, err = write(ctx, tx, c)
		return err
	})

	return out, err
}

// applyTx makes the change on tx and returns the item written.
func (s *Store) applyTx(ctx context.Context, tx execer,
	c approval.Change,
) (approval.WorkItem, error) {
	if s.q.approveInPlace != "" {
		return s.applyInPlace(ctx, tx, c)
	}

	n, err := s.writeItem(ctx, tx, c.Item, c.ReadVersion, c.ProfileVersion)
	if err != nil {
		return approval.WorkItem{}, err
	}

	out := c.Item.Clone()
	if n == 0 {
		out, err = s.applyOnStored(ctx, tx, c)
		if err != nil {
			return approval.WorkItem{}, err
		}
	}

	if a := c.Approval; a != nil {
		_, err = tx.ExecContext(ctx, s.q.insertApproval,
			c.Item.ID, a.UserID, a.Comment, s.timeArg(a.At))
	}

	return out, err
}

// applyOnStored makes the change to the item as stored, which moved on
// since the change was derived: it reads the item locked against
// other writers until tx ends, derives the item after the change with
// c.On, and writes that at the version it read. It leaves the
// approval row to the caller.
//
// It refuses as the rules do, in their order: a decided item first,
// then a change derived under a profile that has changed since, which
// may no longer be the approver's to make, and only then an approval
// the user made before.
func (s *Store) applyOnStored(ctx context.Context, tx execer,
	c approval.Change,
) (approval.WorkItem, error) {
	id := c.Item.ID

	var (
		r       itemRow
		profile int64
	)
	dest := append(s.itemDest(&r), &profile)

	err := tx.QueryRowContext(ctx, s.q.lockItem, id).Scan(dest...)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return approval.WorkItem{}, fmt.Errorf("work item %q: %w",
			id, approval.ErrNotFound)
	case err != nil:
		return approval.WorkItem{}, err
	}

	stored, err := r.item()
	if err != nil {
		return approval.WorkItem{}, err
	}

	if profile != c.ProfileVersion && stored.Status == approval.StatusPending {
		return approval.WorkItem{}, fmt.Errorf("profile %q changed: %w",
			stored.ProfileID, approval.ErrConflict)
	}

	next, err := c.On(stored)
	if err != nil {
		return approval.WorkItem{}, err
	}

	// The item is locked and its profile version checked, so this
	// cannot miss; if it did, nothing was written.
	n, err := s.writeItem(ctx, tx, next, stored.Version, c.ProfileVersion)
	switch {
	case err != nil:
		return approval.WorkItem{}, err
	case n == 0:
		return approval.WorkItem{}, fmt.Errorf("profile %q changed: %w",
			next.ProfileID, approval.ErrConflict)
	}

	return next, nil
}

// approveBelow makes an approval that leaves the item Pending, as
// derived, in one statement in autocommit that writes only if the item
// stays Pending on the row as locked. It reports false, having written
// nothing, for a change of any other kind, where the dialect has no
// such statement, and when the statement found nothing to write: the
// item is decided or gone, its profile changed, or the approval would
// decide it after all. The caller then makes the change as it would
// have without it.
func (s *Store) approveBelow(ctx context.Context,
	c approval.Change,
) (approval.WorkItem, bool, error) {
	a := c.Approval
	if a == nil || c.Item.Status != approval.StatusPending ||
		s.q.approveBelowInPlace == "" {
		return approval.WorkItem{}, false, nil
	}

	added, err := encodeApprovals([]approval.Approval{*a})
	if err != nil {
		return approval.WorkItem{}, false, err
	}

	var r itemRow
	err = s.db.QueryRowContext(ctx, s.q.approveBelowInPlace,
		c.Item.ID, c.ProfileVersion, added,
		a.UserID, a.Comment, s.timeArg(a.At), pendingArg,
	).Scan(s.pendingDest(&r)...)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return approval.WorkItem{}, false, nil
	case err != nil:
		return approval.WorkItem{}, false, err
	}

	out, err := r.item()

	return out, err == nil, err
}

// applyInPlace makes the change in one statement that finds the row,
// waits for its lock, and writes what c.On would derive from it,
// returning the row written. An approval that is not the user's first
// fails on the primary key of the approvals table.
func (s *Store) applyInPlace(ctx context.Context, ex execer,
	c approval.Change,
) (approval.WorkItem, error) {
	id := c.Item.ID

	var (
		query string
		args  []any
	)
	switch a, r := c.Approval, c.Rejection; {
	case a != nil:
		added, err := encodeApprovals([]approval.Approval{*a})
		if err != nil {
			return approval.WorkItem{}, err
		}

		query = s.q.approveInPlace
		args = []any{
			id, c.ProfileVersion, added,
			a.UserID, a.Comment, s.timeArg(a.At),
		}
	case r != nil:
		query = s.q.rejectInPlace
		args = []any{
			id, c.ProfileVersion,
			r.UserID, r.Reason, s.timeArg(r.At),
		}
	default:
		// A change with neither is malformed, as On says.
		_, err := c.On(approval.WorkItem{Status: approval.StatusPending})
		return approval.WorkItem{}, err
	}

	args = append(args, s.advanceArgs(c.DecisionAdvance())...)
	args = append(args, pendingArg)

	out, err := s.scanItem(ex.QueryRowContext(ctx, query, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return approval.WorkItem{}, s.inPlaceMissed(ctx, ex, c)
	}

	return out, err
}

// pendingArg is the status Pending, bound as an argument of the
// in-place statements rather than written into their text. A prepared
// statement's generic plan can then use no partial index on status,
// which PostgreSQL would otherwise pick while the table is small and
// scan whole, filtering by ID, long after the table grew; bound, the
// row is found by its key however the table has changed.
const pendingArg = string(approval.StatusPending)

// inPlaceMissed tells why an in-place change wrote nothing, from the
// item as it is now: ErrNotFound, ErrNotPending, or ErrConflict
// because the profile changed.
func (s *Store) inPlaceMissed(ctx context.Context, ex execer,
	c approval.Change,
) error {
	id := c.Item.ID

	st, err := s.itemState(ctx, ex, id)
	switch {
	case err != nil:
		return err
	case st.status != approval.StatusPending:
		return fmt.Errorf("work item %q is %s: %w",
			id, st.status, approval.ErrNotPending)
	}

	return fmt.Errorf("profile %q changed: %w",
		c.Item.ProfileID, approval.ErrConflict)
}

// applyError describes a failed Apply: a second approval by one user
// becomes ErrAlreadyApproved.
func applyError(c approval.Change, err error) error {
	if c.Approval != nil && isUnique(err) {
		return fmt.Errorf("user %q on work item %q: %w",
			c.Approval.UserID, c.Item.ID, approval.ErrAlreadyApproved)
	}

	return fmt.Errorf("apply %s to work item %q: %w",
		c.Action, c.Item.ID, err)
}

// writeItem writes w over the stored work item if that is at version
// and carries profileVersion, and returns how many rows it wrote: 1,
// or 0 when either moved on. An item that stays Pending gains an
// approval and a version and nothing else, so only those two columns
// are written. SQLite parses every write afresh, and parsing the
// update of all the columns was a fifth of the CPU time of an
// approval.
func (s *Store) writeItem(ctx context.Context, ex execer, w approval.WorkItem,
	version, profileVersion int64,
) (int64, error) {
	var (
		query string
		args  []any
	)
	if w.Status == approval.StatusPending {
		list, err := encodeApprovals(w.Approvals)
		if err != nil {
			return 0, err
		}

		query = s.q.updatePending
		args = []any{list, w.Version}
	} else {
		var err error
		args, err = s.changeArgs(w)
		if err != nil {
			return 0, err
		}

		query = s.q.updateItem
	}

	args = append(args, w.ID, version, profileVersion)
	res, err := ex.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}

	return affected(res)
}

// itemStateRow is what classifies a write that changed no work item.
type itemStateRow struct {
	version int64
	status  approval.Status
	owner   string
}

func (s *Store) itemState(ctx context.Context, ex execer,
	id string,
) (itemStateRow, error) {
	var st itemStateRow

	err := ex.QueryRowContext(ctx, s.q.itemState, id).
		Scan(&st.version, &st.status, &st.owner)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return st, fmt.Errorf("work item %q: %w", id, approval.ErrNotFound)
	case err != nil:
		return st, fmt.Errorf("get work item %q: %w", id, err)
	}

	return st, nil
}
