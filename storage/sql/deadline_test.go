package sqlstore_test

import (
	"context"
	"database/sql"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpki/workitems/approval"
	sqlstore "github.com/otpki/workitems/storage/sql"
)

// TestDeadlineWhileBlocked makes an approval wait for a lock that
// another connection holds until the call has returned: only the
// call's deadline can end it. It must return with an error and give
// its connection back; then, once the lock is free, the decision has
// either committed whole or left nothing behind. A server may finish
// a statement whose client has gone, so a call that failed may still
// have committed, as any call whose outcome the caller never saw:
// such a decision is then advanced like any other.
func TestDeadlineWhileBlocked(t *testing.T) {
	t.Parallel()

	forEachBackend(t, func(t *testing.T, b backend) {
		t.Helper()

		t.Run("Approval", func(t *testing.T) {
			t.Parallel()
			testDeadlineWhileBlocked(t, b, false, false)
		})

		t.Run("Rejection", func(t *testing.T) {
			t.Parallel()
			testDeadlineWhileBlocked(t, b, false, true)
		})

		t.Run("AdvanceInTx", func(t *testing.T) {
			t.Parallel()
			testDeadlineWhileBlocked(t, b, true, false)
		})
	})
}

// blockBound fails a call that ignores its deadline, instead of
// letting the test hang; it bounds nothing a passing run waits for.
const blockBound = 30 * time.Second

func testDeadlineWhileBlocked(t *testing.T, b backend, inTx, reject bool) {
	t.Helper()

	db, other := b.open(t), b.open(t)
	prefix := randomPrefix(t)
	s := newStore(t, b, other, prefix)
	gated := newGatedTable(t, b, other, prefix)

	cfg := &sqlstore.Config{TablePrefix: prefix}
	if inTx {
		cfg.TxAdvancer = sqlstore.TxAdvancerFunc(gated.record)
	}
	callStore, err := sqlstore.New(db, b.dialect, cfg)
	require.NoError(t, err)

	e, err := approval.NewEngine(callStore, gated.once(db), nil)
	require.NoError(t, err)

	p, err := e.CreateProfile(t.Context(), approval.Profile{
		Name: "Blocked", RequiredApprovals: 1,
		Approvers: approval.Approvers{Users: []string{"alice"}},
	})
	require.NoError(t, err)
	w, err := e.CreateWorkItem(t.Context(), approval.WorkItemSpec{
		ProfileID: p.ID, ResourceType: approval.IssuanceRequest, ResourceID: "ir-1",
	})
	require.NoError(t, err)

	// Lock what the decision must write: the work item, or with an
	// advancing store, the host's table.
	table, key := s.Tables()[1], w.ID
	if inTx {
		table, key = gated.name, ""
	}
	release := holdLock(t, b, other, table, key)

	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()

	done := make(chan error, 1)
	go func() {
		alice := approval.Principal{UserID: "alice"}
		if reject {
			_, err := e.Reject(ctx, w.ID, alice, "no")
			done <- err

			return
		}

		_, err := e.Approve(ctx, w.ID, alice, "")
		done <- err
	}()

	var callErr error
	select {
	case callErr = <-done:
	case <-time.After(blockBound):
		release()
		t.Fatalf("the approval ignored its deadline for %s", blockBound)
	}
	release()

	require.Error(t, callErr)
	require.ErrorIs(t, ctx.Err(), context.DeadlineExceeded)
	require.Zero(t, db.Stats().InUse, "connections in use after the deadline")

	// Taking the lock again waits for whatever the server still runs
	// for the call that gave up.
	holdLock(t, b, other, table, key)()

	got, err := e.GetWorkItem(t.Context(), w.ID)
	require.NoError(t, err)
	requireNoPartialRows(t, checkInvariants(t.Context(), t, other, s))

	outcome := "nothing decided"
	if got.Status.Decided() {
		outcome = "decided after the call returned, advanced later"
		requireAdvancedLater(t, s, gated, other, got, inTx)
	} else {
		require.Empty(t, got.Approvals)
		require.Empty(t, gated.outcomes(t.Context(), t, other))
	}

	t.Logf("%s: blocked call returned at its deadline (%v); %s",
		b.name, callErr, outcome)
}

// requireAdvancedLater checks a decision that committed although its
// call failed: advanced with it, in its transaction, or else due and
// advanced by a later pass once its lease has run out.
func requireAdvancedLater(t *testing.T, s *sqlstore.Store, gated gatedTable,
	db *sql.DB, w approval.WorkItem, inTx bool,
) {
	t.Helper()

	if !inTx {
		require.Equal(t, approval.AdvanceDue, w.Advance.State)

		later, err := approval.NewEngine(s, gated.once(db),
			&approval.Config{Clock: aheadClock{}})
		require.NoError(t, err)
		n, err := later.ResumeAdvances(t.Context())
		require.NoError(t, err)
		require.Equal(t, 1, n)
	}

	require.Equal(t, []approval.Status{w.Status}, gated.outcomes(t.Context(), t, db)[w.ID])
}

// holdLock takes a write lock that a decision needs: on SQLite the
// database's write lock, on a server the row of key in table, or any
// write to table when key is empty. The returned func releases it.
func holdLock(t *testing.T, b backend, db *sql.DB, table, key string) func() {
	t.Helper()

	ctx := context.WithoutCancel(t.Context())
	conn, err := db.Conn(ctx)
	require.NoError(t, err)

	var stmts []string
	switch {
	case b.dialect == sqlstore.SQLite:
		stmts = []string{"BEGIN IMMEDIATE"}
	case key == "" && b.dialect == sqlstore.Postgres:
		stmts = []string{"BEGIN", "LOCK TABLE " + table + " IN EXCLUSIVE MODE"}
	case key == "":
		stmts = []string{"LOCK TABLES " + table + " WRITE"}
	default:
		stmts = []string{
			"BEGIN",
			rebind(b.dialect, "SELECT id FROM "+table+" WHERE id = ? FOR UPDATE"),
		}
	}

	for _, stmt := range stmts {
		args := []any{}
		if key != "" && stmt != "BEGIN" && stmt != "BEGIN IMMEDIATE" {
			args = append(args, key)
		}

		_, err := conn.ExecContext(ctx, stmt, args...)
		require.NoError(t, err, stmt)
	}

	var once sync.Once
	release := func() {
		once.Do(func() {
			end := "ROLLBACK"
			if b.dialect == sqlstore.MySQL && key == "" {
				end = "UNLOCK TABLES"
			}

			// Errorf, not require: release may run in a goroutine.
			if _, err := conn.ExecContext(ctx, end); err != nil {
				t.Errorf("release the lock: %v", err)
			}
			if err := conn.Close(); err != nil {
				t.Errorf("close the locking connection: %v", err)
			}
		})
	}
	t.Cleanup(release)

	return release
}

// TestSQLiteLockWait checks the store's own wait for SQLite's write
// lock on a pool of one connection: a write waits while another
// connection holds the lock and succeeds once it is released, and
// the connection keeps the DSN's busy timeout afterwards.
func TestSQLiteLockWait(t *testing.T) {
	t.Parallel()

	b := backends()[0]
	db, other := b.open(t), b.open(t)
	db.SetMaxOpenConns(1)
	s := newStore(t, b, other, randomPrefix(t))
	callStore, err := sqlstore.New(db, b.dialect, &sqlstore.Config{TablePrefix: s.TablePrefix()})
	require.NoError(t, err)

	var timeout int
	require.NoError(t, db.QueryRowContext(t.Context(), "PRAGMA busy_timeout").Scan(&timeout))
	require.Positive(t, timeout)

	waits := 0
	for _, release := range []time.Duration{0, 20 * time.Millisecond, 100 * time.Millisecond} {
		p := approval.Profile{
			ID: "p-" + release.String(), Name: "Lock wait " + release.String(),
			RequiredApprovals: 1, Approvers: approval.Approvers{Users: []string{"a"}},
			Version: 1,
		}

		unlock := holdLock(t, b, other, "", "")
		go func() {
			time.Sleep(release)
			unlock()
		}()

		// CreateProfile is one statement in autocommit.
		require.NoError(t, callStore.CreateProfile(t.Context(), p))
		waits++

		var after int
		require.NoError(t, db.QueryRowContext(t.Context(), "PRAGMA busy_timeout").Scan(&after))
		require.Equal(t, timeout, after, "busy timeout restored")
	}

	t.Logf("SQLite: %d writes waited for the write lock and took it once released; "+
		"busy timeout of %d ms restored each time", waits, timeout)
}
