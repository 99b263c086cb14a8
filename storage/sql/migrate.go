package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
)

// migrationFiles holds the schema of each dialect as numbered SQL
// files: migrations/<dialect>/0001_name.sql, 0002_..., with {p} where
// the table prefix goes.
//
//go:embed migrations
var migrationFiles embed.FS

// ErrSchemaTooNew means the database was migrated by a newer version
// of this package than the one running. The error is a
// [*SchemaVersionError].
var ErrSchemaTooNew = errors.New("database schema is newer than this code")

// SchemaVersionError says the database holds a schema version this
// code does not know.
type SchemaVersionError struct {
	// Have is the version in the database.
	Have int

	// Known is the newest version this code knows.
	Known int
}

// Error implements error.
func (e *SchemaVersionError) Error() string {
	return fmt.Sprintf("database schema is at version %d, newer than "+
		"version %d this code knows", e.Have, e.Known)
}

// Is makes errors.Is(err, ErrSchemaTooNew) hold.
func (e *SchemaVersionError) Is(target error) bool {
	return target == ErrSchemaTooNew
}

// migration is one numbered schema step.
type migration struct {
	version    int
	name       string
	statements []string
}

// The table of applied schema versions, one row per version.
var versionTable = map[Dialect]string{
	Postgres: `CREATE TABLE IF NOT EXISTS {p}schema_versions (
		version integer PRIMARY KEY,
		applied_at timestamptz NOT NULL)`,
	MySQL: `CREATE TABLE IF NOT EXISTS {p}schema_versions (
		version INT NOT NULL PRIMARY KEY,
		applied_at DATETIME(6) NOT NULL) ENGINE = InnoDB`,
	SQLite: `CREATE TABLE IF NOT EXISTS {p}schema_versions (
		version INTEGER NOT NULL PRIMARY KEY,
		applied_at INTEGER NOT NULL)`,
}

// Migrate brings the database schema up to the newest version this
// code knows, applying each missing version in order. It is safe to
// call on every start: a current schema is left alone, and instances
// that start at once apply each version exactly once between them.
// It returns a *SchemaVersionError when the database is newer than
// the code.
//
// On PostgreSQL and SQLite each version commits with its version row
// in one transaction, and a concurrent migrator waits on that row. On
// MySQL, whose DDL commits on its own, migrators take turns by a
// named lock (GET_LOCK), and every statement of a version may run
// again if a migrator stopped half way.
func (s *Store) Migrate(ctx context.Context) error {
	steps, err := loadMigrations(s.dialect)
	if err != nil {
		return err
	}

	if err := s.checkSession(ctx); err != nil {
		return err
	}

	if s.dialect == MySQL {
		return s.migrateLocked(ctx, steps)
	}

	if err := s.createVersionTable(ctx, s.db); err != nil {
		return err
	}

	for {
		have, err := s.schemaVersion(ctx, s.db)
		if err != nil {
			return err
		}

		next, done, err := nextStep(steps, have)
		if done || err != nil {
			return err
		}

		err = s.retry(ctx, "migrate", func() error {
			return s.inTx(ctx, func(tx execer) error {
				return s.applyStep(ctx, tx, next, true)
			})
		})
		switch {
		case isUnique(err):
			// Another migrator applied this version first.
			continue
		case err != nil:
			return fmt.Errorf("migrate to version %d: %w", next.version, err)
		}

		s.log.Info("migrated schema", zap.Int("version", next.version),
			zap.String("name", next.name))
	}
}

// nextStep returns the step after version have, or done when there
// is none.
func nextStep(steps []migration, have int) (migration, bool, error) {
	known := len(steps)
	switch {
	case have > known:
		return migration{}, true, &SchemaVersionError{Have: have, Known: known}
	case have == known:
		return migration{}, true, nil
	}

	return steps[have], false, nil
}

// applyStep runs a step's statements and records its version. With
// rowFirst, the version row goes in first, so that a concurrent
// migrator of the same version waits on it and then fails on its
// primary key.
func (s *Store) applyStep(ctx context.Context, ex execer, m migration, rowFirst bool) error {
	record := func() error {
		_, err := ex.ExecContext(ctx, s.q.insertVersion,
			m.version, s.timeArg(time.Now()))
		return err
	}

	if rowFirst {
		if err := record(); err != nil {
			return err
		}
	}

	for i, stmt := range m.statements {
		if _, err := ex.ExecContext(ctx, expand(stmt, s.prefix)); err != nil {
			return fmt.Errorf("%s statement %d: %w", m.name, i+1, err)
		}
	}

	if rowFirst {
		return nil
	}

	return record()
}

func (s *Store) createVersionTable(ctx context.Context, ex execer) error {
	text := expand(versionTable[s.dialect], s.prefix)

	_, err := ex.ExecContext(ctx, text)
	if err != nil && s.dialect == Postgres {
		// Two sessions creating the table at once can collide on the
		// catalog even with IF NOT EXISTS; the second try sees it.
		_, err = ex.ExecContext(ctx, text)
	}

	if err != nil {
		return fmt.Errorf("create schema version table: %w", err)
	}

	return nil
}

// schemaVersion returns the newest applied version, 0 for none.
func (s *Store) schemaVersion(ctx context.Context, ex execer) (int, error) {
	var v sql.NullInt64

	err := ex.QueryRowContext(ctx, s.q.schemaVersion).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}

	return int(v.Int64), nil
}

// SchemaVersion returns the schema version of the database, 0 before
// the first migration, and the newest version this code knows.
func (s *Store) SchemaVersion(ctx context.Context) (have, known int, err error) {
	steps, err := loadMigrations(s.dialect)
	if err != nil {
		return 0, 0, err
	}

	if err := s.createVersionTable(ctx, s.db); err != nil {
		return 0, 0, err
	}

	have, err = s.schemaVersion(ctx, s.db)

	return have, len(steps), err
}

// migrateLocked migrates a MySQL database while holding a named lock
// on one connection.
func (s *Store) migrateLocked(ctx context.Context, steps []migration) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()

	release, err := s.lockMigration(ctx, conn)
	if err != nil {
		return err
	}
	defer release()

	if err := s.createVersionTable(ctx, conn); err != nil {
		return err
	}

	for {
		have, err := s.schemaVersion(ctx, conn)
		if err != nil {
			return err
		}

		next, done, err := nextStep(steps, have)
		if done || err != nil {
			return err
		}

		if err := s.applyStep(ctx, conn, next, false); err != nil {
			return fmt.Errorf("migrate to version %d: %w", next.version, err)
		}

		s.log.Info("migrated schema", zap.Int("version", next.version),
			zap.String("name", next.name))
	}
}

// migrationLockWait is how long a MySQL migrator waits for another.
const migrationLockWait = 60

func (s *Store) lockMigration(ctx context.Context, conn *sql.Conn) (func(), error) {
	name := s.prefix + "schema_versions"

	var got sql.NullInt64
	err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, ?)",
		name, migrationLockWait).Scan(&got)
	switch {
	case err != nil:
		return nil, fmt.Errorf("lock schema: %w", err)
	case got.Int64 != 1:
		return nil, fmt.Errorf("lock schema: another migrator held %q for %ds",
			name, migrationLockWait)
	}

	release := func() {
		// Closing the connection would release the lock too; an
		// error here leaves nothing to undo.
		_, _ = conn.ExecContext(context.WithoutCancel(ctx),
			"DO RELEASE_LOCK(?)", name)
	}

	return release, nil
}

// checkSession refuses a connection that would not store every text
// exactly: PostgreSQL must use UTF8, and MySQL utf8mb4.
func (s *Store) checkSession(ctx context.Context) error {
	var text, want string
	switch s.dialect {
	case Postgres:
		text, want = "SHOW server_encoding", "UTF8"
	case MySQL:
		text, want = "SELECT @@character_set_connection", "utf8mb4"
	default:
		return nil
	}

	var got string
	if err := s.db.QueryRowContext(ctx, text).Scan(&got); err != nil {
		return fmt.Errorf("check encoding: %w", err)
	}

	if !strings.EqualFold(got, want) {
		return fmt.Errorf("%s encoding is %s, not %s: %w",
			s.dialect, got, want, errUnsupported)
	}

	return nil
}

// errUnsupported means the database or its connection settings cannot
// hold what the store writes.
var errUnsupported = errors.New("unsupported database settings")

// loadMigrations reads the numbered steps of d, checking that they
// run from 1 without a gap.
func loadMigrations(d Dialect) ([]migration, error) {
	dir := path.Join("migrations", d.String())

	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations of %s: %w", d, err)
	}

	var out []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v != len(out)+1 {
			return nil, fmt.Errorf("migration %s/%s: not numbered %04d",
				dir, e.Name(), len(out)+1)
		}

		raw, err := fs.ReadFile(migrationFiles, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read migration: %w", err)
		}

		out = append(out, migration{
			version:    v,
			name:       e.Name(),
			statements: splitStatements(string(raw)),
		})
	}

	return out, nil
}

// splitStatements splits SQL text at each line that ends with a
// semicolon. Comment lines stay with the statement that follows them;
// trailing comments are dropped.
func splitStatements(text string) []string {
	var (
		out  []string
		cur  strings.Builder
		code bool
	)
	for line := range strings.Lines(text) {
		trimmed := strings.TrimSpace(line)
		cur.WriteString(line)

		if trimmed != "" && !strings.HasPrefix(trimmed, "--") {
			code = true
		}

		if code && strings.HasSuffix(trimmed, ";") {
			stmt := strings.TrimSpace(cur.String())
			out = append(out, strings.TrimSuffix(stmt, ";"))
			cur.Reset()
			code = false
		}
	}

	return out
}
