// Package memdb is an in-memory [approval.Store] on hashicorp/go-memdb.
//
// It keeps nothing across restarts, so it suits tests, demos and hosts
// that rebuild their work items on start-up. go-memdb runs one write
// transaction at a time, which makes every conditional write of the
// store contract atomic without locks of its own; reads never block.
//
// Stored objects are never changed in place: every write inserts a
// fresh copy, and every read hands out a copy, so callers may change
// what they get.
package memdb

import (
	"context"
	"fmt"

	"github.com/hashicorp/go-memdb"

	"github.com/otpki/workitems/approval"
)

// Store is an in-memory [approval.Store]. The zero value is not usable;
// call [New].
type Store struct {
	db *memdb.MemDB
}

var _ approval.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	db, err := memdb.NewMemDB(schema())
	if err != nil {
		// The schema is a constant of this package, checked by its
		// tests: an error here is a bug, not a condition to handle.
		panic(fmt.Sprintf("memdb: invalid schema: %v", err))
	}

	return &Store{db: db}
}

// write runs fn in a write transaction and commits when it returns nil.
func (s *Store) write(ctx context.Context, fn func(*memdb.Txn) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}

	txn := s.db.Txn(true)
	defer txn.Abort()

	if err := fn(txn); err != nil {
		return err
	}
	txn.Commit()

	return nil
}

// read runs fn in a read transaction.
func (s *Store) read(ctx context.Context, fn func(*memdb.Txn) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}

	return fn(s.db.Txn(false))
}

func getProfileTxn(txn *memdb.Txn, id string) (*approval.Profile, error) {
	raw, err := txn.First(tableProfiles, indexID, id+sep)
	if err != nil {
		return nil, fmt.Errorf("memdb: %w", err)
	}

	if raw == nil {
		return nil, fmt.Errorf("profile %q: %w", id, approval.ErrNotFound)
	}

	return raw.(*approval.Profile), nil
}

func getItemTxn(txn *memdb.Txn, id string) (*approval.WorkItem, error) {
	raw, err := txn.First(tableItems, indexID, id+sep)
	if err != nil {
		return nil, fmt.Errorf("memdb: %w", err)
	}

	if raw == nil {
		return nil, fmt.Errorf("work item %q: %w", id, approval.ErrNotFound)
	}

	return raw.(*approval.WorkItem), nil
}

func insert(txn *memdb.Txn, table string, obj any) error {
	if err := txn.Insert(table, obj); err != nil {
		return fmt.Errorf("memdb: insert into %s: %w", table, err)
	}

	return nil
}
