package storagetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otpki/workitems/approval"
)

func testWorkItems(t *testing.T, newStore NewStore) {
	t.Helper()

	t.Run("Create", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		p := b.twoOfThree(t, "Issuance")

		w, err := b.engine.CreateWorkItem(t.Context(), approval.WorkItemSpec{
			ProfileID:    p.ID,
			ResourceType: approval.IssuanceRequest,
			ResourceID:   "ir-7",
			Description:  "issuance request ir-7 for CN=web\x01; ' OR 1=1 --",
			RequestedBy:  "ra-1",
		})
		require.NoError(t, err)
		require.NotEmpty(t, w.ID)
		require.Equal(t, approval.StatusPending, w.Status)
		require.Equal(t, 2, w.RequiredApprovals)
		require.Equal(t, int64(1), w.Version)
		require.Equal(t, epoch, w.CreatedAt)
		require.True(t, w.DecidedAt.IsZero())
		require.Empty(t, w.Approvals)
		require.Nil(t, w.Rejection)
		require.Equal(t, approval.AdvanceNone, w.Advance.State)

		require.Equal(t, w, b.get(t, w.ID))
	})

	t.Run("LongTextRoundTrips", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		p := b.twoOfThree(t, "Issuance")

		desc := strings.Repeat("ünicode \t\n\"'\\%_", approval.MaxTextLen/20)
		w, err := b.engine.CreateWorkItem(t.Context(), approval.WorkItemSpec{
			ProfileID:    p.ID,
			ResourceType: approval.EnrollmentRequest,
			ResourceID:   strings.Repeat("é", approval.MaxIDLen/2),
			Description:  desc,
		})
		require.NoError(t, err)
		require.Equal(t, w, b.get(t, w.ID))
	})

	t.Run("Validation", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		p := b.twoOfThree(t, "Issuance")

		ok := approval.WorkItemSpec{
			ProfileID:    p.ID,
			ResourceType: approval.EnrollmentRequest,
			ResourceID:   "er-1",
		}
		cases := []struct {
			field  string
			change func(*approval.WorkItemSpec)
		}{
			{"work_item.profile_id", func(s *approval.WorkItemSpec) { s.ProfileID = "" }},
			{"work_item.resource_type", func(s *approval.WorkItemSpec) { s.ResourceType = "" }},
			{"work_item.resource_type", func(s *approval.WorkItemSpec) {
				s.ResourceType = "Revocation Request"
			}},
			{"work_item.resource_id", func(s *approval.WorkItemSpec) { s.ResourceID = " \t" }},
			{"work_item.resource_id", func(s *approval.WorkItemSpec) { s.ResourceID = "a\x00b" }},
			{"work_item.description", func(s *approval.WorkItemSpec) {
				s.Description = strings.Repeat("d", 1<<20)
			}},
			{"work_item.description", func(s *approval.WorkItemSpec) {
				s.Description = "bad \xc3"
			}},
			{"work_item.requested_by", func(s *approval.WorkItemSpec) { s.RequestedBy = " " }},
		}

		for _, c := range cases {
			s := ok
			c.change(&s)

			_, err := b.engine.CreateWorkItem(t.Context(), s)

			var ia *approval.InvalidArgumentError
			require.ErrorAs(t, err, &ia, "%+v", s)
			require.Equal(t, c.field, ia.Field)
		}

		_, err := b.engine.CreateWorkItem(t.Context(), approval.WorkItemSpec{
			ProfileID:    "missing",
			ResourceType: approval.EnrollmentRequest,
			ResourceID:   "er-1",
		})
		require.ErrorIs(t, err, approval.ErrNotFound)

		page, err := b.engine.ListWorkItems(t.Context(), approval.WorkItemFilter{},
			approval.PageRequest{})
		require.NoError(t, err)
		require.Empty(t, page.Items, "a refused work item must leave nothing behind")
	})

	t.Run("StoreRefusesItemNotNew", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		p := b.twoOfThree(t, "Issuance")
		ctx := t.Context()

		fresh := func(n int) approval.WorkItem {
			return approval.WorkItem{
				ID:                fmt.Sprintf("w-%d", n),
				ProfileID:         p.ID,
				ResourceType:      approval.EnrollmentRequest,
				ResourceID:        fmt.Sprintf("er-%d", n),
				Status:            approval.StatusPending,
				RequiredApprovals: p.RequiredApprovals,
				Version:           1,
				CreatedAt:         epoch,
			}
		}

		good := fresh(0)
		good.Approvals = []approval.Approval{{UserID: alice.UserID, At: epoch}}
		require.NoError(t, b.store.CreateWorkItem(ctx, good, p.Version))
		require.Equal(t, good, b.get(t, good.ID))

		cases := []struct {
			field  string
			change func(*approval.WorkItem)
		}{
			{"work_item.id", func(w *approval.WorkItem) { w.ID = "" }},
			{"work_item.resource_id", func(w *approval.WorkItem) { w.ResourceID = "" }},
			{"work_item.status", func(w *approval.WorkItem) {
				w.Status = approval.StatusApproved
			}},
			{"work_item.version", func(w *approval.WorkItem) { w.Version = 0 }},
			{"work_item.required_approvals", func(w *approval.WorkItem) {
				w.RequiredApprovals = 0
			}},
			{"work_item.approvals", func(w *approval.WorkItem) {
				w.Approvals = []approval.Approval{
					{UserID: alice.UserID, At: epoch}, {UserID: bob.UserID, At: epoch},
				}
			}},
			{"work_item.approvals", func(w *approval.WorkItem) {
				w.RequiredApprovals = 3
				w.Approvals = []approval.Approval{
					{UserID: alice.UserID, At: epoch}, {UserID: alice.UserID, At: epoch},
				}
			}},
			{"work_item.rejection", func(w *approval.WorkItem) {
				w.Rejection = &approval.Rejection{UserID: bob.UserID, At: epoch}
			}},
			{"work_item.decided_at", func(w *approval.WorkItem) { w.DecidedAt = epoch }},
			{"work_item.advance", func(w *approval.WorkItem) {
				w.Advance.State = approval.AdvanceDue
			}},
			{"work_item.advance", func(w *approval.WorkItem) {
				w.Advance.LeaseOwner = "engine-a"
			}},
		}

		for i, c := range cases {
			w := fresh(i + 1)
			c.change(&w)

			err := b.store.CreateWorkItem(ctx, w, p.Version)

			var ia *approval.InvalidArgumentError
			require.ErrorAs(t, err, &ia, "%+v", w)
			require.Equal(t, c.field, ia.Field, "%+v", w)

			if w.ID != "" {
				_, err = b.store.GetWorkItem(ctx, w.ID)
				require.ErrorIs(t, err, approval.ErrNotFound,
					"a refused work item must leave nothing behind")
			}
		}
	})

	t.Run("OnePendingPerResource", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		p := b.twoOfThree(t, "Issuance")
		first := b.item(t, p, "er-1", "")

		_, err := b.engine.CreateWorkItem(t.Context(), approval.WorkItemSpec{
			ProfileID:    p.ID,
			ResourceType: approval.EnrollmentRequest,
			ResourceID:   "er-1",
		})
		var pe *approval.PendingItemExistsError
		require.ErrorAs(t, err, &pe)
		require.ErrorIs(t, err, approval.ErrPendingItemExists)
		require.Equal(t, first.ID, pe.WorkItemID)

		// The same ID under the other resource type is another resource.
		_, err = b.engine.CreateWorkItem(t.Context(), approval.WorkItemSpec{
			ProfileID:    p.ID,
			ResourceType: approval.IssuanceRequest,
			ResourceID:   "er-1",
		})
		require.NoError(t, err)

		// Once decided, the resource may wait on a next work item, as
		// an issuance does on its CA after its certificate profile.
		_, err = b.engine.Approve(t.Context(), first.ID, alice, "")
		require.NoError(t, err)
		_, err = b.engine.Approve(t.Context(), first.ID, bob, "")
		require.NoError(t, err)

		second := b.item(t, p, "er-1", "")
		require.NotEqual(t, first.ID, second.ID)

		page, err := b.engine.ListWorkItems(t.Context(), approval.WorkItemFilter{
			ResourceType: approval.EnrollmentRequest,
			ResourceID:   "er-1",
		}, approval.PageRequest{})
		require.NoError(t, err)
		require.Equal(t, []string{first.ID, second.ID}, ids(page.Items))
	})

	t.Run("RequiredApprovalsFixedAtCreation", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		p := b.twoOfThree(t, "Issuance")
		w := b.item(t, p, "er-1", "")

		p.RequiredApprovals = 3
		_, err := b.engine.UpdateProfile(t.Context(), p)
		require.NoError(t, err)

		_, err = b.engine.Approve(t.Context(), w.ID, alice, "")
		require.NoError(t, err)
		got, err := b.engine.Approve(t.Context(), w.ID, bob, "")
		require.NoError(t, err)
		require.Equal(t, approval.StatusApproved, got.Status)
		require.Equal(t, 2, got.RequiredApprovals)

		later := b.item(t, p, "er-2", "")
		require.Equal(t, 3, later.RequiredApprovals)
	})

	t.Run("GetMissing", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)

		_, err := b.engine.GetWorkItem(t.Context(), "0190f1c2-missing")
		require.ErrorIs(t, err, approval.ErrNotFound)

		_, err = b.engine.GetWorkItem(t.Context(), "")
		require.ErrorIs(t, err, approval.ErrInvalidArgument)
	})
}

func ids(items []approval.WorkItem) []string {
	out := make([]string, len(items))
	for i, w := range items {
		out[i] = w.ID
	}

	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)

	return s
}
