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
		// An approval derived from a read as one that leaves the item
		// Pending tries the narrower statement first. One derived
		// without a read may decide the item as well as not, and takes
		// the full statement at once: a decision then takes its one
		// write.
		if derivedPending(c) {
			out, ok, err := s.approveBelow(ctx, c)
			if ok || err != nil {
				return out, err
			}
		}

		return s.applyInPlace(ctx, s.db, c)
	}

	// A rejection is one statement at the version it was derived from;
	// when the item moved on, a transaction changes it as stored.
	write := s.applyTx
	if c.Approval == nil {
		out, ok, err := s.rejectAtVersion(ctx, c)
		if ok || err != nil {
			return out, err
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

	var (
		out approval.WorkItem
		n   int64
		err error
	)
	if profile, ok := derivedUnder(c); ok {
		n, err = s.writeItem(ctx, tx, c.Item, c.ReadVersion, profile)
		if err != nil {
			return approval.WorkItem{}, err
		}
		out = c.Item.Clone()
	}

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
// since the change was derived, or was not read to derive it: it
// reads the item locked against other writers until tx ends, derives
// the item after the change with c.On, which refuses as the rules do,
// and writes that at the version it read. It leaves the approval row
// to the caller.
func (s *Store) applyOnStored(ctx context.Context, tx execer,
	c approval.Change,
) (approval.WorkItem, error) {
	stored, profile, err := s.storedItem(ctx, tx, c.Item.ID)
	if err != nil {
		return approval.WorkItem{}, err
	}

	next, err := c.On(stored, profile)
	if err != nil {
		return approval.WorkItem{}, err
	}

	// The item is locked and its profile version checked, so this
	// cannot miss; if it did, nothing was written.
	n, err := s.writeItem(ctx, tx, next, stored.Version, profile)
	switch {
	case err != nil:
		return approval.WorkItem{}, err
	case n == 0:
		return approval.WorkItem{}, fmt.Errorf("profile %q changed: %w",
			next.ProfileID, approval.ErrConflict)
	}

	return next, nil
}

// rejectAtVersion writes a rejection in one statement, at the version
// of the item it was derived from, or, for one derived without a read,
// at the version of the item as the store reads it first, unlocked. It
// reports false, having written nothing, when the item moved on since;
// the caller then makes the change in a transaction that locks it.
func (s *Store) rejectAtVersion(ctx context.Context,
	c approval.Change,
) (approval.WorkItem, bool, error) {
	next, version := c.Item, c.ReadVersion
	profile, read := derivedUnder(c)
	if !read {
		stored, p, err := s.storedItem(ctx, s.reader(), c.Item.ID)
		if err != nil {
			return approval.WorkItem{}, false, err
		}

		next, err = c.On(stored, p)
		if err != nil {
			return approval.WorkItem{}, false, err
		}
		version, profile = stored.Version, p
	}

	n, err := s.writeItem(ctx, s.writer(), next, version, profile)
	if err != nil || n == 0 {
		return approval.WorkItem{}, false, err
	}

	return next.Clone(), true, nil
}

// storedItem reads the work item with the ID and the version of its
// profile that it carries. Within a transaction it keeps other writers
// from the item until the transaction ends.
func (s *Store) storedItem(ctx context.Context, ex execer,
	id string,
) (approval.WorkItem, int64, error) {
	var (
		r       itemRow
		profile int64
	)
	dest := append(s.itemDest(&r), &profile)

	err := ex.QueryRowContext(ctx, s.q.lockItem, id).Scan(dest...)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return approval.WorkItem{}, 0, fmt.Errorf("work item %q: %w",
			id, approval.ErrNotFound)
	case err != nil:
		return approval.WorkItem{}, 0, err
	}

	w, err := r.item()

	return w, profile, err
}

// approveBelow makes an approval in one statement in autocommit that
// writes only if the item stays Pending on the row as locked. It
// reports false, having written nothing, for a rejection, where the
// dialect has no such statement, and when the statement found nothing
// to write: the item is decided or gone, its profile not granted as
// the change says, the approver its requester, or the approval would
// decide it. The caller then makes the change as it would have without
// it.
func (s *Store) approveBelow(ctx context.Context,
	c approval.Change,
) (approval.WorkItem, bool, error) {
	a := c.Approval
	if a == nil || s.q.approveBelowInPlace == "" {
		return approval.WorkItem{}, false, nil
	}

	added, err := encodeApprovals([]approval.Approval{*a})
	if err != nil {
		return approval.WorkItem{}, false, err
	}

	var r itemRow
	err = s.db.QueryRowContext(ctx, s.q.approveBelowInPlace,
		c.Item.ID, grantProfiles(c), added,
		a.UserID, a.Comment, s.timeArg(a.At), pendingArg,
		grantVersions(c), grantSelfApproval(c),
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
//
// The statement returns the columns a Pending item fills, and the
// status: what else a decision writes comes from c, as the statement
// wrote it (see decidedBy).
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
			id, grantProfiles(c), added,
			a.UserID, a.Comment, s.timeArg(a.At),
		}
	case r != nil:
		query = s.q.rejectInPlace
		args = []any{
			id, grantProfiles(c),
			r.UserID, r.Reason, s.timeArg(r.At),
		}
	default:
		// A change with neither is malformed, as On says.
		_, err := c.On(approval.WorkItem{Status: approval.StatusPending}, 0)
		return approval.WorkItem{}, err
	}

	args = append(args, s.advanceArgs(c.DecisionAdvance())...)
	args = append(args, pendingArg, grantVersions(c))
	if a := c.Approval; a != nil {
		args = append(args, grantSelfApproval(c))
	}

	var r itemRow
	err := ex.QueryRowContext(ctx, query, args...).Scan(s.pendingDest(&r)...)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return approval.WorkItem{}, s.inPlaceMissed(ctx, ex, c)
	case err != nil:
		return approval.WorkItem{}, err
	}

	out, err := r.item()
	if err != nil {
		return approval.WorkItem{}, err
	}

	return decidedBy(c, out), nil
}

// decidedBy completes w, read back with the columns of a Pending item
// after c was written in place, with what the write set when c
// decided it: the decision time, the advance and the rejection.
func decidedBy(c approval.Change, w approval.WorkItem) approval.WorkItem {
	if !w.Status.Decided() {
		return w
	}

	w.DecidedAt = c.At()
	w.Advance = c.DecisionAdvance()
	if r := c.Rejection; r != nil {
		rej := *r
		w.Rejection = &rej
	}

	return w
}

// pendingArg is the status Pending, bound as an argument of the
// in-place statements rather than written into their text. A prepared
// statement's generic plan can then use no partial index on status,
// which PostgreSQL would otherwise pick while the table is small and
// scan whole, filtering by ID, long after the table grew; bound, the
// row is found by its key however the table has changed.
const pendingArg = string(approval.StatusPending)

// inPlaceMissed tells why an in-place change wrote nothing, from the
// item as it is now, with the rules of c.On: ErrNotFound,
// ErrNotPending, ErrConflict because the item's profile is not among
// the change's grants at its version, or ErrSelfApproval.
func (s *Store) inPlaceMissed(ctx context.Context, ex execer,
	c approval.Change,
) error {
	id := c.Item.ID

	st, err := s.itemState(ctx, ex, id)
	if err != nil {
		return err
	}

	w := approval.WorkItem{
		ID:          id,
		ProfileID:   st.profileID,
		Status:      st.status,
		RequestedBy: st.requestedBy,
	}
	if _, err := c.On(w, st.profileVersion); err != nil {
		return err
	}

	// What missed then holds no longer; the caller may try again.
	return fmt.Errorf("work item %q moved on: %w", id, approval.ErrConflict)
}

// derivedUnder returns the version of the item's profile that a
// change derived from a read of the item was derived under, and false
// for a change derived without a read, whose Item holds nothing to
// write.
func derivedUnder(c approval.Change) (int64, bool) {
	if c.ReadVersion == 0 {
		return 0, false
	}

	g, ok := c.GrantFor(c.Item.ProfileID)

	return g.ProfileVersion, ok
}

// derivedPending reports whether c was derived from a read of the item
// as a change that leaves it Pending.
func derivedPending(c approval.Change) bool {
	_, read := derivedUnder(c)
	return read && c.Item.Status == approval.StatusPending
}

// grantProfiles, grantVersions and grantSelfApproval return the
// fields of a change's grants as arrays, each in the order of the
// grants.
func grantProfiles(c approval.Change) []string {
	out := make([]string, len(c.Grants))
	for i, g := range c.Grants {
		out[i] = g.ProfileID
	}

	return out
}

func grantVersions(c approval.Change) []int64 {
	out := make([]int64, len(c.Grants))
	for i, g := range c.Grants {
		out[i] = g.ProfileVersion
	}

	return out
}

func grantSelfApproval(c approval.Change) []bool {
	out := make([]bool, len(c.Grants))
	for i, g := range c.Grants {
		out[i] = g.AllowSelfApproval
	}

	return out
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
	version        int64
	status         approval.Status
	owner          string
	profileID      string
	profileVersion int64
	requestedBy    string
}

func (s *Store) itemState(ctx context.Context, ex execer,
	id string,
) (itemStateRow, error) {
	var st itemStateRow

	err := ex.QueryRowContext(ctx, s.q.itemState, id).
		Scan(&st.version, &st.status, &st.owner,
			&st.profileID, &st.profileVersion, &st.requestedBy)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return st, fmt.Errorf("work item %q: %w", id, approval.ErrNotFound)
	case err != nil:
		return st, fmt.Errorf("get work item %q: %w", id, err)
	}

	return st, nil
}
