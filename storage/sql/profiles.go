package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/otpki/workitems/approval"
)

// CreateProfile implements [approval.Store].
func (s *Store) CreateProfile(ctx context.Context, p approval.Profile) error {
	args, err := s.profileArgs(p)
	if err != nil {
		return err
	}
	args = append([]any{p.ID}, args...)

	err = s.retry(ctx, "create profile", func() error {
		_, err := s.writer().ExecContext(ctx, s.q.insertProfile, args...)
		return err
	})
	if err == nil {
		return nil
	}

	if !isUnique(err) {
		return fmt.Errorf("insert profile %q: %w", p.ID, err)
	}

	// The ID or the name is taken; the ID is checked first, as
	// every backend does.
	_, getErr := s.GetProfile(ctx, p.ID)
	switch {
	case getErr == nil:
		return fmt.Errorf("profile %q exists: %w", p.ID, approval.ErrConflict)
	case !errors.Is(getErr, approval.ErrNotFound):
		return getErr
	}

	return fmt.Errorf("%q: %w", p.Name, approval.ErrNameTaken)
}

// GetProfile implements [approval.Store].
func (s *Store) GetProfile(ctx context.Context, id string) (approval.Profile, error) {
	row := s.reader().QueryRowContext(ctx, s.q.getProfile, id)

	p, err := s.scanProfile(row)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return approval.Profile{}, fmt.Errorf("profile %q: %w", id, approval.ErrNotFound)
	case err != nil:
		return approval.Profile{}, fmt.Errorf("get profile %q: %w", id, err)
	}

	return p, nil
}

// ListProfiles implements [approval.Store].
func (s *Store) ListProfiles(ctx context.Context, after string,
	limit int,
) ([]approval.Profile, error) {
	var out []approval.Profile
	if limit <= 0 {
		return out, nil
	}

	rows, err := s.reader().QueryContext(ctx, s.q.listProfiles, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list profiles: %w", err)
	}
	defer rows.Close()

	for rows.Next() {
		p, err := s.scanProfile(rows)
		if err != nil {
			return nil, fmt.Errorf("list profiles: %w", err)
		}
		out = append(out, p)
	}

	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list profiles: %w", err)
	}

	return out, nil
}

// UpdateProfile implements [approval.Store]. In the same transaction
// it gives the profile's Pending work items the new version, which
// each carries so that a change checks the version on the row it
// writes: the edit waits for changes that hold an item, and a change
// that waited for the edit finds the item moved on. So an edit writes
// every Pending item of its profile, and changes of those items wait
// for it to commit.
func (s *Store) UpdateProfile(ctx context.Context, p approval.Profile, readVersion int64) error {
	args, err := s.profileArgs(p)
	if err != nil {
		return err
	}
	args = append(args, p.ID, readVersion)

	var n int64
	err = s.retry(ctx, "update profile", func() error {
		return s.inTx(ctx, func(tx execer) error {
			res, err := tx.ExecContext(ctx, s.q.updateProfile, args...)
			if err != nil {
				return err
			}

			n, err = affected(res)
			if err != nil || n == 0 {
				return err
			}

			_, err = tx.ExecContext(ctx, s.q.pendingProfileVersion,
				p.Version, p.ID)

			return err
		})
	})

	switch {
	case isUnique(err):
		return fmt.Errorf("%q: %w", p.Name, approval.ErrNameTaken)
	case err != nil:
		return fmt.Errorf("update profile %q: %w", p.ID, err)
	case n > 0:
		return nil
	}

	return s.profileMissed(ctx, p.ID, readVersion)
}

// profileMissed tells why a write conditional on a profile's version
// changed no row: ErrNotFound, ErrConflict, or nil when the row
// matched but the write left it as it was, which MySQL counts as no
// row changed.
func (s *Store) profileMissed(ctx context.Context, id string, readVersion int64) error {
	cur, err := s.GetProfile(ctx, id)
	if err != nil {
		return err
	}

	if cur.Version != readVersion {
		return fmt.Errorf("profile %q at version %d, not %d: %w",
			id, cur.Version, readVersion, approval.ErrConflict)
	}

	return nil
}

// DeleteProfile implements [approval.Store].
func (s *Store) DeleteProfile(ctx context.Context, id string, readVersion int64) error {
	return s.retry(ctx, "delete profile", func() error {
		return s.inTx(ctx, func(tx execer) error {
			return s.deleteProfileTx(ctx, tx, id, readVersion)
		})
	})
}

// deleteProfileTx locks the profile first: a work item being created
// holds a shared lock on it until it commits, so the check for
// Pending items that follows sees every item bound to the profile.
func (s *Store) deleteProfileTx(ctx context.Context, tx execer, id string,
	readVersion int64,
) error {
	var version int64
	err := tx.QueryRowContext(ctx, s.q.lockProfile, id).Scan(&version)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("profile %q: %w", id, approval.ErrNotFound)
	case err != nil:
		return fmt.Errorf("lock profile %q: %w", id, err)
	case version != readVersion:
		return fmt.Errorf("profile %q at version %d, not %d: %w",
			id, version, readVersion, approval.ErrConflict)
	}

	var itemID string
	err = tx.QueryRowContext(ctx, s.q.pendingOfProfile, id).Scan(&itemID)
	switch {
	case err == nil:
		return fmt.Errorf("profile %q bound to work item %q: %w",
			id, itemID, approval.ErrProfileInUse)
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("find pending work item of profile %q: %w", id, err)
	}

	if _, err := tx.ExecContext(ctx, s.q.deleteProfile, id); err != nil {
		return fmt.Errorf("delete profile %q: %w", id, err)
	}

	return nil
}
