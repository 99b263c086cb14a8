package sqlstore_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpki/workitems/approval"
	sqlstore "github.com/otpki/workitems/storage/sql"
)

// sqliteLockRig is a store on a SQLite pool of one connection, so
// that every call of the store and of the test runs on the same
// connection, and a second pool that can hold the write lock.
type sqliteLockRig struct {
	db, other *sql.DB
	store     *sqlstore.Store
	timeout   int
}

func newSQLiteLockRig(t *testing.T) *sqliteLockRig {
	t.Helper()

	b := backends()[0]
	r := &sqliteLockRig{db: b.open(t), other: b.open(t)}
	r.db.SetMaxOpenConns(1)

	s := newStore(t, b, r.other, randomPrefix(t))

	var err error
	r.store, err = sqlstore.New(r.db, b.dialect,
		&sqlstore.Config{TablePrefix: s.TablePrefix()})
	require.NoError(t, err)

	r.timeout = r.busyTimeout(t)
	require.Positive(t, r.timeout)

	return r
}

// busyTimeout reads the busy timeout of the pool's one connection.
func (r *sqliteLockRig) busyTimeout(t *testing.T) int {
	t.Helper()

	var ms int
	err := r.db.QueryRowContext(t.Context(), "PRAGMA busy_timeout").Scan(&ms)
	require.NoError(t, err)

	return ms
}

// requireRestored checks that the connection is back in the pool with
// the DSN's busy timeout and no transaction left open: a transaction
// of its own begins and ends on it.
func (r *sqliteLockRig) requireRestored(t *testing.T) {
	t.Helper()

	require.Zero(t, r.db.Stats().InUse, "connections in use")
	require.Equal(t, r.timeout, r.busyTimeout(t), "busy timeout restored")

	conn, err := r.db.Conn(t.Context())
	require.NoError(t, err)
	defer conn.Close()

	_, err = conn.ExecContext(t.Context(), "BEGIN IMMEDIATE")
	require.NoError(t, err, "no transaction left open")
	_, err = conn.ExecContext(t.Context(), "ROLLBACK")
	require.NoError(t, err)
}

func lockTestProfile(id string, version int64) approval.Profile {
	return approval.Profile{
		ID: id, Name: "Lock " + id, RequiredApprovals: 2,
		Approvers: approval.Approvers{Users: []string{"alice", "bob"}},
		Version:   version,
	}
}

// TestSQLiteLockFailures checks the store's wait for SQLite's write
// lock where it fails: a write that fails on its own, and a write
// and a transaction whose context ends while another connection
// holds the lock. Each must return its error, and leave the
// connection with the DSN's busy timeout and no transaction open.
func TestSQLiteLockFailures(t *testing.T) {
	t.Parallel()

	b := backends()[0]
	r := newSQLiteLockRig(t)
	first := lockTestProfile("p-1", 1)
	require.NoError(t, r.store.CreateProfile(t.Context(), first))

	// A unique violation stops the script after the insert, before
	// the PRAGMA that turns the timeout back on.
	err := r.store.CreateProfile(t.Context(), first)
	require.ErrorIs(t, err, approval.ErrConflict)
	r.requireRestored(t)

	calls := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"Write", func(ctx context.Context) error {
			return r.store.CreateProfile(ctx, lockTestProfile("p-2", 1))
		}},
		{"Transaction", func(ctx context.Context) error {
			return r.store.DeleteProfile(ctx, "p-1", 1)
		}},
	}

	for _, c := range calls {
		release := holdLock(t, b, r.other, "", "")

		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		err := c.call(ctx)
		cancel()
		release()

		require.ErrorIs(t, err, context.DeadlineExceeded, c.name)
		r.requireRestored(t)
	}

	// Nothing of the calls that gave up was written.
	_, err = r.store.GetProfile(t.Context(), "p-2")
	require.ErrorIs(t, err, approval.ErrNotFound)
	_, err = r.store.GetProfile(t.Context(), "p-1")
	require.NoError(t, err)
}

// TestSQLiteLockResults checks that a write run between the PRAGMAs
// of the lock's script reports its own count of changed rows: an
// update at the version stored changes the profile, and one at a
// version gone, right after it, conflicts.
func TestSQLiteLockResults(t *testing.T) {
	t.Parallel()

	r := newSQLiteLockRig(t)
	ctx := t.Context()
	require.NoError(t, r.store.CreateProfile(ctx, lockTestProfile("p-1", 1)))

	next := lockTestProfile("p-1", 2)
	next.Name = "Renamed"
	require.NoError(t, r.store.UpdateProfile(ctx, next, 1))

	got, err := r.store.GetProfile(ctx, "p-1")
	require.NoError(t, err)
	require.Equal(t, "Renamed", got.Name)
	require.Equal(t, int64(2), got.Version)

	stale := lockTestProfile("p-1", 2)
	stale.Name = "Stale"
	require.ErrorIs(t, r.store.UpdateProfile(ctx, stale, 1), approval.ErrConflict)

	got, err = r.store.GetProfile(ctx, "p-1")
	require.NoError(t, err)
	require.Equal(t, "Renamed", got.Name)
	r.requireRestored(t)
}
