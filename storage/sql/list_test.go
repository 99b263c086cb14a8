package sqlstore_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpki/workitems/approval"
)

// TestListMergesProfiles checks the listing that merges one branch
// per profile against a plain filter of every item, page by page.
func TestListMergesProfiles(t *testing.T) {
	t.Parallel()

	forEachBackend(t, func(t *testing.T, b backend) {
		t.Helper()

		s := newStore(t, b, b.open(t), randomPrefix(t))
		ctx := t.Context()

		profiles := []string{"pa", "pb", "pc", "pd"}
		stored := map[string]approval.Profile{}
		for _, id := range profiles {
			p := approval.Profile{
				ID: id, Name: "profile " + id, RequiredApprovals: 1,
				Approvers: approval.Approvers{Users: []string{"u"}}, Version: 1,
			}
			require.NoError(t, s.CreateProfile(ctx, p))
			stored[id] = p
		}

		var all []approval.WorkItem
		at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for n := range 40 {
			w := approval.WorkItem{
				ID:                fmt.Sprintf("item-%03d", n),
				ProfileID:         profiles[(n*7)%len(profiles)],
				ResourceType:      approval.EnrollmentRequest,
				ResourceID:        fmt.Sprintf("r-%d", n),
				Status:            approval.StatusPending,
				RequiredApprovals: 1,
				Version:           1,
				CreatedAt:         at,
			}
			require.NoError(t, s.CreateWorkItem(ctx, w, 1))

			if n%3 == 0 {
				c, err := approval.Reject(w, stored[w.ProfileID],
					approval.Principal{UserID: "u"}, "no", at,
					approval.Lease{Owner: "e", Until: at.Add(time.Minute)})
				require.NoError(t, err)

				w, err = s.Apply(ctx, c)
				require.NoError(t, err)
			}
			all = append(all, w)
		}

		for _, ids := range [][]string{{"pa", "pc"}, {"pd", "pb", "pa"}, profiles} {
			want := slices.DeleteFunc(slices.Clone(all), func(w approval.WorkItem) bool {
				return w.Status != approval.StatusPending || !slices.Contains(ids, w.ProfileID)
			})

			var got []approval.WorkItem
			after := ""
			for {
				page, err := s.ListWorkItems(ctx, approval.WorkItemQuery{
					Status:     approval.StatusPending,
					ProfileIDs: ids,
					After:      after,
					Limit:      4,
				})
				require.NoError(t, err)
				require.LessOrEqual(t, len(page), 4)
				got = append(got, page...)

				if len(page) < 4 {
					break
				}
				after = page[len(page)-1].ID
			}
			require.Equal(t, want, got, "profiles %v", ids)
		}
	})
}
