package storagetest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpki/workitems/approval"
)

func testProfiles(t *testing.T, newStore NewStore) {
	t.Helper()

	t.Run("CreateAndGet", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)

		in := approval.Profile{
			Name:              "  Issuance review  ",
			Description:       "risk: high; ünïcode; '; DROP TABLE x; --",
			RequiredApprovals: 2,
			Approvers: approval.Approvers{
				Users:  []string{"alice", "bob"},
				Groups: []string{"auditors"},
				Roles:  []string{"ca-admin", "security officer"},
			},
			AllowSelfApproval: true,
		}
		p, err := b.engine.CreateProfile(t.Context(), in)
		require.NoError(t, err)
		require.NotEmpty(t, p.ID)
		require.Equal(t, "Issuance review", p.Name)
		require.Equal(t, int64(1), p.Version)
		require.Equal(t, epoch, p.CreatedAt)
		require.Equal(t, epoch, p.UpdatedAt)

		got, err := b.engine.GetProfile(t.Context(), p.ID)
		require.NoError(t, err)
		require.Equal(t, p, got)
		require.Equal(t, time.UTC, got.CreatedAt.Location())
	})

	t.Run("CallerChosenID", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)

		p, err := b.engine.CreateProfile(t.Context(), approval.Profile{
			ID: "eep-42", Name: "EE profile", RequiredApprovals: 1,
			Approvers: approval.Approvers{Users: []string{"alice"}},
		})
		require.NoError(t, err)
		require.Equal(t, "eep-42", p.ID)

		_, err = b.engine.CreateProfile(t.Context(), approval.Profile{
			ID: "eep-42", Name: "Other", RequiredApprovals: 1,
			Approvers: approval.Approvers{Users: []string{"alice"}},
		})
		require.ErrorIs(t, err, approval.ErrConflict)
	})

	t.Run("TimesRoundTripToTheMicrosecond", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		b.clock.advance(123456789 * time.Nanosecond)

		p := b.twoOfThree(t, "Precise")
		require.Equal(t, epoch.Add(123456*time.Microsecond), p.CreatedAt)

		got, err := b.engine.GetProfile(t.Context(), p.ID)
		require.NoError(t, err)
		require.True(t, p.CreatedAt.Equal(got.CreatedAt))
		require.Equal(t, p.CreatedAt, got.CreatedAt)
	})

	t.Run("Validation", func(t *testing.T) {
		t.Parallel()
		testProfileValidation(t, newStore)
	})

	t.Run("NamesAreUnique", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		b.twoOfThree(t, "Issuance")
		other := b.twoOfThree(t, "Enrollment")

		_, err := b.engine.CreateProfile(t.Context(), approval.Profile{
			Name: " Issuance ", RequiredApprovals: 1,
			Approvers: approval.Approvers{Users: []string{"alice"}},
		})
		require.ErrorIs(t, err, approval.ErrNameTaken)

		other.Name = "Issuance"
		_, err = b.engine.UpdateProfile(t.Context(), other)
		require.ErrorIs(t, err, approval.ErrNameTaken)

		got, err := b.engine.GetProfile(t.Context(), other.ID)
		require.NoError(t, err)
		require.Equal(t, "Enrollment", got.Name)
	})

	t.Run("Update", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		p := b.twoOfThree(t, "Issuance")
		b.clock.advance(time.Minute)

		p.Description = "now critical"
		p.Approvers.Users = nil
		up, err := b.engine.UpdateProfile(t.Context(), p)
		require.NoError(t, err)
		require.Equal(t, int64(2), up.Version)
		require.Equal(t, epoch, up.CreatedAt)
		require.Equal(t, epoch.Add(time.Minute), up.UpdatedAt)

		got, err := b.engine.GetProfile(t.Context(), p.ID)
		require.NoError(t, err)
		require.Equal(t, up, got)

		// p still says version 1: a stale editor is refused.
		p.Description = "stale"
		_, err = b.engine.UpdateProfile(t.Context(), p)
		require.ErrorIs(t, err, approval.ErrConflict)

		// Version zero applies to whatever is current.
		p.Version = 0
		up, err = b.engine.UpdateProfile(t.Context(), p)
		require.NoError(t, err)
		require.Equal(t, int64(3), up.Version)

		p.ID = "missing"
		_, err = b.engine.UpdateProfile(t.Context(), p)
		require.ErrorIs(t, err, approval.ErrNotFound)
	})

	t.Run("DeleteRefusedWhilePending", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		p := b.twoOfThree(t, "Issuance")
		w := b.item(t, p, "er-1", "")

		err := b.engine.DeleteProfile(t.Context(), p.ID)
		require.ErrorIs(t, err, approval.ErrProfileInUse)

		_, err = b.engine.Reject(t.Context(), w.ID, alice, "no")
		require.NoError(t, err)

		require.NoError(t, b.engine.DeleteProfile(t.Context(), p.ID))

		_, err = b.engine.GetProfile(t.Context(), p.ID)
		require.ErrorIs(t, err, approval.ErrNotFound)

		err = b.engine.DeleteProfile(t.Context(), p.ID)
		require.ErrorIs(t, err, approval.ErrNotFound)

		// The decided item keeps its history and its profile ID.
		got := b.get(t, w.ID)
		require.Equal(t, p.ID, got.ProfileID)
		require.Equal(t, approval.StatusRejected, got.Status)

		_, err = b.engine.Approve(t.Context(), w.ID, bob, "")
		require.ErrorIs(t, err, approval.ErrNotPending)

		// A deleted profile's name is free again.
		b.twoOfThree(t, "Issuance")
	})

	t.Run("ListPages", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)

		var want []string
		for i := range 7 {
			want = append(want, b.twoOfThree(t, fmt.Sprintf("Profile %d", i)).ID)
		}

		var got []string
		req := approval.PageRequest{Limit: 3}
		for {
			page, err := b.engine.ListProfiles(t.Context(), req)
			require.NoError(t, err)
			require.LessOrEqual(t, len(page.Items), 3)

			for _, p := range page.Items {
				got = append(got, p.ID)
			}

			if page.Next == "" {
				break
			}
			req.Cursor = page.Next
		}

		require.Equal(t, sorted(want), got)
	})

	t.Run("CanApprove", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		p := b.twoOfThree(t, "Issuance")

		for _, pr := range []approval.Principal{alice, bob, carol, dave} {
			ok, err := b.engine.CanApprove(t.Context(), p.ID, pr)
			require.NoError(t, err)
			require.True(t, ok, pr.UserID)
		}

		ok, err := b.engine.CanApprove(t.Context(), p.ID, mallory)
		require.NoError(t, err)
		require.False(t, ok)

		_, err = b.engine.CanApprove(t.Context(), "missing", alice)
		require.ErrorIs(t, err, approval.ErrNotFound)

		_, err = b.engine.CanApprove(t.Context(), p.ID, approval.Principal{})
		require.ErrorIs(t, err, approval.ErrInvalidArgument)
	})
}

func testProfileValidation(t *testing.T, newStore NewStore) {
	t.Helper()

	b := setup(t, newStore)

	ok := approval.Profile{
		Name:              "Valid",
		RequiredApprovals: 2,
		Approvers:         approval.Approvers{Users: []string{"a", "b"}},
	}

	cases := []struct {
		field  string
		change func(*approval.Profile)
	}{
		{"profile.name", func(p *approval.Profile) { p.Name = "ab" }},
		{"profile.name", func(p *approval.Profile) { p.Name = "  ab  " }},
		{"profile.name", func(p *approval.Profile) { p.Name = "a\x00b\x00c" }},
		{"profile.name", func(p *approval.Profile) { p.Name = "\xff\xfe\xfd" }},
		{"profile.description", func(p *approval.Profile) {
			p.Description = strings.Repeat("x", approval.MaxTextLen+1)
		}},
		{"profile.required_approvals", func(p *approval.Profile) { p.RequiredApprovals = 0 }},
		{"profile.required_approvals", func(p *approval.Profile) { p.RequiredApprovals = -1 }},
		{"profile.required_approvals", func(p *approval.Profile) { p.RequiredApprovals = 3 }},
		{"profile.required_approvals", func(p *approval.Profile) {
			p.RequiredApprovals = 1 << 40
			p.Approvers.Groups = []string{"g"}
		}},
		{"profile.approvers", func(p *approval.Profile) {
			p.Approvers = approval.Approvers{}
			p.RequiredApprovals = 1
		}},
		{"profile.approvers.users", func(p *approval.Profile) {
			p.Approvers.Users = []string{"a", "a"}
		}},
		{"profile.approvers.users", func(p *approval.Profile) {
			p.Approvers.Users = []string{"a", " "}
		}},
		{"profile.approvers.groups", func(p *approval.Profile) {
			p.Approvers.Groups = []string{""}
		}},
		{"profile.approvers.roles", func(p *approval.Profile) {
			p.Approvers.Roles = []string{strings.Repeat("r", approval.MaxIDLen+1)}
		}},
		{"profile.id", func(p *approval.Profile) { p.ID = " padded " }},
	}

	for _, c := range cases {
		p := ok.Clone()
		c.change(&p)

		_, err := b.engine.CreateProfile(t.Context(), p)

		var ia *approval.InvalidArgumentError
		require.ErrorAs(t, err, &ia, "%+v", p)
		require.Equal(t, c.field, ia.Field)
		require.ErrorIs(t, err, approval.ErrInvalidArgument)
	}

	page, err := b.engine.ListProfiles(t.Context(), approval.PageRequest{})
	require.NoError(t, err)
	require.Empty(t, page.Items, "a refused profile must leave nothing behind")

	// Groups and roles may have any number of members, so a high
	// threshold is allowed when they are listed.
	p := ok.Clone()
	p.RequiredApprovals = 5
	p.Approvers.Roles = []string{"ca-admin"}
	_, err = b.engine.CreateProfile(t.Context(), p)
	require.NoError(t, err)
}
