package authz_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otpki/workitems/authz"
)

func TestCheck(t *testing.T) {
	t.Parallel()

	approvers := authz.Approvers{
		Users:  []string{"alice"},
		Groups: []string{"auditors", "security"},
		Roles:  []string{"ca-admin"},
	}

	cases := []struct {
		name string
		p    authz.Principal
		want authz.Match
	}{
		{"ListedUser", authz.Principal{UserID: "alice"}, authz.ByUser},
		{"MemberOfListedGroup", authz.Principal{
			UserID: "bob", Groups: []string{"sales", "security"},
		}, authz.ByGroup},
		{"HolderOfListedRole", authz.Principal{
			UserID: "carol", Roles: []string{"ca-admin"},
		}, authz.ByRole},
		{"UserWinsOverGroup", authz.Principal{
			UserID: "alice", Groups: []string{"auditors"},
		}, authz.ByUser},
		{"NoMatch", authz.Principal{
			UserID: "mallory", Groups: []string{"sales"}, Roles: []string{"ra"},
		}, authz.NoMatch},
		{"NoUserID", authz.Principal{
			Groups: []string{"auditors"}, Roles: []string{"ca-admin"},
		}, authz.NoMatch},
		{"EmptyGroupNameNeverMatches", authz.Principal{
			UserID: "dave", Groups: []string{""},
		}, authz.NoMatch},
		{"CaseMatters", authz.Principal{UserID: "Alice"}, authz.NoMatch},
	}

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()

			require.Equal(t, c.want, approvers.Check(c.p))
			require.Equal(t, c.want != authz.NoMatch, approvers.Allows(c.p))
		})
	}
}

func TestEmptyApproversAllowNoOne(t *testing.T) {
	t.Parallel()

	var none authz.Approvers
	require.True(t, none.Empty())
	require.False(t, none.Allows(authz.Principal{UserID: "alice"}))

	withEmptyGroup := authz.Approvers{Groups: []string{""}}
	require.False(t, withEmptyGroup.Allows(authz.Principal{
		UserID: "alice", Groups: []string{""},
	}))
}

func TestClone(t *testing.T) {
	t.Parallel()

	a := authz.Approvers{Users: []string{"alice"}, Roles: []string{"r"}}
	c := a.Clone()
	c.Users[0] = "mallory"

	require.Equal(t, "alice", a.Users[0])
	require.Nil(t, c.Groups)
}

func TestMatchString(t *testing.T) {
	t.Parallel()

	require.Equal(t, "user", authz.ByUser.String())
	require.Equal(t, "group", authz.ByGroup.String())
	require.Equal(t, "role", authz.ByRole.String())
	require.Equal(t, "none", authz.NoMatch.String())
}
