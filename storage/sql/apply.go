package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/otpki/workitems/approval"
)

// Apply implements [approval.Store].
//
// On PostgreSQL it is one statement in autocommit. On MySQL and
// SQLite a rejection is one statement and an approval a transaction
// of two: the conditional update of the item, then the approval row.
// With a [Config.TxAdvancer], a change that decides the item runs in
// a transaction with the advancer; see [TxAdvancer].
func (s *Store) Apply(ctx context.Context, c approval.Change) error {
	if s.txAdvancer != nil && c.Item.Status.Decided() {
		return s.applyAdvancing(ctx, c)
	}

	args, err := s.changeArgs(c.Item)
	if err != nil {
		return err
	}
	args = append(args, c.Item.ID, c.ReadVersion, c.ProfileVersion)

	var (
		n       int64
		version sql.NullInt64
	)
	err = s.retry(ctx, "apply", func() error {
		var err error
		n, version, err = s.apply(ctx, c, args)
		return err
	})

	switch {
	case err != nil && c.Approval != nil && isUnique(err):
		return fmt.Errorf("user %q on work item %q: %w",
			c.Approval.UserID, c.Item.ID, approval.ErrAlreadyApproved)
	case err != nil:
		return fmt.Errorf("apply %s to work item %q: %w", c.Action, c.Item.ID, err)
	case n > 0:
		return nil
	case s.q.applyItemVersion != "":
		return missed(c, version)
	}

	return s.changeMissed(ctx, c)
}

// apply writes c and returns how many work items it updated: one, or
// none when a version no longer holds. Where one statement does it
// all, it also returns the item's version as that statement saw it.
func (s *Store) apply(ctx context.Context, c approval.Change,
	args []any,
) (int64, sql.NullInt64, error) {
	var version sql.NullInt64

	if s.q.applyItemVersion != "" {
		all := slices.Concat(args, s.approvalArgs(c.Approval))

		var n int64
		err := s.db.QueryRowContext(ctx, s.q.applyItemVersion, all...).
			Scan(&n, &version)

		return n, version, err
	}

	if c.Approval == nil {
		n, err := s.updateItem(ctx, s.writer(), args)
		return n, version, err
	}

	var n int64
	err := s.inTx(ctx, func(tx execer) error {
		var err error
		n, err = s.updateItem(ctx, tx, args)
		if err != nil || n == 0 {
			return err
		}

		a := c.Approval
		_, err = tx.ExecContext(ctx, s.q.insertApproval,
			c.Item.ID, a.UserID, a.Comment, s.timeArg(a.At))

		return err
	})

	return n, version, err
}

func (s *Store) updateItem(ctx context.Context, ex execer, args []any) (int64, error) {
	res, err := ex.ExecContext(ctx, s.q.updateItem, args...)
	if err != nil {
		return 0, err
	}

	return affected(res)
}

// approvalArgs returns the user, comment and time of a, all NULL for
// no approval.
func (s *Store) approvalArgs(a *approval.Approval) []any {
	if a == nil {
		return []any{nil, nil, nil}
	}

	return []any{a.UserID, a.Comment, s.timeArg(a.At)}
}

// missed tells why c updated no work item from the version the write
// saw: ErrNotFound for none, or ErrConflict. The write's snapshot may
// predate the change that made it miss, so an unchanged version does
// not prove that the profile changed.
func missed(c approval.Change, version sql.NullInt64) error {
	id := c.Item.ID

	switch {
	case !version.Valid:
		return fmt.Errorf("work item %q: %w", id, approval.ErrNotFound)
	case version.Int64 != c.ReadVersion:
		return fmt.Errorf("work item %q at version %d, not %d: %w",
			id, version.Int64, c.ReadVersion, approval.ErrConflict)
	}

	return fmt.Errorf("work item %q or profile %q changed: %w",
		id, c.Item.ProfileID, approval.ErrConflict)
}

// changeMissed tells why c updated no work item: ErrNotFound, or
// ErrConflict because the item or its profile changed.
func (s *Store) changeMissed(ctx context.Context, c approval.Change) error {
	id := c.Item.ID

	st, err := s.itemState(ctx, id)
	if err != nil {
		return err
	}

	if st.version != c.ReadVersion {
		return fmt.Errorf("work item %q at version %d, not %d: %w",
			id, st.version, c.ReadVersion, approval.ErrConflict)
	}

	return fmt.Errorf("profile %q changed: %w", c.Item.ProfileID, approval.ErrConflict)
}

// itemStateRow is what classifies a write that changed no work item.
type itemStateRow struct {
	version int64
	status  approval.Status
	owner   string
}

func (s *Store) itemState(ctx context.Context, id string) (itemStateRow, error) {
	var st itemStateRow

	err := s.db.QueryRowContext(ctx, s.q.itemState, id).
		Scan(&st.version, &st.status, &st.owner)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return st, fmt.Errorf("work item %q: %w", id, approval.ErrNotFound)
	case err != nil:
		return st, fmt.Errorf("get work item %q: %w", id, err)
	}

	return st, nil
}
