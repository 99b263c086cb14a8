package sqlstore

import "context"

// CountApprovals returns the rows of the approvals table for a work
// item, for tests that compare them with the item's own list.
func (s *Store) CountApprovals(ctx context.Context, id string) (int, error) {
	var n int

	err := s.db.QueryRowContext(ctx,
		expand("SELECT COUNT(*) FROM {p}approvals WHERE work_item_id = ", s.prefix)+
			placeholder(s.dialect, 1), id).Scan(&n)

	return n, err
}
