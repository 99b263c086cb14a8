package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/otpki/workitems/approval"
)

// ListWorkItems implements [approval.Store].
//
// Every filter is a bound parameter, and the items come in ID order
// from an index whose leading columns the filters fix: status and ID,
// profile, status and ID, resource, or advance state and ID.
func (s *Store) ListWorkItems(ctx context.Context,
	q approval.WorkItemQuery,
) ([]approval.WorkItem, error) {
	if q.Limit <= 0 {
		return nil, nil
	}

	text, args := s.listQuery(q)

	items, err := s.queryItems(ctx, s.db, text, args...)
	if err != nil {
		return nil, fmt.Errorf("list work items: %w", err)
	}

	return items, nil
}

// listQuery builds the statement for q from fixed fragments; the
// values of q go into bound parameters only.
func (s *Store) listQuery(q approval.WorkItemQuery) (string, []any) {
	var (
		conds []string
		args  []any
	)
	param := func(v any) string {
		args = append(args, v)
		return placeholder(s.dialect, len(args))
	}

	if q.Status != "" {
		conds = append(conds, "status = "+param(string(q.Status)))
	}

	if q.ResourceType != "" {
		conds = append(conds, "resource_type = "+param(string(q.ResourceType)))
	}

	if q.ResourceID != "" {
		conds = append(conds, "resource_id = "+param(q.ResourceID))
	}

	switch len(q.ProfileIDs) {
	case 0:
	case 1:
		conds = append(conds, "profile_id = "+param(q.ProfileIDs[0]))
	default:
		list := inList(s.dialect, len(args)+1, len(q.ProfileIDs))
		for _, id := range q.ProfileIDs {
			args = append(args, id)
		}
		conds = append(conds, "profile_id IN "+list)
	}

	if q.AdvanceState != approval.AdvanceNone {
		// The first condition lets the planner use the partial index
		// of decided items, whatever the parameter's value.
		conds = append(conds, "advance_state <> ''",
			"advance_state = "+param(string(q.AdvanceState)))
	}

	if q.After != "" {
		conds = append(conds, "id > "+param(q.After))
	}

	var b strings.Builder
	b.WriteString(s.q.selectItems)
	for i, c := range conds {
		if i == 0 {
			b.WriteString(" WHERE ")
		} else {
			b.WriteString(" AND ")
		}
		b.WriteString(c)
	}
	b.WriteString(" ORDER BY id LIMIT ")
	b.WriteString(param(q.Limit))

	return b.String(), args
}

// queryItems runs a query that returns work item rows.
func (s *Store) queryItems(ctx context.Context, ex execer, text string,
	args ...any,
) ([]approval.WorkItem, error) {
	rows, err := ex.QueryContext(ctx, text, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()

	var out []approval.WorkItem
	for rows.Next() {
		w, err := s.scanItem(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}

	return out, rows.Err()
}
