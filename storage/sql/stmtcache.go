package sqlstore

import (
	"context"
	"database/sql"
	"sync"
)

// maxCachedStmts bounds the statements one store keeps prepared: its
// fixed reads and the shapes of listing it meets.
const maxCachedStmts = 64

// stmtCache keeps the statements a SQLite store reads with, each
// prepared on first use. SQLite parses a statement in the calling
// process, and parsing the read of a work item with its profile took
// three times as long as running it. The PostgreSQL driver keeps
// prepared statements of its own, and a prepared statement of MySQL
// holds resources on the server for every connection of the pool and
// every store, so those dialects read through the pool.
type stmtCache struct {
	db *sql.DB

	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, stmts: make(map[string]*sql.Stmt)}
}

// stmt returns the prepared statement of text, or nil when the cache
// is full or preparing failed; the caller then runs text on the pool,
// which reports any error.
func (c *stmtCache) stmt(ctx context.Context, text string) *sql.Stmt {
	c.mu.Lock()
	st, ok := c.stmts[text]
	full := len(c.stmts) >= maxCachedStmts
	c.mu.Unlock()

	if ok || full {
		return st
	}

	// The cache keeps the statement; see discard for a surplus one.
	st, err := c.db.PrepareContext(ctx, text) //nolint:sqlclosecheck // see above
	if err != nil {
		return nil
	}

	c.mu.Lock()
	defer c.mu.Unlock()

	if old, ok := c.stmts[text]; ok {
		// Another call prepared it meanwhile.
		discard(st)
		return old
	}
	c.stmts[text] = st

	return st
}

// discard closes a statement no one will run. An error closing it
// would only mean its connection is gone, which frees it too.
func discard(st *sql.Stmt) {
	_ = st.Close()
}

// reader returns where reads run: the pool, or on SQLite the store's
// prepared statements.
func (s *Store) reader() execer {
	if s.stmts == nil {
		return s.db
	}

	return preparedReader{s}
}

// preparedReader runs each read as a prepared statement where it can.
type preparedReader struct {
	s *Store
}

func (r preparedReader) ExecContext(ctx context.Context, query string,
	args ...any,
) (sql.Result, error) {
	return r.s.db.ExecContext(ctx, query, args...)
}

func (r preparedReader) QueryContext(ctx context.Context, query string,
	args ...any,
) (*sql.Rows, error) {
	// The cache owns its statements, which live as long as the store.
	if st := r.s.stmts.stmt(ctx, query); st != nil { //nolint:sqlclosecheck // see above
		return st.QueryContext(ctx, args...)
	}

	return r.s.db.QueryContext(ctx, query, args...)
}

func (r preparedReader) QueryRowContext(ctx context.Context, query string,
	args ...any,
) *sql.Row {
	// The cache owns its statements, which live as long as the store.
	if st := r.s.stmts.stmt(ctx, query); st != nil { //nolint:sqlclosecheck // see above
		return st.QueryRowContext(ctx, args...)
	}

	return r.s.db.QueryRowContext(ctx, query, args...)
}
