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
//
// The timeout goes back on before the connection returns to the
// pool, rather than staying off for the next call, because the pool
// is the host's: writes and transactions that the host runs on it
// rely on the DSN's timeout to wait instead of failing at once, and
// so do the store's reads, which it does not retry, wherever a reader
// can find the database busy: in rollback journal mode, and in WAL
// mode while another connection recovers the log or, the last one to
// close, removes it.
//
// lockExec takes the lock with a statement: it runs the statement
// between the two PRAGMAs as one script, one call to the driver
// instead of three while the lock is free. lockWait takes it with a
// call of database/sql, which needs a call of its own for each
// PRAGMA.

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

// lockWait runs take, a call on conn that takes SQLite's write lock,
// with the busy timeout of conn off, and runs it again while it finds
// the database busy, until it succeeds, ctx ends, or the connection's
// busy timeout has passed. Then it turns the timeout back on.
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

	return retryBusy(ctx, timeout, take)
}

// lockExec runs query, one statement that takes SQLite's write lock,
// on conn as lockWait would, in one call to the driver when the lock
// is free: a script turns the busy timeout off, runs query and turns
// the timeout back on. The result is query's own, since a PRAGMA
// changes neither the count of changed rows nor the last inserted
// row ID that SQLite reports. A script that fails stops at the
// statement that failed, so the timeout is then turned back on in a
// call of its own. The last PRAGMA fails only when ctx ends after
// query ran; the call then returns ctx's error although query took
// effect, as any call whose context ends may.
func (s *Store) lockExec(ctx context.Context, conn *sql.Conn, query string,
	args ...any,
) (sql.Result, error) {
	timeout, err := s.busyTimeoutOf(ctx, conn)
	switch {
	case err != nil:
		return nil, err
	case timeout == 0:
		return conn.ExecContext(ctx, query, args...)
	}

	script := lockScript(query, timeout)

	var res sql.Result
	err = retryBusy(ctx, timeout, func() error {
		var err error
		res, err = conn.ExecContext(ctx, script, args...)
		return err
	})
	if err != nil {
		restoreBusyTimeout(ctx, conn, timeout)
		return nil, err
	}

	return res, nil
}

// lockScript returns query between the PRAGMAs that turn the busy
// timeout off and back on to ms.
func lockScript(query string, ms int64) string {
	return "PRAGMA busy_timeout = 0;\n" + query + ";\n" + setBusyTimeout(ms)
}

// retryBusy runs take, and runs it again after a pause while it finds
// the database busy, until it succeeds, fails otherwise, ctx ends, or
// timeout milliseconds have passed.
func retryBusy(ctx context.Context, timeout int64, take func() error) error {
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
	_, err := conn.ExecContext(context.WithoutCancel(ctx), setBusyTimeout(ms))
	if err == nil {
		return
	}

	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
}

// setBusyTimeout returns the PRAGMA that sets the busy timeout to ms.
// PRAGMA takes no bound parameters; ms is a number the database
// itself returned.
func setBusyTimeout(ms int64) string {
	return "PRAGMA busy_timeout = " + strconv.FormatInt(ms, 10)
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
// for the write lock with lockExec. Reads go to the pool.
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

	leave, err := w.s.enterWrite(ctx, conn)
	if err != nil {
		return nil, err
	}
	defer leave()

	return w.s.lockExec(ctx, conn, query, args...)
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
