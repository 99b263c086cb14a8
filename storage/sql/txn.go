package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"math/rand/v2"
	"time"

	"go.uber.org/zap"
)

// execer runs statements: a *sql.DB in autocommit, a *sql.Tx, or the
// *sql.Conn of a SQLite write transaction.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Backoff between attempts of a transaction: full jitter over a
// window that doubles from retryBase up to retryMax.
const (
	retryBase = 2 * time.Millisecond
	retryMax  = 250 * time.Millisecond
)

// retry runs fn, again after each error that means the database
// aborted it and it may succeed when run again, at most s.attempts
// times in all. fn must be a whole transaction or one autocommit
// statement, so that nothing of a failed attempt remains.
func (s *Store) retry(ctx context.Context, op string, fn func() error) error {
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || classify(err) != kindRetry {
			return err
		}

		if attempt >= s.attempts {
			return &retryError{attempts: attempt, err: err}
		}

		s.log.Debug("retry transaction", zap.String("op", op),
			zap.Int("attempt", attempt), zap.Error(err))

		if err := sleep(ctx, jitter(attempt)); err != nil {
			return err
		}
	}
}

// jitter returns a random wait before the given retry.
func jitter(attempt int) time.Duration {
	window := retryBase << min(attempt-1, 16)
	window = min(window, retryMax)

	return rand.N(window) + time.Microsecond
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()

	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// inTx runs fn in one write transaction, committed when fn returns
// nil and rolled back otherwise. On SQLite the transaction takes the
// write lock up front, whatever the DSN says.
func (s *Store) inTx(ctx context.Context, fn func(tx execer) error) error {
	if s.dialect == SQLite {
		return s.inImmediateTx(ctx, fn)
	}

	return s.inSQLTx(ctx, func(tx *sql.Tx) error {
		return fn(tx)
	})
}

// inImmediateTx runs fn in a SQLite transaction begun with BEGIN
// IMMEDIATE on a connection of its own. Taking the write lock before
// the first read means a writer waits on the busy timeout at the
// start instead of failing on a lock upgrade half way through.
func (s *Store) inImmediateTx(ctx context.Context, fn func(tx execer) error) error {
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

	if _, err := s.lockExec(ctx, conn, "BEGIN IMMEDIATE"); err != nil {
		// A BEGIN cut short by its context may have begun the
		// transaction all the same; a connection that went back to the
		// pool holding it would keep the write lock from every writer.
		rollback(ctx, conn)
		return fmt.Errorf("begin: %w", err)
	}

	if err := fn(conn); err != nil {
		rollback(ctx, conn)
		return err
	}

	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		// A COMMIT that failed, for example on a busy database, leaves
		// the transaction open.
		rollback(ctx, conn)
		return fmt.Errorf("commit: %w", err)
	}

	return nil
}

// rollback ends the transaction open on conn, even when ctx is done.
// When that fails, the connection's state is unknown, so it is
// closed instead of going back to the pool.
func rollback(ctx context.Context, conn *sql.Conn) {
	_, err := conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
	if err == nil {
		return
	}

	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
}

// affected returns the rows a statement changed.
func affected(res sql.Result) (int64, error) {
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("rows affected: %w", err)
	}

	return n, nil
}
