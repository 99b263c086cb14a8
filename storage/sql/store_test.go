package sqlstore_test

import (
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpki/workitems/approval"
	sqlstore "github.com/otpki/workitems/storage/sql"
)

func TestNewRefusesBadConfig(t *testing.T) {
	t.Parallel()

	db := &sql.DB{}
	tests := []struct {
		name    string
		db      *sql.DB
		dialect sqlstore.Dialect
		prefix  string
	}{
		{"NilDB", nil, sqlstore.SQLite, ""},
		{"UnknownDialect", db, sqlstore.Dialect(42), ""},
		{"UppercasePrefix", db, sqlstore.SQLite, "Work_"},
		{"QuotedPrefix", db, sqlstore.SQLite, `x"; DROP TABLE y; --`},
		{"LeadingDigit", db, sqlstore.SQLite, "1abc_"},
		{"TooLong", db, sqlstore.SQLite, "a" + strings.Repeat("b", 31)},
		{"Dash", db, sqlstore.SQLite, "work-items_"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			_, err := sqlstore.New(tt.db, tt.dialect, &sqlstore.Config{TablePrefix: tt.prefix})
			require.ErrorIs(t, err, approval.ErrInvalidArgument)
		})
	}
}

func TestNewDefaults(t *testing.T) {
	t.Parallel()

	s, err := sqlstore.New(&sql.DB{}, sqlstore.MySQL, nil)
	require.NoError(t, err)
	require.Equal(t, sqlstore.DefaultTablePrefix, s.TablePrefix())
	require.Equal(t, sqlstore.MySQL, s.Dialect())
	require.Equal(t, []string{
		"workitems_approvals", "workitems_work_items",
		"workitems_profiles", "workitems_schema_versions",
	}, s.Tables())
}

// TestTextsAndTimesRoundTrip stores the largest and oddest values the
// approval package accepts and reads them back byte for byte.
func TestTextsAndTimesRoundTrip(t *testing.T) {
	t.Parallel()

	forEachBackend(t, func(t *testing.T, b backend) {
		t.Helper()

		s := newStore(t, b, b.open(t), randomPrefix(t))

		p, w := oddValues()
		require.NoError(t, s.CreateProfile(t.Context(), p))
		require.NoError(t, s.CreateWorkItem(t.Context(), w, p.Version))

		gotP, err := s.GetProfile(t.Context(), p.ID)
		require.NoError(t, err)
		require.Equal(t, p, gotP)

		gotW, gotWP, err := s.GetWorkItemAndProfile(t.Context(), w.ID)
		require.NoError(t, err)
		require.Equal(t, w, gotW)
		require.Equal(t, p, gotWP)

		// Approve it with a comment of the largest size, at the last
		// microsecond of a far year.
		at := time.Date(2099, 12, 31, 23, 59, 59, 999999000, time.UTC)
		c := approval.Change{
			Action:      approval.ActionApprove,
			ReadVersion: w.Version,
			Grants: []approval.Grant{{
				ProfileID: p.ID, ProfileVersion: p.Version,
				AllowSelfApproval: p.AllowSelfApproval,
			}},
			Approval: &approval.Approval{
				UserID:  "approver-\u00e9",
				Comment: strings.Repeat("\u00e9", approval.MaxTextLen/2),
				At:      at,
			},
			Lease: approval.Lease{Owner: "engine", Until: at.Add(time.Minute)},
		}
		next, err := c.On(w, p.Version)
		require.NoError(t, err)
		c.Item = next

		written, err := s.Apply(t.Context(), c)
		require.NoError(t, err)
		require.Equal(t, next, written)

		got, err := s.GetWorkItem(t.Context(), w.ID)
		require.NoError(t, err)
		require.Equal(t, next, got)
	})
}

// oddValues returns a profile and a Pending work item with IDs of the
// longest length in multi-byte characters, texts of the largest size
// with every kind of character the package accepts, empty and nil
// lists, and zero and extreme times.
func oddValues() (approval.Profile, approval.WorkItem) {
	// 63 four-byte runes and three bytes: 255 bytes.
	longID := strings.Repeat("\U0001F512", 63) + "abc"

	var text strings.Builder
	for text.Len() < approval.MaxTextLen-8 {
		text.WriteString("a\t\r\n\u00e9\u4e2d\U0001F600'\"\\%_;\x01\x7f ")
	}
	body := text.String()[:approval.MaxTextLen-8]
	body = strings.ToValidUTF8(body, "")

	p := approval.Profile{
		ID:                longID,
		Name:              "name \u00e9\u4e2d\U0001F600 ' \" \\ %",
		Description:       body,
		RequiredApprovals: 2,
		Approvers: approval.Approvers{
			Users:  []string{"alice", longID},
			Groups: []string{},
		},
		AllowSelfApproval: true,
		Version:           7,
		CreatedAt:         time.Date(1970, 1, 1, 0, 0, 0, 1000, time.UTC),
		UpdatedAt:         time.Date(2262, 4, 11, 23, 47, 16, 854775000, time.UTC),
	}

	w := approval.WorkItem{
		ID:                "item-" + longID[:200],
		ProfileID:         longID,
		ResourceType:      approval.IssuanceRequest,
		ResourceID:        longID,
		Description:       body,
		RequestedBy:       "requester \u00e9",
		Status:            approval.StatusPending,
		RequiredApprovals: 2,
		Approvals:         []approval.Approval{},
		Version:           1,
		CreatedAt:         time.Date(2026, 2, 28, 23, 59, 59, 123456000, time.UTC),
	}

	return p, w
}

// TestMySQLDSNOptions reads with and without parseTime, and with a
// loc other than UTC: the store needs none of them.
func TestMySQLDSNOptions(t *testing.T) {
	t.Parallel()

	b := backends()[2]
	db := b.open(t)
	prefix := randomPrefix(t)
	s := newStore(t, b, db, prefix)

	p, w := oddValues()
	require.NoError(t, s.CreateProfile(t.Context(), p))
	require.NoError(t, s.CreateWorkItem(t.Context(), w, p.Version))

	base := mysqlDSN(t)
	for _, opts := range []string{
		"parseTime=false",
		"parseTime=true&loc=Asia%2FTokyo",
		"parseTime=false&interpolateParams=false",
	} {
		t.Run(opts, func(t *testing.T) {
			t.Parallel()

			other, err := sql.Open("mysql", withOptions(base, opts))
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, other.Close()) })

			s2, err := sqlstore.New(other, sqlstore.MySQL, &sqlstore.Config{TablePrefix: prefix})
			require.NoError(t, err)

			got, gotP, err := s2.GetWorkItemAndProfile(t.Context(), w.ID)
			require.NoError(t, err)
			require.Equal(t, w, got)
			require.Equal(t, p, gotP)
		})
	}
}
