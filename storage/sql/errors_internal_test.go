package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/otpki/workitems/approval"
)

// These tests provoke each error the store classifies from the real
// driver and server, so that a driver release that changes its error
// type fails here.

func TestClassifyPostgres(t *testing.T) {
	t.Parallel()

	db := openServer(t, "pgx", "WORKITEMS_POSTGRES_DSN")
	table := scratchTable(t, db, "id integer PRIMARY KEY, n integer")

	requireUniqueViolation(t, db, table)
	require.Equal(t, kindRetry, classify(deadlock(t, db, table)))
	requireOther(t, db)
}

func TestClassifyMySQL(t *testing.T) {
	t.Parallel()

	db := openServer(t, "mysql", "WORKITEMS_MYSQL_DSN")
	table := scratchTable(t, db, "id INT PRIMARY KEY, n INT")

	requireUniqueViolation(t, db, table)
	require.Equal(t, kindRetry, classify(deadlock(t, db, table)))
	requireOther(t, db)

	err := lockWaitTimeout(t, db, table)
	n, ok := mysqlNumber(unwrapAll(err))
	require.True(t, ok, "%T: %v", err, err)
	require.EqualValues(t, mysqlLockWaitTimeout, n)
	require.Equal(t, kindRetry, classify(err))
}

func TestClassifySQLite(t *testing.T) {
	t.Parallel()

	path := filepath.Join(t.TempDir(), "classify.db")
	db, err := sql.Open("sqlite", "file:"+path)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })

	table := scratchTable(t, db, "id INTEGER PRIMARY KEY, n INTEGER UNIQUE")
	requireUniqueViolation(t, db, table)
	requireOther(t, db)

	_, err = db.ExecContext(t.Context(),
		expand("INSERT INTO {p} (id, n) VALUES (100, 100)", table))
	require.NoError(t, err)
	_, err = db.ExecContext(t.Context(),
		expand("INSERT INTO {p} (id, n) VALUES (101, 100)", table))
	require.Equal(t, kindUnique, classify(err), "unique column: %v", err)

	// A second writer with no busy timeout fails at once.
	ctx := t.Context()
	holder, err := db.Conn(ctx)
	require.NoError(t, err)
	defer holder.Close()

	_, err = holder.ExecContext(ctx, "BEGIN IMMEDIATE")
	require.NoError(t, err)
	defer rollback(ctx, holder)

	other, err := db.Conn(ctx)
	require.NoError(t, err)
	defer other.Close()

	_, err = other.ExecContext(ctx, "BEGIN IMMEDIATE")
	require.Error(t, err)
	require.Equal(t, kindRetry, classify(err), "%v", err)
}

func TestClassifyLooksThroughWrapping(t *testing.T) {
	t.Parallel()

	base := stateError("40001")
	require.Equal(t, kindRetry, classify(fmt.Errorf("a: %w", base)))
	require.Equal(t, kindRetry, classify(errors.Join(errors.New("x"), base)))
	require.Equal(t, kindUnique, classify(fmt.Errorf("b: %w", stateError("23505"))))
	require.Equal(t, kindOther, classify(stateError("42601")))
	require.Equal(t, kindOther, classify(errors.New("Error 1062: Duplicate entry")))
	require.Equal(t, kindOther, classify(nil))

	// A type of another package that happens to share the name is
	// not taken for the MySQL driver's.
	_, ok := mysqlNumber(&MySQLError{Number: mysqlDeadlock})
	require.False(t, ok)
}

func TestRetryGivesUpAsConflict(t *testing.T) {
	t.Parallel()

	s, err := New(&sql.DB{}, Postgres, &Config{RetryAttempts: 3})
	require.NoError(t, err)

	calls := 0
	err = s.retry(t.Context(), "test", func() error {
		calls++
		return stateError("40P01")
	})
	require.Equal(t, 3, calls)
	require.ErrorIs(t, err, approval.ErrConflict)

	var st stateError
	require.ErrorAs(t, err, &st)

	calls = 0
	err = s.retry(t.Context(), "test", func() error {
		calls++
		return stateError("23505")
	})
	require.Equal(t, 1, calls, "a unique violation is never retried")
	require.NotErrorIs(t, err, approval.ErrConflict)
}

type stateError string

func (e stateError) Error() string    { return "sqlstate " + string(e) }
func (e stateError) SQLState() string { return string(e) }

// MySQLError has the name and field of the driver's error type, in
// another package.
type MySQLError struct {
	Number uint16
}

func (e *MySQLError) Error() string { return "fake" }

func unwrapAll(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}

func openServer(t *testing.T, driver, env string) *sql.DB {
	t.Helper()

	dsn := os.Getenv(env)
	if dsn == "" {
		if os.Getenv("CI") == "true" || os.Getenv("WORKITEMS_REQUIRE_DB") == "1" {
			t.Fatalf("%s is not set, and CI=true or WORKITEMS_REQUIRE_DB=1 requires it", env)
		}
		t.Skipf("set %s to run this test against a real server", env)
	}

	db, err := sql.Open(driver, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	require.NoError(t, db.PingContext(t.Context()), "database of %s unreachable", env)

	return db
}

// scratchTable creates a table with a random name, dropped at the
// end, and rows with id 1 and 2.
func scratchTable(t *testing.T, db *sql.DB, cols string) string {
	t.Helper()

	table := "scratch_" + randomHex(t)

	_, err := db.ExecContext(t.Context(), expand("CREATE TABLE {p} ("+cols+")", table))
	require.NoError(t, err)
	t.Cleanup(func() {
		_, err := db.ExecContext(context.Background(), expand("DROP TABLE {p}", table))
		require.NoError(t, err)
	})

	_, err = db.ExecContext(t.Context(),
		expand("INSERT INTO {p} (id, n) VALUES (1, 1), (2, 2)", table))
	require.NoError(t, err)

	return table
}

func randomHex(t *testing.T) string {
	t.Helper()

	var b [5]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)

	return hex.EncodeToString(b[:])
}

func requireUniqueViolation(t *testing.T, db *sql.DB, table string) {
	t.Helper()

	_, err := db.ExecContext(t.Context(),
		expand("INSERT INTO {p} (id, n) VALUES (1, 9)", table))
	require.Error(t, err)
	require.Equal(t, kindUnique, classify(err), "%T: %v", err, err)
	require.Equal(t, kindUnique, classify(fmt.Errorf("wrapped: %w", err)))
}

func requireOther(t *testing.T, db *sql.DB) {
	t.Helper()

	_, err := db.ExecContext(t.Context(), "SELEC 1")
	require.Error(t, err)
	require.Equal(t, kindOther, classify(err), "%T: %v", err, err)
}

// deadlock makes two transactions wait on each other and returns the
// error of the one the server aborts.
func deadlock(t *testing.T, db *sql.DB, table string) error {
	t.Helper()

	ctx := t.Context()
	tx1, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer func() { _ = tx1.Rollback() }()

	tx2, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer func() { _ = tx2.Rollback() }()

	update := expand("UPDATE {p} SET n = n + 1 WHERE id = ", table)
	_, err = tx1.ExecContext(ctx, update+"1")
	require.NoError(t, err)
	_, err = tx2.ExecContext(ctx, update+"2")
	require.NoError(t, err)

	errs := make(chan error, 2)
	go func() {
		_, err := tx1.ExecContext(ctx, update+"2")
		if err != nil {
			_ = tx1.Rollback()
		}
		errs <- err
	}()
	go func() {
		_, err := tx2.ExecContext(ctx, update+"1")
		if err != nil {
			_ = tx2.Rollback()
		}
		errs <- err
	}()

	first, second := <-errs, <-errs
	require.NotEqual(t, first == nil, second == nil,
		"exactly one side fails: %v, %v", first, second)

	return errors.Join(first, second)
}

// lockWaitTimeout waits on a row lock longer than the session allows.
func lockWaitTimeout(t *testing.T, db *sql.DB, table string) error {
	t.Helper()

	ctx := t.Context()
	holder, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer func() { _ = holder.Rollback() }()

	_, err = holder.ExecContext(ctx, expand("UPDATE {p} SET n = 0 WHERE id = 1", table))
	require.NoError(t, err)

	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()

	_, err = conn.ExecContext(ctx, "SET SESSION innodb_lock_wait_timeout = 1")
	require.NoError(t, err)

	_, err = conn.ExecContext(ctx, expand("UPDATE {p} SET n = 5 WHERE id = 1", table))
	require.Error(t, err)

	return err
}
