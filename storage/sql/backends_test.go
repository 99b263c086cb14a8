package sqlstore_test

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	sqlstore "github.com/otpki/workitems/storage/sql"
)

// The environment variables that point the tests at database
// servers. Without them, those tests skip; with CI=true or
// WORKITEMS_REQUIRE_DB=1, a missing or unreachable server fails them.
const (
	envPostgres  = "WORKITEMS_POSTGRES_DSN"
	envMySQL     = "WORKITEMS_MYSQL_DSN"
	envRequireDB = "WORKITEMS_REQUIRE_DB"
)

// backend opens databases of one dialect for tests.
type backend struct {
	name    string
	dialect sqlstore.Dialect

	// open returns a new pool on the test database; each call is a
	// separate pool, as a separate process would have.
	open func(t *testing.T) *sql.DB
}

// backends returns every backend, SQLite first.
func backends() []backend {
	return []backend{
		{name: "SQLite", dialect: sqlstore.SQLite, open: openSQLite},
		{name: "Postgres", dialect: sqlstore.Postgres, open: serverOpener("pgx", envPostgres)},
		{name: "MySQL", dialect: sqlstore.MySQL, open: serverOpener("mysql", envMySQL)},
	}
}

// forEachBackend runs test once per backend, in parallel subtests.
func forEachBackend(t *testing.T, test func(t *testing.T, b backend)) {
	t.Helper()

	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			test(t, b)
		})
	}
}

// maxConns bounds each pool, so that the tests running in parallel
// stay within the servers' connection limits.
const maxConns = 16

func requireDB() bool {
	return os.Getenv("CI") == "true" || os.Getenv(envRequireDB) == "1"
}

// serverOpener opens the database the environment variable names,
// skipping the test when it is unset.
func serverOpener(driver, env string) func(t *testing.T) *sql.DB {
	return func(t *testing.T) *sql.DB {
		t.Helper()

		dsn := os.Getenv(env)
		if dsn == "" {
			if requireDB() {
				t.Fatalf("%s is not set, and CI=true or %s=1 requires it",
					env, envRequireDB)
			}
			t.Skipf("set %s to run this test against a real server", env)
		}

		db, err := sql.Open(driver, dsn)
		require.NoError(t, err)
		db.SetMaxOpenConns(maxConns)
		t.Cleanup(func() { require.NoError(t, db.Close()) })

		err = db.PingContext(t.Context())
		require.NoError(t, err, "database of %s unreachable", env)

		return db
	}
}

// dbFiles maps a test to its SQLite file, so that every pool a test
// opens shares one database.
var dbFiles = make(map[*testing.T]string)

// openSQLite opens the test's SQLite database file: every pool that
// one test opens shares it.
func openSQLite(t *testing.T) *sql.DB {
	t.Helper()

	return openSQLiteFile(t, sqliteFile(t))
}

// newSQLiteFile returns the path of a database file no other store
// uses.
func newSQLiteFile(t *testing.T) string {
	t.Helper()

	return filepath.Join(t.TempDir(), "workitems.db")
}

// openSQLiteFile opens a SQLite database file with the DSN the
// package documentation recommends.
func openSQLiteFile(t *testing.T, path string) *sql.DB {
	t.Helper()

	dsn := "file:" + path + "?_pragma=busy_timeout(10000)" +
		"&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)" +
		"&_pragma=synchronous(NORMAL)&_txlock=immediate"

	db, err := sql.Open("sqlite", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })

	return db
}

func sqliteFile(t *testing.T) string {
	t.Helper()

	sqliteMu.Lock()
	defer sqliteMu.Unlock()

	path, ok := dbFiles[t]
	if !ok {
		path = newSQLiteFile(t)
		dbFiles[t] = path
		t.Cleanup(func() {
			sqliteMu.Lock()
			delete(dbFiles, t)
			sqliteMu.Unlock()
		})
	}

	return path
}

// randomPrefix returns a table prefix no other test uses.
func randomPrefix(t *testing.T) string {
	t.Helper()

	var b [5]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)

	return "t" + hex.EncodeToString(b[:]) + "_"
}

// newStore returns a migrated store on db with a fresh table prefix,
// whose tables are dropped when the test ends.
func newStore(t *testing.T, b backend, db *sql.DB, prefix string) *sqlstore.Store {
	t.Helper()

	s, err := sqlstore.New(db, b.dialect, &sqlstore.Config{TablePrefix: prefix})
	require.NoError(t, err)

	require.NoError(t, s.Migrate(t.Context()))
	dropOnCleanup(t, db, s)

	return s
}

// dropOnCleanup drops the store's tables when the test ends.
func dropOnCleanup(t *testing.T, db *sql.DB, s *sqlstore.Store) {
	t.Helper()

	t.Cleanup(func() {
		ctx, cancel := contextWithTimeout(10 * time.Second)
		defer cancel()

		for _, table := range s.Tables() {
			_, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS "+table)
			require.NoError(t, err)
		}
	})
}

// mysqlDSN returns the MySQL DSN of the environment, skipping the
// test without one.
func mysqlDSN(t *testing.T) string {
	t.Helper()

	backends()[2].open(t)

	return os.Getenv(envMySQL)
}

// withOptions replaces the query of a go-sql-driver/mysql DSN.
func withOptions(dsn, opts string) string {
	base, _, _ := strings.Cut(dsn, "?")
	return base + "?" + opts
}
