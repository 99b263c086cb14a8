package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"
)

// SQLite makes a writer wait for the database's write lock in its
// busy handler, for up to the connection's busy_timeout. The handler
// sleeps through sqlite3_interrupt, which is how the driver ends a
// statement whose context ended, so a call would wait out the whole
// timeout whatever its context said. The store therefore waits for
// the lock itself: it turns the busy timeout of its connection off
// for the statement that takes the lock, tries it again after short
// pauses that end with the context, for as long as the busy timeout
// would have waited, and then turns the timeout back on.

// Pauses between attempts to take SQLite's write lock: from
// lockPauseFirst, doubling up to lockPauseLongest, as SQLite's own
// busy handler paces itself.
const (
	lockPauseFirst   = time.Millisecond
	lockPauseLongest = 50 * time.Millisecond
)

// busyTimeout caches the busy_timeout of the store's SQLite
// connections, read from the first one: every connection of a pool
// comes from the same DSN. It holds the milliseconds plus one, so
// that its zero value means unknown.
type busyTimeout struct {
	msPlusOne atomic.Int64
}

// lockWait runs take, a statement on conn that takes SQLite's write
// lock, and runs it again while it finds the database busy, until it
// succeeds, ctx ends, or the connection's busy timeout has passed.
func (s *Store) lockWait(ctx context.Context, conn *sql.Conn, take func() error) error {
	timeout, err := s.busyTimeoutOf(ctx, conn)
	switch {
	case err != nil:
		return err
	case timeout == 0:
		// Without a timeout, SQLite does not wait either.
		return take()
	}

	if _, err := conn.ExecContext(ctx, "PRAGMA busy_timeout = 0"); err != nil {
		return fmt.Errorf("set busy timeout: %w", err)
	}
	defer restoreBusyTimeout(ctx, conn, timeout)

	give := time.Now().Add(time.Duration(timeout) * time.Millisecond)
	pause := lockPauseFirst
	for {
		err := take()
		if err == nil || classify(err) != kindRetry || time.Now().After(give) {
			return err
		}

		if err := sleep(ctx, pause); err != nil {
			return err
		}
		pause = min(2*pause, lockPauseLongest)
	}
}

// busyTimeoutOf returns the busy timeout of conn in milliseconds.
func (s *Store) busyTimeoutOf(ctx context.Context, conn *sql.Conn) (int64, error) {
	if n := s.busy.msPlusOne.Load(); n > 0 {
		return n - 1, nil
	}

	var ms int64
	err := conn.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&ms)
	if err != nil {
		return 0, fmt.Errorf("read busy timeout: %w", err)
	}
	s.busy.msPlusOne.Store(ms + 1)

	return ms, nil
}

// restoreBusyTimeout turns the busy timeout of conn back on, even
// when ctx has ended. A connection that keeps a zero timeout would
// make the host's own writes fail at once, so when that fails, the
// connection is closed instead of going back to the pool.
func restoreBusyTimeout(ctx context.Context, conn *sql.Conn, ms int64) {
	// PRAGMA takes no bound parameters; ms is a number the database
	// itself returned.
	text := "PRAGMA busy_timeout = " + strconv.FormatInt(ms, 10) //nolint:gosec // see above

	_, err := conn.ExecContext(context.WithoutCancel(ctx), text)
	if err == nil {
		return
	}

	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
}

// writer returns where a write of one statement in autocommit runs:
// the pool, or on SQLite a connection taken for it, so that its wait
// for the write lock ends with ctx.
func (s *Store) writer() execer {
	if s.dialect == SQLite {
		return sqliteWriter{s}
	}

	return s.db
}

// sqliteWriter runs each write on a connection of its own, waiting
// for the write lock with lockWait. Reads go to the pool.
type sqliteWriter struct {
	s *Store
}

func (w sqliteWriter) ExecContext(ctx context.Context, query string,
	args ...any,
) (sql.Result, error) {
	conn, err := w.s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()

	var res sql.Result
	err = w.s.lockWait(ctx, conn, func() error {
		var err error
		res, err = conn.ExecContext(ctx, query, args...)
		return err
	})

	return res, err
}

func (w sqliteWriter) QueryContext(ctx context.Context, query string,
	args ...any,
) (*sql.Rows, error) {
	return w.s.db.QueryContext(ctx, query, args...)
}

func (w sqliteWriter) QueryRowContext(ctx context.Context, query string,
	args ...any,
) *sql.Row {
	return w.s.db.QueryRowContext(ctx, query, args...)
}
