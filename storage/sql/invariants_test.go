package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otpki/workitems/approval"
	sqlstore "github.com/otpki/workitems/storage/sql"
)

// faultTrials returns how often a fault test repeats: def by default,
// or WORKITEMS_TRIALS when set, for heavier runs.
func faultTrials(def int) int {
	n, err := strconv.Atoi(os.Getenv("WORKITEMS_TRIALS"))
	if err == nil && n > 0 {
		return n
	}

	return def
}

// invariantReport says what checkInvariants looked at.
type invariantReport struct {
	items    int
	decided  int
	rows     int
	partial  int
	problems []string
}

// checkInvariants reads every work item of s, and every row of its
// approvals table straight from db, and counts the items that break a
// rule of a committed write: the approvals table and the item's own
// list agree, no user approves twice, and status, approvals,
// rejection and advance fit together. It reads with ctx, which may
// outlive the test's own context.
func checkInvariants(ctx context.Context, t *testing.T, db *sql.DB,
	s *sqlstore.Store,
) invariantReport {
	t.Helper()

	rows := approvalRows(ctx, t, db, s)

	var rep invariantReport
	after := ""
	for {
		page, err := s.ListWorkItems(ctx, approval.WorkItemQuery{
			After: after, Limit: approval.MaxPageSize,
		})
		require.NoError(t, err)

		for _, w := range page {
			rep.items++
			if w.Status.Decided() {
				rep.decided++
			}

			if why := itemProblem(w, rows[w.ID]); why != "" {
				rep.partial++
				rep.problems = append(rep.problems, w.ID+": "+why)
			}
			rep.rows += len(rows[w.ID])
			delete(rows, w.ID)
		}

		if len(page) < approval.MaxPageSize {
			break
		}
		after = page[len(page)-1].ID
	}

	for id := range rows {
		rep.partial++
		rep.problems = append(rep.problems, id+": approval rows of no work item")
	}

	return rep
}

// requireNoPartialRows fails the test when rep found a broken item.
func requireNoPartialRows(t *testing.T, rep invariantReport) {
	t.Helper()

	require.Zero(t, rep.partial, "partial rows: %v", rep.problems)
}

// approvalRow is one row of the approvals table.
type approvalRow struct {
	user, comment string
}

func approvalRows(ctx context.Context, t *testing.T, db *sql.DB,
	s *sqlstore.Store,
) map[string][]approvalRow {
	t.Helper()

	text := "SELECT work_item_id, user_id, comment FROM " +
		s.TablePrefix() + "approvals ORDER BY work_item_id, user_id"

	res, err := db.QueryContext(ctx, text)
	require.NoError(t, err)
	defer res.Close()

	out := make(map[string][]approvalRow)
	for res.Next() {
		var id string
		var a approvalRow
		require.NoError(t, res.Scan(&id, &a.user, &a.comment))
		out[id] = append(out[id], a)
	}
	require.NoError(t, res.Err())

	return out
}

// itemProblem says what is wrong with w and its approval rows, or
// returns "".
func itemProblem(w approval.WorkItem, rows []approvalRow) string {
	var listed []approvalRow
	for _, a := range w.Approvals {
		listed = append(listed, approvalRow{user: a.UserID, comment: a.Comment})
	}
	slices.SortFunc(listed, func(a, b approvalRow) int {
		return strings.Compare(a.user, b.user)
	})

	switch {
	case !slices.Equal(listed, rows):
		return fmt.Sprintf("approvals %v but rows %v", listed, rows)
	case hasDuplicateUser(listed):
		return "a user approved twice"
	}

	n, need := len(w.Approvals), w.RequiredApprovals
	adv := w.Advance.State
	switch w.Status {
	case approval.StatusPending:
		if n >= need || w.Rejection != nil || adv != approval.AdvanceNone ||
			!w.DecidedAt.IsZero() {
			return fmt.Sprintf("pending with %d of %d approvals, "+
				"rejection %v, advance %q", n, need, w.Rejection, adv)
		}
	case approval.StatusApproved:
		if n != need || w.Rejection != nil || adv == approval.AdvanceNone ||
			w.DecidedAt.IsZero() {
			return fmt.Sprintf("approved with %d of %d approvals, "+
				"rejection %v, advance %q", n, need, w.Rejection, adv)
		}
	case approval.StatusRejected:
		if n >= need || w.Rejection == nil || adv == approval.AdvanceNone ||
			w.DecidedAt.IsZero() {
			return fmt.Sprintf("rejected with %d of %d approvals, "+
				"rejection %v, advance %q", n, need, w.Rejection, adv)
		}
	default:
		return fmt.Sprintf("status %q", w.Status)
	}

	return ""
}

func hasDuplicateUser(sorted []approvalRow) bool {
	for i := 1; i < len(sorted); i++ {
		if sorted[i].user == sorted[i-1].user {
			return true
		}
	}

	return false
}
