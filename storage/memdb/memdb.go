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
//
// # Memory
//
// A work item is stored as a compact record: its times as
// microseconds, its status and resource type as a byte, its ID,
// resource ID, requester and description in one string, and what only
// a decided item has behind a pointer. Reads turn it back into an
// [approval.WorkItem]; times come back equal to what went in, as they
// arrive in UTC truncated to the microsecond, while a finer time loses
// its nanoseconds, as it would in the SQL stores.
//
// Each index entry costs go-memdb some 450 bytes, more than the record
// itself, so a work item has only three: by ID; by status and then
// profile; and by resource. A decided item whose advance is due or has
// failed has a fourth, in the index the advance pass walks. The status
// index serves the inbox and every listing by profile directly. A
// listing by status alone merges the items of every profile that has
// some in that status: it seeks once per such profile, twice after the
// first page, so its cost grows with the number of profiles, where a
// separate status index would cost every item another entry.
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

func getItemTxn(txn *memdb.Txn, id string) (*record, error) {
	raw, err := txn.First(tableItems, indexID, idKey(id))
	if err != nil {
		return nil, fmt.Errorf("memdb: %w", err)
	}

	if raw == nil {
		return nil, fmt.Errorf("work item %q: %w", id, approval.ErrNotFound)
	}

	return raw.(*record), nil
}

func insert(txn *memdb.Txn, table string, obj any) error {
	if err := txn.Insert(table, obj); err != nil {
		return fmt.Errorf("memdb: insert into %s: %w", table, err)
	}

	return nil
}
