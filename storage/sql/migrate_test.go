package sqlstore_test

import (
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpki/workitems/approval"
	sqlstore "github.com/otpki/workitems/storage/sql"
)

func TestMigrate(t *testing.T) {
	t.Parallel()

	forEachBackend(t, func(t *testing.T, b backend) {
		t.Helper()

		t.Run("UpFromEmpty", func(t *testing.T) {
			t.Parallel()
			testMigrateUp(t, b)
		})

		t.Run("RerunChangesNothing", func(t *testing.T) {
			t.Parallel()
			testMigrateRerun(t, b)
		})

		t.Run("RacingMigrators", func(t *testing.T) {
			t.Parallel()
			testMigrateRace(t, b)
		})

		t.Run("RefusesNewerSchema", func(t *testing.T) {
			t.Parallel()
			testMigrateTooNew(t, b)
		})

		t.Run("UpgradeVersionsPendingItems", func(t *testing.T) {
			t.Parallel()
			testMigrateProfileVersion(t, b, 0)
		})

		// MySQL commits each statement of a version on its own, so a
		// migrator may stop after any of them and the next one runs
		// them all again.
		if b.dialect == sqlstore.MySQL {
			for _, partial := range []int{4, 5, 6} {
				t.Run(fmt.Sprintf("UpgradeStoppedAfter%d", partial), func(t *testing.T) {
					t.Parallel()
					testMigrateProfileVersion(t, b, partial)
				})
			}
		}
	})
}

// profileVersionStep is the schema version that gives each work item
// the version of its profile.
var profileVersionStep = map[sqlstore.Dialect]int{
	sqlstore.Postgres: 3,
	sqlstore.MySQL:    2,
	sqlstore.SQLite:   2,
}

// testMigrateProfileVersion migrates a schema from before work items
// carried their profile's version, with a Pending and a decided item
// in it and the first partial statements of the version that adds it
// already run, and checks that the Pending item can be approved under its profile
// as it is, and only under it.
func testMigrateProfileVersion(t *testing.T, b backend, partial int) {
	t.Helper()

	ctx := t.Context()
	db := b.open(t)
	s := unmigrated(t, b, db, randomPrefix(t))
	step := profileVersionStep[b.dialect]
	require.NoError(t, s.MigrateTo(ctx, step-1))

	prof := approval.Profile{
		ID: "p1", Name: "Issuance", RequiredApprovals: 2,
		Approvers: approval.Approvers{Users: []string{"alice", "bob", "dave"}},
		Version:   4,
	}
	require.NoError(t, s.CreateProfile(ctx, prof))

	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	pending := approval.WorkItem{
		ID: "w1", ProfileID: prof.ID, ResourceType: approval.IssuanceRequest,
		ResourceID: "ir-1", RequestedBy: "carol",
		Status: approval.StatusPending, RequiredApprovals: 2,
		Version: 1, CreatedAt: at,
	}
	decided := pending
	decided.ID, decided.ResourceID = "w2", "ir-2"
	decided.Status, decided.RequiredApprovals = approval.StatusApproved, 0
	decided.DecidedAt = at
	for _, w := range []approval.WorkItem{pending, decided} {
		require.NoError(t, s.InsertUnversionedItem(ctx, w))
	}
	require.NoError(t, s.StartMigration(ctx, step, partial))

	require.NoError(t, s.Migrate(ctx))
	require.Equal(t, knownVersion(t, s), countVersions(t, db, s))

	engine, err := approval.NewEngine(s, approval.AdvancerFunc(noAdvance), nil)
	require.NoError(t, err)

	got, err := engine.Approve(ctx, pending.ID, approval.Principal{UserID: "alice"}, "")
	require.NoError(t, err)
	require.Equal(t, int64(2), got.Version)

	// A change derived under the version before the edit is refused.
	c, err := approval.Approve(got, prof, approval.Principal{UserID: "bob"}, "", at,
		approval.Lease{})
	require.NoError(t, err)

	prof.Approvers.Users = []string{"alice", "dave"}
	_, err = engine.UpdateProfile(ctx, prof)
	require.NoError(t, err)

	_, err = s.Apply(ctx, c)
	require.ErrorIs(t, err, approval.ErrConflict)

	_, err = engine.Approve(ctx, decided.ID, approval.Principal{UserID: "bob"}, "")
	require.ErrorIs(t, err, approval.ErrNotPending)
}

// unmigrated returns a store with a fresh prefix whose tables do not
// exist yet, and drops whatever they become when the test ends.
func unmigrated(t *testing.T, b backend, db *sql.DB, prefix string) *sqlstore.Store {
	t.Helper()

	s, err := sqlstore.New(db, b.dialect, &sqlstore.Config{TablePrefix: prefix})
	require.NoError(t, err)
	dropOnCleanup(t, db, s)

	return s
}

func testMigrateUp(t *testing.T, b backend) {
	t.Helper()

	db := b.open(t)
	s := unmigrated(t, b, db, randomPrefix(t))

	have, known, err := s.SchemaVersion(t.Context())
	require.NoError(t, err)
	require.Zero(t, have)
	require.Positive(t, known)

	_, err = s.GetProfile(t.Context(), "p1")
	require.Error(t, err, "tables must not exist before Migrate")

	require.NoError(t, s.Migrate(t.Context()))

	have, _, err = s.SchemaVersion(t.Context())
	require.NoError(t, err)
	require.Equal(t, known, have)

	requireUsable(t, s)
}

func testMigrateRerun(t *testing.T, b backend) {
	t.Helper()

	db := b.open(t)
	s := unmigrated(t, b, db, randomPrefix(t))
	require.NoError(t, s.Migrate(t.Context()))

	requireUsable(t, s)
	require.NoError(t, s.Migrate(t.Context()))

	// The data survives, and so does the single version row each.
	_, err := s.GetProfile(t.Context(), "p1")
	require.NoError(t, err)
	require.Equal(t, knownVersion(t, s), countVersions(t, db, s))
}

func testMigrateRace(t *testing.T, b backend) {
	t.Helper()

	prefix := randomPrefix(t)

	const migrators = 4
	stores := make([]*sqlstore.Store, migrators)
	for i := range stores {
		stores[i] = unmigrated(t, b, b.open(t), prefix)
	}

	var wg sync.WaitGroup
	errs := make([]error, migrators)
	for i, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Migrate(t.Context())
		}()
	}
	wg.Wait()

	for _, err := range errs {
		require.NoError(t, err)
	}

	require.Equal(t, knownVersion(t, stores[0]), countVersions(t, b.open(t), stores[0]))
	requireUsable(t, stores[migrators-1])
}

func testMigrateTooNew(t *testing.T, b backend) {
	t.Helper()

	db := b.open(t)
	s := unmigrated(t, b, db, randomPrefix(t))
	require.NoError(t, s.Migrate(t.Context()))

	known := knownVersion(t, s)
	text := strings.NewReplacer("{p}", s.TablePrefix(), "{now}", nowLiteral(b.dialect)).
		Replace("INSERT INTO {p}schema_versions (version, applied_at) VALUES (?, {now})")
	_, err := db.ExecContext(t.Context(), rebind(b.dialect, text), known+1)
	require.NoError(t, err)

	err = s.Migrate(t.Context())
	require.ErrorIs(t, err, sqlstore.ErrSchemaTooNew)

	var ve *sqlstore.SchemaVersionError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, known+1, ve.Have)
	require.Equal(t, known, ve.Known)
}

// requireUsable writes and reads a profile through s.
func requireUsable(t *testing.T, s *sqlstore.Store) {
	t.Helper()

	p := approval.Profile{
		ID:                "p1",
		Name:              "migrated",
		RequiredApprovals: 1,
		Approvers:         approval.Approvers{Users: []string{"alice"}},
		Version:           1,
	}
	require.NoError(t, s.CreateProfile(t.Context(), p))

	got, err := s.GetProfile(t.Context(), "p1")
	require.NoError(t, err)
	require.Equal(t, p, got)
}

func knownVersion(t *testing.T, s *sqlstore.Store) int {
	t.Helper()

	_, known, err := s.SchemaVersion(t.Context())
	require.NoError(t, err)

	return known
}

func countVersions(t *testing.T, db *sql.DB, s *sqlstore.Store) int {
	t.Helper()

	var n int
	text := strings.ReplaceAll("SELECT COUNT(*) FROM {p}schema_versions", "{p}", s.TablePrefix())
	err := db.QueryRowContext(t.Context(), text).Scan(&n)
	require.NoError(t, err)

	return n
}

// nowLiteral is a current time in the column type of each dialect's
// schema_versions.applied_at.
func nowLiteral(d sqlstore.Dialect) string {
	switch d {
	case sqlstore.Postgres:
		return "now()"
	case sqlstore.MySQL:
		return "NOW(6)"
	default:
		return "0"
	}
}
