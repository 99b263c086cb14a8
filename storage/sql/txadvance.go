package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/otpki/workitems/approval"
)

// TxAdvancer advances a decided work item inside the transaction that
// records the decision, for hosts whose gated requests live in the
// same database as the store's tables. Set it as [Config.TxAdvancer].
//
// The decision and every statement AdvanceTx runs on tx commit or
// roll back together, so the gated request moves on exactly once per
// decision and never for a decision that did not commit. No
// [approval.Dispatcher] is needed for such decisions.
type TxAdvancer interface {
	// AdvanceTx moves the gated request of the decided item on,
	// running every statement on tx. It must neither commit nor roll
	// back tx. An error rolls the decision back with it and is
	// returned to the caller; a transaction the database aborted for
	// a deadlock or a serialization failure runs again whole, with a
	// new tx, as any other write of the store does.
	AdvanceTx(ctx context.Context, tx *sql.Tx, item approval.WorkItem) error
}

// TxAdvancerFunc adapts a function to [TxAdvancer].
type TxAdvancerFunc func(ctx context.Context, tx *sql.Tx, item approval.WorkItem) error

// AdvanceTx implements [TxAdvancer].
func (f TxAdvancerFunc) AdvanceTx(ctx context.Context, tx *sql.Tx,
	item approval.WorkItem,
) error {
	return f(ctx, tx, item)
}

var _ approval.TxAdvancingStore = (*Store)(nil)

// AdvancesInTx implements [approval.TxAdvancingStore]. It reports
// whether [Config.TxAdvancer] is set.
func (s *Store) AdvancesInTx() bool {
	return s.txAdvancer != nil
}

// txAdvanceError is what the host's TxAdvancer returned. It keeps a
// unique violation of the host's own tables from being taken for a
// second approval.
type txAdvanceError struct {
	id  string
	err error
}

func (e *txAdvanceError) Error() string {
	return fmt.Sprintf("advance work item %q in its transaction: %v", e.id, e.err)
}

func (e *txAdvanceError) Unwrap() error {
	return e.err
}

// applyAdvancing makes a change in a transaction that also runs the
// host's TxAdvancer when the change decides the work item, which may
// happen on an item that moved on since the change was derived. The
// change is marked advanced at its decision whatever the caller
// marked, so that no dispatcher advances it a second time. On
// PostgreSQL an approval derived without a read, or from one as an
// approval that leaves the item Pending, is first tried as one
// statement that writes only if it does, which needs no transaction.
func (s *Store) applyAdvancing(ctx context.Context, c approval.Change) (approval.WorkItem, error) {
	c = approval.AdvancedWithDecision(c)

	_, read := derivedUnder(c)
	below := !read || derivedPending(c)

	var out approval.WorkItem
	err := s.retry(ctx, "apply and advance", func() error {
		if below {
			var (
				ok  bool
				err error
			)
			out, ok, err = s.approveBelow(ctx, c)
			if ok || err != nil {
				return err
			}
		}

		return s.inSQLTx(ctx, func(tx *sql.Tx) error {
			var err error
			out, err = s.applyTx(ctx, tx, c)
			if err != nil || !out.Status.Decided() {
				return err
			}

			err = s.txAdvancer.AdvanceTx(ctx, tx, out.Clone())
			if err != nil {
				return &txAdvanceError{id: out.ID, err: err}
			}

			return nil
		})
	})

	var advErr *txAdvanceError
	switch {
	case errors.As(err, &advErr):
		return approval.WorkItem{}, err
	case err != nil:
		return approval.WorkItem{}, applyError(c, err)
	}

	return out, nil
}

// inSQLTx runs fn in a transaction of database/sql, committed when fn
// returns nil and rolled back otherwise. On SQLite it begins as the
// DSN's _txlock says; the package documentation recommends
// immediate, so that the wait for the write lock happens as the
// transaction begins, where lockWait ends it with ctx.
//
// The transaction runs on a *sql.Conn taken for it. When ctx ends,
// database/sql rolls the transaction back in a goroutine of its own;
// closing the Conn waits for that rollback, so that the connection
// is back in the pool when inSQLTx returns, as it would not be with
// a transaction begun on the *sql.DB.
func (s *Store) inSQLTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()

	leave, err := s.enterWrite(ctx, conn)
	if err != nil {
		return err
	}
	defer leave()

	var tx *sql.Tx
	begin := func() error {
		var err error
		tx, err = conn.BeginTx(ctx, nil)
		return err
	}

	if s.dialect == SQLite {
		err = s.lockWait(ctx, conn, begin)
	} else {
		err = begin()
	}
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}

	if err := fn(tx); err != nil {
		// A failed rollback means the connection is gone, and
		// database/sql drops it.
		_ = tx.Rollback()
		return err
	}

	err = tx.Commit()
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrTxDone) && ctx.Err() != nil:
		// ctx ended and database/sql rolled back first.
		return fmt.Errorf("commit: %w: %w", ctx.Err(), err)
	}

	return fmt.Errorf("commit: %w", err)
}
