package sqlstore_test

import (
	"database/sql"
	"strings"
	"sync"
	"testing"

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
	})
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
