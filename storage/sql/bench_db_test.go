package sqlstore_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	sqlstore "github.com/otpki/workitems/storage/sql"
)

// benchDB is a database the benchmarks run on.
type benchDB struct {
	name    string
	dialect sqlstore.Dialect
	driver  string

	// env names the variable that holds the DSN of a server; empty
	// for SQLite, which needs none.
	env string
}

func benchDBs() []benchDB {
	return []benchDB{
		{name: "SQLite", dialect: sqlstore.SQLite, driver: "sqlite"},
		{name: "Postgres", dialect: sqlstore.Postgres, driver: "pgx", env: envPostgres},
		{name: "MySQL", dialect: sqlstore.MySQL, driver: "mysql", env: envMySQL},
	}
}

// forEachDB runs bench once per database, as a sub-benchmark named
// after it. A server whose DSN is unset is skipped, or fails the run
// where the tests require every database.
func forEachDB(b *testing.B, bench func(b *testing.B, d benchDB)) {
	b.Helper()

	for _, d := range benchDBs() {
		b.Run(d.name, func(b *testing.B) {
			if d.env != "" && os.Getenv(d.env) == "" {
				if requireDB() {
					b.Fatalf("%s is not set, and CI=true or %s=1 requires it",
						d.env, envRequireDB)
				}
				b.Skipf("set %s to benchmark a server", d.env)
			}

			bench(b, d)
		})
	}
}

// countedDB is a connection pool that counts what it sends to the
// database.
type countedDB struct {
	*sql.DB
	trips *tripCounter
}

// open returns a new pool of at most conns connections, closed when
// the benchmark ends. On SQLite every call opens a new database file,
// with the DSN the package documentation recommends.
func (d benchDB) open(b *testing.B, conns int) *countedDB {
	b.Helper()

	dsn := os.Getenv(d.env)
	if d.dialect == sqlstore.SQLite {
		dsn = "file:" + filepath.Join(b.TempDir(), "bench.db") +
			"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)" +
			"&_pragma=foreign_keys(1)&_txlock=immediate"
	}

	conn, err := driverConnector(d.driver, dsn)
	if err != nil {
		b.Fatal(err)
	}

	trips := &tripCounter{}
	db := sql.OpenDB(&countingConnector{inner: conn, trips: trips})
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	b.Cleanup(func() { _ = db.Close() })

	if err := db.PingContext(b.Context()); err != nil {
		b.Fatalf("open %s: %v", d.name, err)
	}

	return &countedDB{DB: db, trips: trips}
}

// driverConnector returns the driver's connector for dsn.
func driverConnector(name, dsn string) (driver.Connector, error) {
	probe, err := sql.Open(name, dsn)
	if err != nil {
		return nil, err
	}

	drv := probe.Driver()
	if err := probe.Close(); err != nil {
		return nil, err
	}

	if dc, ok := drv.(driver.DriverContext); ok {
		return dc.OpenConnector(dsn)
	}

	return dsnConnector{drv: drv, dsn: dsn}, nil
}

// dsnConnector is the connector of a driver that has none of its own.
type dsnConnector struct {
	drv driver.Driver
	dsn string
}

func (c dsnConnector) Connect(context.Context) (driver.Conn, error) {
	return c.drv.Open(c.dsn)
}

func (c dsnConnector) Driver() driver.Driver {
	return c.drv
}

// tripCounter counts the requests a pool sends: statements, prepares,
// pings, and the begin and end of transactions. Against a server each
// is one network round trip; against SQLite, one call into the
// library. Set-up work that pauses the counter is left out.
type tripCounter struct {
	n      atomic.Int64
	paused atomic.Bool
}

func (c *tripCounter) add() {
	if !c.paused.Load() {
		c.n.Add(1)
	}
}

// count returns the requests counted so far.
func (c *tripCounter) count() int64 {
	return c.n.Load()
}

// countingConnector wraps a driver's connector so that every
// connection counts its requests.
type countingConnector struct {
	inner driver.Connector
	trips *tripCounter
}

func (c *countingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}

	return &countingConn{inner: conn, trips: c.trips}, nil
}

func (c *countingConnector) Driver() driver.Driver {
	return c.inner.Driver()
}

// Close closes the inner connector if it holds resources.
func (c *countingConnector) Close() error {
	if cl, ok := c.inner.(io.Closer); ok {
		return cl.Close()
	}

	return nil
}

// countingConn passes every call to the driver's connection and
// counts those that reach the database. It offers each optional
// interface of database/sql and answers as database/sql would for the
// ones the driver lacks, so that database/sql takes the same path as
// on the bare driver.
type countingConn struct {
	inner driver.Conn
	trips *tripCounter
}

var errNoContext = errors.New("benchmark connections need the context methods")

func (c *countingConn) Prepare(query string) (driver.Stmt, error) {
	return nil, errNoContext
}

func (c *countingConn) Begin() (driver.Tx, error) {
	return nil, errNoContext
}

func (c *countingConn) Close() error {
	return c.inner.Close()
}

func (c *countingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	p, ok := c.inner.(driver.ConnPrepareContext)
	if !ok {
		return nil, errNoContext
	}

	st, err := p.PrepareContext(ctx, query)
	c.trips.add()
	if err != nil {
		return nil, err
	}

	return &countingStmt{inner: st, conn: c}, nil
}

func (c *countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	bt, ok := c.inner.(driver.ConnBeginTx)
	if !ok {
		return nil, errNoContext
	}

	tx, err := bt.BeginTx(ctx, opts)
	c.trips.add()
	if err != nil {
		return nil, err
	}

	return &countingTx{inner: tx, trips: c.trips}, nil
}

func (c *countingConn) ExecContext(ctx context.Context, query string,
	args []driver.NamedValue,
) (driver.Result, error) {
	e, ok := c.inner.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip
	}

	res, err := e.ExecContext(ctx, query, args)
	if !errors.Is(err, driver.ErrSkip) {
		c.trips.add()
	}

	return res, err
}

func (c *countingConn) QueryContext(ctx context.Context, query string,
	args []driver.NamedValue,
) (driver.Rows, error) {
	q, ok := c.inner.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}

	rows, err := q.QueryContext(ctx, query, args)
	if !errors.Is(err, driver.ErrSkip) {
		c.trips.add()
	}

	return rows, err
}

func (c *countingConn) Ping(ctx context.Context) error {
	p, ok := c.inner.(driver.Pinger)
	if !ok {
		return nil
	}
	c.trips.add()

	return p.Ping(ctx)
}

func (c *countingConn) ResetSession(ctx context.Context) error {
	if r, ok := c.inner.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}

	return nil
}

func (c *countingConn) IsValid() bool {
	if v, ok := c.inner.(driver.Validator); ok {
		return v.IsValid()
	}

	return true
}

func (c *countingConn) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := c.inner.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}

	return driver.ErrSkip
}

// countingStmt counts the executions of a prepared statement.
type countingStmt struct {
	inner driver.Stmt
	conn  *countingConn
}

func (s *countingStmt) Close() error {
	return s.inner.Close()
}

func (s *countingStmt) NumInput() int {
	return s.inner.NumInput()
}

func (s *countingStmt) Exec([]driver.Value) (driver.Result, error) {
	return nil, errNoContext
}

func (s *countingStmt) Query([]driver.Value) (driver.Rows, error) {
	return nil, errNoContext
}

func (s *countingStmt) ExecContext(ctx context.Context,
	args []driver.NamedValue,
) (driver.Result, error) {
	e, ok := s.inner.(driver.StmtExecContext)
	if !ok {
		return nil, errNoContext
	}
	s.conn.trips.add()

	return e.ExecContext(ctx, args)
}

func (s *countingStmt) QueryContext(ctx context.Context,
	args []driver.NamedValue,
) (driver.Rows, error) {
	q, ok := s.inner.(driver.StmtQueryContext)
	if !ok {
		return nil, errNoContext
	}
	s.conn.trips.add()

	return q.QueryContext(ctx, args)
}

// CheckNamedValue asks the statement, then its connection, as
// database/sql does.
func (s *countingStmt) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := s.inner.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}

	return s.conn.CheckNamedValue(nv)
}

// countingTx counts the end of a transaction.
type countingTx struct {
	inner driver.Tx
	trips *tripCounter
}

func (t *countingTx) Commit() error {
	t.trips.add()
	return t.inner.Commit()
}

func (t *countingTx) Rollback() error {
	t.trips.add()
	return t.inner.Rollback()
}
