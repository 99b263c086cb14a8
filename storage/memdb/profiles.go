package memdb

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/go-memdb"

	"github.com/otpki/workitems/approval"
)

// CreateProfile implements [approval.Store].
func (s *Store) CreateProfile(ctx context.Context, p approval.Profile) error {
	return s.write(ctx, func(txn *memdb.Txn) error {
		_, err := getProfileTxn(txn, p.ID)
		switch {
		case err == nil:
			return fmt.Errorf("profile %q exists: %w", p.ID, approval.ErrConflict)
		case !errors.Is(err, approval.ErrNotFound):
			return err
		}

		if err := checkNameTxn(txn, p); err != nil {
			return err
		}

		p = p.Clone()

		return insert(txn, tableProfiles, &p)
	})
}

// checkNameTxn refuses p's name when another profile has it.
func checkNameTxn(txn *memdb.Txn, p approval.Profile) error {
	raw, err := txn.First(tableProfiles, indexName, p.Name+sep)
	if err != nil {
		return fmt.Errorf("memdb: %w", err)
	}

	if raw != nil && raw.(*approval.Profile).ID != p.ID {
		return fmt.Errorf("%q: %w", p.Name, approval.ErrNameTaken)
	}

	return nil
}

// GetProfile implements [approval.Store].
func (s *Store) GetProfile(ctx context.Context, id string) (approval.Profile, error) {
	var p approval.Profile
	err := s.read(ctx, func(txn *memdb.Txn) error {
		stored, err := getProfileTxn(txn, id)
		if err != nil {
			return err
		}

		p = stored.Clone()

		return nil
	})

	return p, err
}

// ListProfiles implements [approval.Store].
func (s *Store) ListProfiles(ctx context.Context, after string,
	limit int,
) ([]approval.Profile, error) {
	var out []approval.Profile
	err := s.read(ctx, func(txn *memdb.Txn) error {
		start := ""
		if after != "" {
			start = after + sep + sep
		}

		it, err := txn.LowerBound(tableProfiles, indexID, start)
		if err != nil {
			return fmt.Errorf("memdb: %w", err)
		}

		for raw := it.Next(); raw != nil && len(out) < limit; raw = it.Next() {
			out = append(out, raw.(*approval.Profile).Clone())
		}

		return nil
	})

	return out, err
}

// UpdateProfile implements [approval.Store].
func (s *Store) UpdateProfile(ctx context.Context, p approval.Profile, readVersion int64) error {
	return s.write(ctx, func(txn *memdb.Txn) error {
		cur, err := getProfileTxn(txn, p.ID)
		if err != nil {
			return err
		}

		if cur.Version != readVersion {
			return fmt.Errorf("profile %q at version %d, not %d: %w",
				p.ID, cur.Version, readVersion, approval.ErrConflict)
		}

		if err := checkNameTxn(txn, p); err != nil {
			return err
		}

		p = p.Clone()

		return insert(txn, tableProfiles, &p)
	})
}

// DeleteProfile implements [approval.Store].
func (s *Store) DeleteProfile(ctx context.Context, id string, readVersion int64) error {
	return s.write(ctx, func(txn *memdb.Txn) error {
		cur, err := getProfileTxn(txn, id)
		if err != nil {
			return err
		}

		if cur.Version != readVersion {
			return fmt.Errorf("profile %q at version %d, not %d: %w",
				id, cur.Version, readVersion, approval.ErrConflict)
		}

		// First looks up a key prefix, and the prefix of a profile's
		// Pending items ends with sep, so it finds only theirs.
		pending, err := txn.First(tableItems, indexStatus,
			byStatus.prefix(like{tag: byte(codePending), text: id}, 0))
		if err != nil {
			return fmt.Errorf("memdb: %w", err)
		}

		if pending != nil {
			return fmt.Errorf("profile %q bound to work item %q: %w",
				id, pending.(*record).id(), approval.ErrProfileInUse)
		}

		if err := txn.Delete(tableProfiles, cur); err != nil {
			return fmt.Errorf("memdb: delete profile: %w", err)
		}

		return nil
	})
}
