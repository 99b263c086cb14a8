package approval

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMemoryFindsProfilesByApprover(t *testing.T) {
	t.Parallel()

	m := newMemory(100)
	byUser := Profile{
		ID: "p1", Version: 1,
		Approvers: Approvers{Users: []string{"alice", "alice"}},
	}
	byGroup := Profile{
		ID: "p2", Version: 1,
		Approvers: Approvers{Groups: []string{"auditors"}},
	}
	byRole := Profile{
		ID: "p3", Version: 1,
		Approvers: Approvers{Users: []string{"alice"}, Roles: []string{"ca-admin"}},
	}
	m.rememberProfiles(byUser, byGroup, byRole)

	ids := func(p Principal) []string {
		var out []string
		for _, prof := range m.profilesListing(p) {
			out = append(out, prof.ID)
		}

		return out
	}

	require.Equal(t, []string{"p1", "p3"}, ids(Principal{UserID: "alice"}))
	require.Equal(t, []string{"p2", "p3"}, ids(Principal{
		UserID: "bob", Groups: []string{"auditors"}, Roles: []string{"ca-admin"},
	}))
	require.Empty(t, ids(Principal{UserID: "auditors"}))

	// A newer version replaces what the older one listed.
	byUser.Version = 2
	byUser.Approvers.Users = []string{"dave"}
	m.rememberProfiles(byUser)
	require.Equal(t, []string{"p3"}, ids(Principal{UserID: "alice"}))
	require.Equal(t, []string{"p1"}, ids(Principal{UserID: "dave"}))

	for _, id := range []string{"p1", "p2", "p3"} {
		m.forgetProfile(id)
	}
	require.Empty(t, m.listed)
}

func TestMemoryListsAtMostMaxListing(t *testing.T) {
	t.Parallel()

	m := newMemory(2 * maxListing)
	admin := Principal{UserID: "u", Roles: []string{"admin"}}
	for i := range maxListing + 1 {
		m.rememberProfiles(Profile{
			ID: fmt.Sprintf("p%d", i), Version: 1,
			Approvers: Approvers{Roles: []string{"admin"}},
		})

		want := i + 1
		if want > maxListing {
			want = 0
		}
		require.Len(t, m.profilesListing(admin), want)
	}
}
