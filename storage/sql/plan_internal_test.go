package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otpki/workitems/approval"
)

// TestPostgresGenericPlans checks that listings and claims stay on
// their indexes under the generic plan a prepared statement switches
// to after a few runs, with Pending items rare and all at the end of
// the ID order, where walking the primary key would read every
// decided item first.
func TestPostgresGenericPlans(t *testing.T) {
	t.Parallel()

	s, db := planStore(t)

	fill := expand(`INSERT INTO {p}work_items (`+itemCols+`, profile_version)
		SELECT lpad(g::text, 8, '0'), 'p' || (g % 20), 'enrollment_request',
			'r' || g, '', '', CASE WHEN g > 29900 THEN 'pending' ELSE 'approved' END,
			1, 'null', NULL, NULL, NULL,
			CASE WHEN g > 29900 THEN '' WHEN g % 500 = 0 THEN 'due' ELSE 'done' END,
			0, '', NULL, '', NULL, NULL, 1, now(), NULL, 1
		FROM generate_series(1, 30000) g`, s.prefix)
	_, err := db.ExecContext(t.Context(), fill)
	require.NoError(t, err)
	_, err = db.ExecContext(t.Context(), expand("ANALYZE {p}work_items", s.prefix))
	require.NoError(t, err)

	pending := approval.StatusPending
	tests := []struct {
		name  string
		q     approval.WorkItemQuery
		index string
	}{
		{"Status", approval.WorkItemQuery{Status: pending, Limit: 51}, "work_items_status"},
		{"StatusAfter", approval.WorkItemQuery{
			Status: pending, After: "00000100", Limit: 51,
		}, "work_items_status"},
		{"Inbox", approval.WorkItemQuery{
			Status: pending, ProfileIDs: []string{"p3", "p7", "p11"}, Limit: 51,
		}, "work_items_profile"},
		{"Profile", approval.WorkItemQuery{ProfileIDs: []string{"p3"}, Limit: 51}, "work_items_profile"},
		{"AdvanceState", approval.WorkItemQuery{
			AdvanceState: approval.AdvanceFailed, Limit: 51,
		}, "work_items_advance"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			text, args, _ := s.listQuery(tt.q)
			plan := genericPlan(t, s, expand(text, s.prefix), args)
			require.Contains(t, plan, tt.index, plan)
			require.NotContains(t, plan, "pkey", plan)
		})
	}

	t.Run("Claim", func(t *testing.T) {
		t.Parallel()

		plan := genericPlan(t, s, s.q.claimAdvances, []any{
			"owner", nil, "", nil, nil, 100,
		})
		require.Contains(t, plan, "work_items_advance", plan)
	})
}

// planStore returns a migrated PostgreSQL store under a fresh table
// prefix, and its database; the tables go when the test ends.
func planStore(t *testing.T) (*Store, *sql.DB) {
	t.Helper()

	db := openServer(t, "pgx", "WORKITEMS_POSTGRES_DSN")
	s, err := New(db, Postgres, &Config{TablePrefix: "plan" + randomHex(t) + "_"})
	require.NoError(t, err)
	require.NoError(t, s.Migrate(t.Context()))
	t.Cleanup(func() {
		for _, table := range s.Tables() {
			_, err := db.ExecContext(context.Background(), "DROP TABLE "+table)
			require.NoError(t, err)
		}
	})

	return s, db
}

// genericPlan returns the plan PostgreSQL uses for text once it has
// switched a prepared statement to its generic plan.
func genericPlan(t *testing.T, s *Store, text string, args []any) string {
	t.Helper()

	ctx := t.Context()
	conn, err := s.db.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()

	tx, err := conn.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback() }()

	_, err = tx.ExecContext(ctx, "SET LOCAL plan_cache_mode = force_generic_plan")
	require.NoError(t, err)

	// EXECUTE takes no bind parameters: the test's own values go in
	// as literals.
	_, err = tx.ExecContext(ctx, "PREPARE listing AS "+text)
	require.NoError(t, err)
	defer func() {
		_, err := conn.ExecContext(context.WithoutCancel(ctx), "DEALLOCATE listing")
		require.NoError(t, err)
	}()

	params := make([]string, len(args))
	for i, a := range args {
		params[i] = literal(a)
	}

	execute := "EXPLAIN EXECUTE listing"
	if len(params) > 0 {
		execute += "(" + strings.Join(params, ", ") + ")"
	}

	rows, err := tx.QueryContext(ctx, execute)
	require.NoError(t, err)
	defer rows.Close()

	var plan strings.Builder
	for rows.Next() {
		var line string
		require.NoError(t, rows.Scan(&line))
		plan.WriteString(line + "\n")
	}
	require.NoError(t, rows.Err())

	return plan.String()
}

func literal(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case string:
		return "'" + strings.ReplaceAll(x, "'", "''") + "'"
	default:
		return fmt.Sprint(x)
	}
}

// TestPostgresGenericPlansOfChanges checks that the statements that
// approve and reject in place, and approve below the threshold, find the work item by its key under the
// generic plan that a prepared statement keeps, even when it was made
// while the table was nearly empty: a plan that scans a partial index
// on status instead grows slower with every item the table gains.
func TestPostgresGenericPlansOfChanges(t *testing.T) {
	t.Parallel()

	s, db := planStore(t)

	fill := expand(`INSERT INTO {p}work_items (`+itemCols+`, profile_version)
		SELECT lpad(g::text, 8, '0'), 'p', 'enrollment_request',
			'r' || g, '', '', 'pending', 3, 'null', NULL, NULL, NULL,
			'', 0, '', NULL, '', NULL, NULL, 1, now(), NULL, 1
		FROM generate_series(1, 20) g`, s.prefix)
	_, err := db.ExecContext(t.Context(), fill)
	require.NoError(t, err)

	at := "2026-01-01 00:00:00+00"
	advance := []any{"due", 0, "", nil, "owner", at, nil}
	tests := []struct {
		name string
		text string
		args []any
	}{
		{"Approve", s.q.approveInPlace, append(append([]any{
			"00000010", "{p}", `[{"user_id":"u","comment":"","at":0}]`, "u", "", at,
		}, advance...), pendingArg, "{1}", "{f}")},
		{"ApproveBelow", s.q.approveBelowInPlace, []any{
			"00000010", "{p}", `[{"user_id":"u","comment":"","at":0}]`, "u", "", at,
			pendingArg, "{1}", "{f}",
		}},
		{"Reject", s.q.rejectInPlace, append(append([]any{
			"00000010", "{p}", "u", "", at,
		}, advance...), pendingArg, "{1}")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			plan := genericPlan(t, s, tt.text, tt.args)
			require.NotContains(t, plan, "pending_resource", plan)
			require.NotContains(t, plan, "Seq Scan", plan)
			require.NotContains(t, plan, "Filter: ((id = $1)", plan)
		})
	}
}
