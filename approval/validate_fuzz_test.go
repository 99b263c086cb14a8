package approval_test

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/otpki/workitems/approval"
	"github.com/otpki/workitems/storage/memdb"
)

// The fuzz targets check that validation never panics, that every
// refusal is an *InvalidArgumentError naming a field, and that every
// accepted input round-trips byte for byte through an engine. Their
// seed corpora live in testdata/fuzz and run with the ordinary tests.

func newFuzzEngine(t *testing.T) *approval.Engine {
	t.Helper()

	e, err := approval.NewEngine(memdb.New(), approval.AdvancerFunc(noAdvance), nil)
	require.NoError(t, err)

	return e
}

// split turns a fuzzed string into a list: "|" separates entries, and
// the empty string is the empty list.
func split(s string) []string {
	if s == "" {
		return nil
	}

	return strings.Split(s, "|")
}

func requireRefusal(t *testing.T, err error, fieldPrefix string) {
	t.Helper()

	var ia *approval.InvalidArgumentError
	require.ErrorAs(t, err, &ia)
	require.True(t, strings.HasPrefix(ia.Field, fieldPrefix), ia.Field)
	require.NotEmpty(t, ia.Reason)
	require.ErrorIs(t, err, approval.ErrInvalidArgument)
}

func FuzzValidateProfile(f *testing.F) {
	f.Add("Issuance review", "risk: high", 2, "alice|bob", "auditors", "", false)
	f.Add("ab", "", 1, "alice", "", "", true)
	f.Add("  x  y  ", "'; DROP TABLE profiles; --", 5, "", "", "ca-admin", false)
	f.Add("dup", "", 1, "alice|alice", "", "", false)

	f.Fuzz(func(t *testing.T, name, desc string, required int,
		users, groups, roles string, self bool,
	) {
		p := approval.Profile{
			Name:              name,
			Description:       desc,
			RequiredApprovals: required,
			Approvers: approval.Approvers{
				Users:  split(users),
				Groups: split(groups),
				Roles:  split(roles),
			},
			AllowSelfApproval: self,
		}

		err := approval.ValidateProfile(p)
		if err != nil {
			requireRefusal(t, err, "profile.")
			return
		}

		trimmed := strings.TrimSpace(name)
		require.GreaterOrEqual(t, utf8.RuneCountInString(trimmed), 3)
		require.True(t, utf8.ValidString(desc))
		require.GreaterOrEqual(t, required, 1)
		require.False(t, p.Approvers.Empty())

		e := newFuzzEngine(t)
		created, err := e.CreateProfile(t.Context(), p)
		require.NoError(t, err)
		require.Equal(t, trimmed, created.Name)

		got, err := e.GetProfile(t.Context(), created.ID)
		require.NoError(t, err)
		require.Equal(t, created, got)
		require.Equal(t, desc, got.Description)
		require.Equal(t, split(users), got.Approvers.Users)
	})
}

func FuzzWorkItemSpec(f *testing.F) {
	f.Add("enrollment_request", "er-1", "enrollment er-1 for login jdoe", "ra-1")
	f.Add("issuance_request", " ", "", "")
	f.Add("Enrollment Request", "er-1", "", "")
	f.Add("issuance_request", "ir-\x00", "nul", "x")
	f.Add("issuance_request", "ir-1", "bad \xff utf8", "")

	f.Fuzz(func(t *testing.T, typ, resourceID, desc, requestedBy string) {
		e := newFuzzEngine(t)
		p, err := e.CreateProfile(t.Context(), approval.Profile{
			Name: "Fuzz", RequiredApprovals: 1,
			Approvers: approval.Approvers{Users: []string{"alice"}},
		})
		require.NoError(t, err)

		s := approval.WorkItemSpec{
			ProfileID:    p.ID,
			ResourceType: approval.ResourceType(typ),
			ResourceID:   resourceID,
			Description:  desc,
			RequestedBy:  requestedBy,
		}

		w, err := e.CreateWorkItem(t.Context(), s)
		if err != nil {
			requireRefusal(t, err, "work_item.")
			require.ErrorIs(t, s.Validate(), approval.ErrInvalidArgument)

			return
		}

		got, err := e.GetWorkItem(t.Context(), w.ID)
		require.NoError(t, err)
		require.Equal(t, w, got)
		require.Equal(t, resourceID, got.ResourceID)
		require.Equal(t, desc, got.Description)
		require.Equal(t, requestedBy, got.RequestedBy)
	})
}

func FuzzValidatePrincipal(f *testing.F) {
	f.Add("alice", "auditors|security", "ca-admin")
	f.Add("", "auditors", "")
	f.Add(" alice", "", "")
	f.Add("bob", "|", "")
	f.Add("\xfe", "", "")

	f.Fuzz(func(t *testing.T, user, groups, roles string) {
		p := approval.Principal{UserID: user, Groups: split(groups), Roles: split(roles)}

		e := newFuzzEngine(t)
		prof, err := e.CreateProfile(t.Context(), approval.Profile{
			Name: "Fuzz", RequiredApprovals: 1,
			Approvers: approval.Approvers{Groups: []string{"auditors"}},
		})
		require.NoError(t, err)

		ok, err := e.CanApprove(t.Context(), prof.ID, p)
		if approval.ValidatePrincipal(p) != nil {
			requireRefusal(t, err, "principal.")
			return
		}

		require.NoError(t, err)
		require.Equal(t, strings.Contains("|"+groups+"|", "|auditors|"), ok)
	})
}

func FuzzValidateNewWorkItem(f *testing.F) {
	f.Add("w-1", 2, "alice", "looks right", "pending", 1, false)
	f.Add("w-2", 2, "alice|bob", "", "pending", 1, false)
	f.Add("w-3", 3, "alice|alice", "", "pending", 1, false)
	f.Add("w-4", 1, "", "", "approved", 2, false)
	f.Add("w-5", 1, "", "", "pending", 1, true)
	f.Add(" w-6", 0, "", "bad \xff", "pending", 0, false)

	f.Fuzz(func(t *testing.T, id string, required int, users, comment,
		status string, version int, decided bool,
	) {
		store := memdb.New()
		e, err := approval.NewEngine(store, approval.AdvancerFunc(noAdvance), nil)
		require.NoError(t, err)

		p, err := e.CreateProfile(t.Context(), approval.Profile{
			Name: "Fuzz", RequiredApprovals: 1,
			Approvers: approval.Approvers{Roles: []string{"approver"}},
		})
		require.NoError(t, err)

		at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
		w := approval.WorkItem{
			ID:                id,
			ProfileID:         p.ID,
			ResourceType:      approval.EnrollmentRequest,
			ResourceID:        "er-1",
			Status:            approval.Status(status),
			RequiredApprovals: required,
			Version:           int64(version),
			CreatedAt:         at,
		}
		for _, u := range split(users) {
			w.Approvals = append(w.Approvals,
				approval.Approval{UserID: u, Comment: comment, At: at})
		}
		if decided {
			w.DecidedAt = at
		}

		err = approval.ValidateNewWorkItem(w)
		stored := store.CreateWorkItem(t.Context(), w, p.Version)
		if err != nil {
			requireRefusal(t, err, "work_item.")
			requireRefusal(t, stored, "work_item.")

			_, err = store.GetWorkItem(t.Context(), id)
			if !errors.Is(err, approval.ErrInvalidArgument) {
				require.ErrorIs(t, err, approval.ErrNotFound,
					"a refused work item must leave nothing behind")
			}

			return
		}

		require.Equal(t, approval.StatusPending, w.Status)
		require.Less(t, len(w.Approvals), required)
		require.False(t, decided)

		require.NoError(t, stored)
		got, err := store.GetWorkItem(t.Context(), id)
		require.NoError(t, err)
		require.Equal(t, w, got)
	})
}
