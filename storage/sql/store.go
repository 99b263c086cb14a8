package sqlstore

import (
	"database/sql"
	"fmt"
	"regexp"
	"strings"

	"go.uber.org/zap"

	"github.com/otpki/workitems/approval"
)

// Dialect names the SQL database behind a [Store].
type Dialect int

const (
	// Postgres is PostgreSQL 13 or later, through a driver such as
	// github.com/jackc/pgx/v5/stdlib.
	Postgres Dialect = iota + 1

	// MySQL is MySQL 8.0 or later, or MariaDB 10.6 or later, through
	// github.com/go-sql-driver/mysql.
	MySQL

	// SQLite is SQLite through modernc.org/sqlite.
	SQLite
)

// String returns the lowercase name of d.
func (d Dialect) String() string {
	switch d {
	case Postgres:
		return "postgres"
	case MySQL:
		return "mysql"
	case SQLite:
		return "sqlite"
	default:
		return fmt.Sprintf("dialect(%d)", int(d))
	}
}

// DefaultTablePrefix is the table prefix when [Config] names none.
const DefaultTablePrefix = "workitems_"

// DefaultRetryAttempts is how often a transaction runs at most when
// [Config] names no number.
const DefaultRetryAttempts = 10

// prefixPattern is the allow-list of table prefixes: a lowercase
// letter, then up to 30 lowercase letters, digits or underscores. It
// keeps every derived table and index name a plain identifier within
// the length limits of all three dialects.
var prefixPattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,30}$`)

// Config tunes a [Store]. The zero value, or a nil *Config, gives the
// defaults stated on each field.
type Config struct {
	// TablePrefix starts the name of every table and index the store
	// uses, so that several stores can share one database. It must
	// match ^[a-z][a-z0-9_]{0,30}$. Defaults to DefaultTablePrefix.
	TablePrefix string

	// Logger receives the transaction retries the store absorbs.
	// Defaults to a no-op logger.
	Logger *zap.Logger

	// RetryAttempts bounds how often one write runs after the database
	// aborted it for a deadlock, a serialization failure, a lock wait
	// timeout or a busy database file. Defaults to
	// DefaultRetryAttempts.
	RetryAttempts int

	// TxAdvancer, when set, advances each decision inside the
	// transaction that records it, and the store reports
	// AdvancesInTx, so that the engine calls no advancer of its own
	// for decisions. Defaults to nil: the engine advances them.
	TxAdvancer TxAdvancer
}

// Store is an [approval.Store] over database/sql. It is safe for
// concurrent use, also by several processes sharing one database.
type Store struct {
	db       *sql.DB
	dialect  Dialect
	prefix   string
	log      *zap.Logger
	attempts int
	q        *queries

	txAdvancer TxAdvancer
	busy       busyTimeout

	// stmts holds the prepared reads of a SQLite store, and gate
	// orders its writers; nil on the other dialects.
	stmts *stmtCache
	gate  *writeGate
}

var _ approval.Store = (*Store)(nil)

// New returns a store over db, an open database of the given dialect.
// The caller keeps db: the store never closes it. cfg may be nil. Call
// [Store.Migrate] once before the first use, and after each upgrade of
// this package.
func New(db *sql.DB, d Dialect, cfg *Config) (*Store, error) {
	if db == nil {
		return nil, &approval.InvalidArgumentError{
			Field: "db", Reason: "must not be nil",
		}
	}

	if cfg == nil {
		cfg = &Config{}
	}

	if f, ok := cfg.TxAdvancer.(TxAdvancerFunc); ok && f == nil {
		return nil, &approval.InvalidArgumentError{
			Field: "config.tx_advancer", Reason: "must not be a nil func",
		}
	}

	s := &Store{
		db:         db,
		dialect:    d,
		prefix:     cfg.TablePrefix,
		log:        cfg.Logger,
		attempts:   cfg.RetryAttempts,
		txAdvancer: cfg.TxAdvancer,
	}
	s.setDefaults()

	if !prefixPattern.MatchString(s.prefix) {
		return nil, &approval.InvalidArgumentError{
			Field:  "config.table_prefix",
			Reason: "must match " + prefixPattern.String(),
		}
	}

	q, err := queriesFor(d)
	if err != nil {
		return nil, err
	}
	s.q = q.withPrefix(s.prefix)

	if d == SQLite {
		s.stmts = newStmtCache(db)
		s.gate = newWriteGate()
	}

	return s, nil
}

func (s *Store) setDefaults() {
	if s.prefix == "" {
		s.prefix = DefaultTablePrefix
	}

	if s.log == nil {
		s.log = zap.NewNop()
	}
	s.log = s.log.Named("sqlstore")

	if s.attempts <= 0 {
		s.attempts = DefaultRetryAttempts
	}
}

// Dialect returns the dialect the store speaks.
func (s *Store) Dialect() Dialect {
	return s.dialect
}

// TablePrefix returns the prefix of the store's table names.
func (s *Store) TablePrefix() string {
	return s.prefix
}

// Tables returns the names of the tables the store uses, the schema
// version table last. A host that drops them, as tests do, drops
// them in this order.
func (s *Store) Tables() []string {
	names := []string{"approvals", "work_items", "profiles", "schema_versions"}
	for i, n := range names {
		names[i] = s.prefix + n
	}

	return names
}

// expand puts the table prefix into a query text written with {p}.
// The prefix has passed prefixPattern, so the result is plain SQL.
func expand(text, prefix string) string {
	return strings.ReplaceAll(text, "{p}", prefix)
}
