package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	sqlstore "github.com/otpki/workitems/storage/sql"
)

// schemaOf lists every column of every table whose name starts with
// prefix, as "table.column type nullable", in order, from the
// database's own catalog.
func schemaOf(ctx context.Context, t *testing.T, db *sql.DB, d sqlstore.Dialect,
	prefix string,
) []string {
	t.Helper()

	var text string
	switch d {
	case sqlstore.Postgres:
		text = `SELECT table_name, column_name, data_type, is_nullable
			FROM information_schema.columns
			WHERE table_schema = current_schema()
			AND left(table_name, length($1::text)) = $1::text
			ORDER BY table_name, ordinal_position`
	case sqlstore.MySQL:
		text = `SELECT table_name, column_name, column_type, is_nullable
			FROM information_schema.columns
			WHERE table_schema = DATABASE()
			AND LEFT(table_name, CHAR_LENGTH(?)) = ?
			ORDER BY table_name, ordinal_position`
	default:
		text = `SELECT m.name, p.name, p.type, p."notnull"
			FROM sqlite_master m JOIN pragma_table_info(m.name) p
			WHERE m.type = 'table'
			AND substr(m.name, 1, length(?)) = ?
			ORDER BY m.name, p.cid`
	}

	args := []any{prefix, prefix}
	if d == sqlstore.Postgres {
		args = args[:1]
	}

	rows, err := db.QueryContext(ctx, text, args...)
	require.NoError(t, err)
	defer rows.Close()

	var out []string
	for rows.Next() {
		var table, column, typ, nullable string
		require.NoError(t, rows.Scan(&table, &column, &typ, &nullable))
		out = append(out, fmt.Sprintf("%s.%s %s %s", table, column, typ, nullable))
	}
	require.NoError(t, rows.Err())

	return out
}

// rowCounts returns the number of rows of each table.
func rowCounts(ctx context.Context, t *testing.T, db *sql.DB, tables ...string) map[string]int {
	t.Helper()

	out := make(map[string]int, len(tables))
	for _, table := range tables {
		var n int
		err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n)
		require.NoError(t, err, table)
		out[table] = n
	}

	return out
}
