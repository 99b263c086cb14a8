package sqlstore_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"os"
	"regexp"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	sqlstore "github.com/otpki/workitems/storage/sql"
)

// This file wraps a real driver so that chosen statements fail with
// an error of the test's choosing, a set number of times, and counts
// how often each kind of statement ran.

// The statements an injector tells apart. Each test opens a pool of
// its own, so the patterns need no table prefix.
var faultPoints = []struct {
	name string
	re   *regexp.Regexp
}{
	{"begin", regexp.MustCompile(`^\s*BEGIN`)},
	{"commit", regexp.MustCompile(`^\s*COMMIT`)},
	{"write", regexp.MustCompile(`UPDATE \S*work_items (w )?SET\s+(status|approvals) =`)},
	{"approval", regexp.MustCompile(`INSERT INTO \S*approvals`)},
	{"host", regexp.MustCompile(`INSERT INTO \S*gated_requests`)},
}

// injector decides which statements fail.
type injector struct {
	mu     sync.Mutex
	counts map[string]int
	point  string
	err    error
	left   int
}

func newInjector() *injector {
	return &injector{counts: make(map[string]int)}
}

// failNext makes the next times statements at point fail with err.
func (in *injector) failNext(point string, err error, times int) {
	in.mu.Lock()
	defer in.mu.Unlock()

	in.point, in.err, in.left = point, err, times
	clear(in.counts)
}

// count returns how often statements at point ran since the last
// failNext, failed or not.
func (in *injector) count(point string) int {
	in.mu.Lock()
	defer in.mu.Unlock()

	return in.counts[point]
}

// fire counts query and returns the error it must fail with, if any.
func (in *injector) fire(query string) error {
	in.mu.Lock()
	defer in.mu.Unlock()

	for _, p := range faultPoints {
		if !p.re.MatchString(query) {
			continue
		}

		in.counts[p.name]++
		if p.name == in.point && in.left > 0 {
			in.left--
			return in.err
		}
	}

	return nil
}

// openFaulty opens a pool of b's test database through a connector
// that lets inj fail statements. On SQLite the connections have no
// busy timeout, so that a busy error, injected or real, reaches the
// store's retry of whole transactions at once instead of the store's
// wait for the write lock, which retries it for as long as the
// timeout allows.
func openFaulty(t *testing.T, b backend, inj *injector) *sql.DB {
	t.Helper()

	name, dsn := dsnOf(t, b)
	if b.dialect == sqlstore.SQLite {
		dsn = sqliteDSNWithTimeout(newSQLiteFile(t), 0)
	}

	probe, err := sql.Open(name, dsn)
	require.NoError(t, err)
	drv := probe.Driver()
	require.NoError(t, probe.Close())

	var inner driver.Connector = rawConnector{drv: drv, dsn: dsn}
	if dc, ok := drv.(driver.DriverContext); ok {
		inner, err = dc.OpenConnector(dsn)
		require.NoError(t, err)
	}

	db := sql.OpenDB(&faultConnector{inner: inner, inj: inj})
	db.SetMaxOpenConns(maxConns)
	t.Cleanup(func() { require.NoError(t, db.Close()) })

	return db
}

// dsnOf returns the driver name and DSN of b's test database: a new
// SQLite file, or the server the environment names, skipping the
// test without one.
func dsnOf(t *testing.T, b backend) (string, string) {
	t.Helper()

	env, name := envPostgres, "pgx"
	switch b.dialect {
	case sqlstore.SQLite:
		return "sqlite", sqliteDSN(newSQLiteFile(t))
	case sqlstore.MySQL:
		env, name = envMySQL, "mysql"
	}

	dsn := os.Getenv(env)
	if dsn == "" {
		if requireDB() {
			t.Fatalf("%s is not set, and CI=true or %s=1 requires it", env, envRequireDB)
		}
		t.Skipf("set %s to run this test against a real server", env)
	}

	return name, dsn
}

// sqliteDSN is the DSN the package documentation recommends.
func sqliteDSN(path string) string {
	return sqliteDSNWithTimeout(path, 10000)
}

// sqliteDSNWithTimeout is sqliteDSN with another busy timeout.
func sqliteDSNWithTimeout(path string, ms int) string {
	return fmt.Sprintf("file:%s?_pragma=busy_timeout(%d)"+
		"&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)"+
		"&_pragma=synchronous(NORMAL)&_txlock=immediate", path, ms)
}

type rawConnector struct {
	drv driver.Driver
	dsn string
}

func (c rawConnector) Connect(context.Context) (driver.Conn, error) {
	return c.drv.Open(c.dsn)
}

func (c rawConnector) Driver() driver.Driver {
	return c.drv
}

type faultConnector struct {
	inner driver.Connector
	inj   *injector
}

func (c *faultConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}

	return &faultConn{Conn: conn, inj: c.inj}, nil
}

func (c *faultConnector) Driver() driver.Driver {
	return c.inner.Driver()
}

// faultConn passes every call to the real connection, after asking
// the injector about the statement.
type faultConn struct {
	driver.Conn
	inj *injector
}

func (c *faultConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if p, ok := c.Conn.(driver.ConnPrepareContext); ok {
		return p.PrepareContext(ctx, query)
	}

	return c.Prepare(query)
}

func (c *faultConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if err := c.inj.fire("BEGIN"); err != nil {
		return nil, err
	}

	b, ok := c.Conn.(driver.ConnBeginTx)
	if !ok {
		return nil, driver.ErrSkip
	}

	tx, err := b.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}

	return &faultTx{Tx: tx, inj: c.inj}, nil
}

func (c *faultConn) ExecContext(ctx context.Context, query string,
	args []driver.NamedValue,
) (driver.Result, error) {
	if err := c.inj.fire(query); err != nil {
		return nil, err
	}

	e, ok := c.Conn.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip
	}

	return e.ExecContext(ctx, query, args)
}

func (c *faultConn) QueryContext(ctx context.Context, query string,
	args []driver.NamedValue,
) (driver.Rows, error) {
	if err := c.inj.fire(query); err != nil {
		return nil, err
	}

	q, ok := c.Conn.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}

	return q.QueryContext(ctx, query, args)
}

func (c *faultConn) ResetSession(ctx context.Context) error {
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}

	return nil
}

func (c *faultConn) IsValid() bool {
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}

	return true
}

func (c *faultConn) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := c.Conn.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}

	return driver.ErrSkip
}

func (c *faultConn) Ping(ctx context.Context) error {
	if p, ok := c.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}

	return nil
}

// faultTx can fail its commit, which then rolls back as a commit the
// server refused does.
type faultTx struct {
	driver.Tx
	inj *injector
}

func (tx *faultTx) Commit() error {
	if err := tx.inj.fire("COMMIT"); err != nil {
		_ = tx.Rollback()
		return err
	}

	return tx.Tx.Commit()
}
