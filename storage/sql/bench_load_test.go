package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	sqlstore "github.com/otpki/workitems/storage/sql"
)

// The benchmarks load their data with multi-row INSERT statements in
// one transaction, not through the engine, so that even the set-up of
// a million work items takes seconds. A statement binds at most
// loadParams values; modernc.org/sqlite binds in time that grows with
// the square of their number, so SQLite takes fewer.
const (
	loadParams       = 20_000
	loadParamsSQLite = 1_000
)

// loadTable is a table to load rows into.
type loadTable struct {
	name string
	cols []string
}

// insertRows inserts the rows row(0) ... row(n-1) into t.
func insertRows(ctx context.Context, db *sql.DB, d sqlstore.Dialect, t loadTable,
	n int, row func(i int) []any,
) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()

	batch := loadParams / len(t.cols)
	if d == sqlstore.SQLite {
		batch = loadParamsSQLite / len(t.cols)
	}

	for start := 0; start < n; start += batch {
		count := min(batch, n-start)

		args := make([]any, 0, count*len(t.cols))
		for i := range count {
			args = append(args, row(start+i)...)
		}

		text := insertText(d, t, count)
		if _, err := tx.ExecContext(ctx, text, args...); err != nil {
			return fmt.Errorf("load %s: %w", t.name, err)
		}
	}

	return tx.Commit()
}

// insertText returns an INSERT of count rows into t.
func insertText(d sqlstore.Dialect, t loadTable, count int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "INSERT INTO %s (%s) VALUES ", t.name, strings.Join(t.cols, ", "))

	n := 0
	for r := range count {
		if r > 0 {
			b.WriteString(", ")
		}

		b.WriteByte('(')
		for c := range t.cols {
			if c > 0 {
				b.WriteString(", ")
			}

			n++
			if d == sqlstore.Postgres {
				fmt.Fprintf(&b, "$%d", n)
			} else {
				b.WriteByte('?')
			}
		}
		b.WriteByte(')')
	}

	return b.String()
}

// analyzeTables refreshes the planner statistics of the tables, as a
// database that has run for a while would have them. PostgreSQL also
// vacuums them, so that autovacuum does not start on the fresh rows
// in the middle of a benchmark.
func analyzeTables(ctx context.Context, db *sql.DB, d sqlstore.Dialect, tables ...string) error {
	for _, t := range tables {
		text := "VACUUM ANALYZE " + t
		switch d {
		case sqlstore.MySQL:
			text = "ANALYZE TABLE " + t
		case sqlstore.SQLite:
			text = "ANALYZE"
		}

		if _, err := db.ExecContext(ctx, text); err != nil {
			return fmt.Errorf("analyze %s: %w", t, err)
		}
	}

	return nil
}

// benchTimeArg returns t as a dialect's time column takes it, as the store
// writes it: timestamptz, a UTC DATETIME(6) text, or Unix
// microseconds; NULL for the zero time.
func benchTimeArg(d sqlstore.Dialect, t time.Time) any {
	if t.IsZero() {
		return nil
	}

	switch d {
	case sqlstore.MySQL:
		return t.UTC().Format("2006-01-02 15:04:05.000000")
	case sqlstore.SQLite:
		return t.UnixMicro()
	default:
		return t
	}
}

// benchTime reads a time column of any dialect.
type benchTime struct {
	t time.Time
}

func (s *benchTime) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		s.t = time.Time{}
	case time.Time:
		s.t = v.UTC()
	case int64:
		s.t = time.UnixMicro(v).UTC()
	case []byte:
		return s.parse(string(v))
	case string:
		return s.parse(v)
	default:
		return fmt.Errorf("scan time from %T", src)
	}

	return nil
}

func (s *benchTime) parse(v string) error {
	t, err := time.Parse("2006-01-02 15:04:05.999999999", v)
	s.t = t

	return err
}

// pauseSetup stops the benchmark timer and the round-trip counter while fn
// sets up data.
func pauseSetup(b *testing.B, trips *tripCounter, fn func()) {
	b.Helper()

	b.StopTimer()
	trips.paused.Store(true)

	fn()

	trips.paused.Store(false)
	b.StartTimer()
}

// benchNow returns the current time as the engine stores it.
func benchNow() time.Time {
	return time.Now().UTC().Truncate(time.Microsecond)
}

// dropTables drops the tables, in order, when the benchmark ends.
func dropTables(ctx context.Context, db *sql.DB, tables ...string) error {
	for _, t := range tables {
		if _, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS "+t); err != nil {
			return fmt.Errorf("drop %s: %w", t, err)
		}
	}

	return nil
}
