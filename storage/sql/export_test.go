package sqlstore

import (
	"context"
	"strings"

	"github.com/otpki/workitems/approval"
)

// CountApprovals returns the rows of the approvals table for a work
// item, for tests that compare them with the item's own list.
func (s *Store) CountApprovals(ctx context.Context, id string) (int, error) {
	var n int

	err := s.db.QueryRowContext(ctx,
		expand("SELECT COUNT(*) FROM {p}approvals WHERE work_item_id = ", s.prefix)+
			placeholder(s.dialect, 1), id).Scan(&n)

	return n, err
}

// MigrateTo applies the schema versions up to version, as a migrator
// of an earlier release leaves the schema.
func (s *Store) MigrateTo(ctx context.Context, version int) error {
	steps, err := loadMigrations(s.dialect)
	if err != nil {
		return err
	}

	if err := s.createVersionTable(ctx, s.db); err != nil {
		return err
	}

	for _, m := range steps[:version] {
		if err := s.applyStep(ctx, s.db, m, false); err != nil {
			return err
		}
	}

	return nil
}

// StartMigration runs the first n statements of a schema version
// without recording it, as a MySQL migrator that stopped half way
// leaves them.
func (s *Store) StartMigration(ctx context.Context, version, n int) error {
	steps, err := loadMigrations(s.dialect)
	if err != nil {
		return err
	}

	// The statements of one version share session variables.
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()

	for _, stmt := range steps[version-1].statements[:n] {
		if _, err := conn.ExecContext(ctx, expand(stmt, s.prefix)); err != nil {
			return err
		}
	}

	return nil
}

// InsertUnversionedItem inserts w as a store of a schema before work
// items carried their profile's version did.
func (s *Store) InsertUnversionedItem(ctx context.Context, w approval.WorkItem) error {
	args, err := s.itemArgs(w)
	if err != nil {
		return err
	}
	args = append([]any{w.ID, w.ProfileID}, args...)

	marks := make([]string, len(args))
	for i := range args {
		marks[i] = placeholder(s.dialect, i+1)
	}

	text := expand("INSERT INTO {p}work_items ("+itemCols+") VALUES (", s.prefix) +
		strings.Join(marks, ", ") + ")"
	_, err = s.db.ExecContext(ctx, text, args...)

	return err
}
