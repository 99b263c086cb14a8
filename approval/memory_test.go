package approval_test

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otpki/workitems/approval"
	"github.com/otpki/workitems/storage/memdb"
)

var (
	alice = approval.Principal{UserID: "alice"}
	bob   = approval.Principal{UserID: "bob"}
	carol = approval.Principal{UserID: "carol"}
)

// readCounter counts the reads an engine makes before it acts.
type readCounter struct {
	approval.Store

	itemReads    atomic.Int64
	profileReads atomic.Int64

	// unread counts the changes derived without a read of the item.
	unread atomic.Int64
}

func (s *readCounter) Apply(ctx context.Context, c approval.Change) (approval.WorkItem, error) {
	if c.ReadVersion == 0 {
		s.unread.Add(1)
	}

	return s.Store.Apply(ctx, c)
}

func (s *readCounter) GetWorkItemAndProfile(ctx context.Context,
	id string,
) (approval.WorkItem, approval.Profile, error) {
	s.itemReads.Add(1)
	return s.Store.GetWorkItemAndProfile(ctx, id)
}

func (s *readCounter) GetProfile(ctx context.Context, id string) (approval.Profile, error) {
	s.profileReads.Add(1)
	return s.Store.GetProfile(ctx, id)
}

// memoryRig is two engines on one store, as two instances of a host
// on one database: a, which remembers and whose reads are counted, and
// b, which acts behind its back.
type memoryRig struct {
	store *readCounter
	a, b  *approval.Engine
	prof  approval.Profile
}

func newMemoryRig(t *testing.T, remember int) *memoryRig {
	t.Helper()

	r := &memoryRig{store: &readCounter{Store: memdb.New()}}

	var err error
	r.a, err = approval.NewEngine(r.store, approval.AdvancerFunc(noAdvance),
		&approval.Config{InstanceID: "a", Remember: remember})
	require.NoError(t, err)
	r.b, err = approval.NewEngine(r.store.Store, approval.AdvancerFunc(noAdvance),
		&approval.Config{InstanceID: "b", Remember: -1})
	require.NoError(t, err)

	r.prof, err = r.b.CreateProfile(t.Context(), approval.Profile{
		Name: "Issuance", RequiredApprovals: 2,
		Approvers: approval.Approvers{Users: []string{"alice", "bob", "carol"}},
	})
	require.NoError(t, err)

	return r
}

func (r *memoryRig) item(t *testing.T, e *approval.Engine, resource string) approval.WorkItem {
	t.Helper()

	w, err := e.CreateWorkItem(t.Context(), approval.WorkItemSpec{
		ProfileID: r.prof.ID, ResourceType: approval.IssuanceRequest,
		ResourceID: resource, RequestedBy: "carol",
	})
	require.NoError(t, err)

	return w
}

// requireStored checks that the store holds w as it is.
func (r *memoryRig) requireStored(t *testing.T, w approval.WorkItem) {
	t.Helper()

	stored, err := r.b.GetWorkItem(t.Context(), w.ID)
	require.NoError(t, err)
	require.Equal(t, w, stored)
}

func TestRememberedItemIsActedOnWithoutARead(t *testing.T) {
	t.Parallel()
	r := newMemoryRig(t, 0)
	ctx := t.Context()

	w := r.item(t, r.a, "ir-1")
	require.Equal(t, int64(1), r.store.profileReads.Load())

	// a created the item, so it remembers both records.
	got, err := r.a.Approve(ctx, w.ID, alice, "")
	require.NoError(t, err)
	require.Equal(t, approval.StatusPending, got.Status)
	require.Equal(t, int64(2), got.Version)

	got, err = r.a.Approve(ctx, w.ID, bob, "")
	require.NoError(t, err)
	require.Equal(t, approval.StatusApproved, got.Status)
	require.Equal(t, []string{"alice", "bob"}, userIDs(got))
	require.Equal(t, int64(0), r.store.itemReads.Load())

	r.requireStored(t, got)

	// A second item of the same profile needs no profile read either.
	r.item(t, r.a, "ir-2")
	require.Equal(t, int64(1), r.store.profileReads.Load())
}

func TestRememberedItemMovedOnElsewhere(t *testing.T) {
	t.Parallel()
	r := newMemoryRig(t, 0)
	ctx := t.Context()

	// a remembers the item at version 1; b approves it behind a's
	// back.
	w := r.item(t, r.a, "ir-1")
	_, err := r.b.Approve(ctx, w.ID, bob, "")
	require.NoError(t, err)

	// What a derives from version 1 still counts, on the item as
	// stored, and reaches the threshold there.
	got, err := r.a.Approve(ctx, w.ID, alice, "")
	require.NoError(t, err)
	require.Equal(t, approval.StatusApproved, got.Status)
	require.Equal(t, []string{"bob", "alice"}, userIDs(got))
	require.Equal(t, int64(3), got.Version)
	require.Equal(t, int64(0), r.store.itemReads.Load())

	r.requireStored(t, got)
}

func TestRememberedItemRefusalsComeFromTheStore(t *testing.T) {
	t.Parallel()
	r := newMemoryRig(t, 0)
	ctx := t.Context()

	w := r.item(t, r.a, "ir-1")
	_, err := r.a.Approve(ctx, w.ID, alice, "")
	require.NoError(t, err)

	// a remembers alice's approval, yet does not refuse her second
	// one on its own: under a profile edited since, she might not be
	// an approver at all. It asks the store, which checks the
	// profile's version before the approvals.
	_, err = r.a.Approve(ctx, w.ID, alice, "")
	require.ErrorIs(t, err, approval.ErrAlreadyApproved)
	require.Equal(t, int64(1), r.store.unread.Load())
	require.Equal(t, int64(0), r.store.itemReads.Load())

	// b decides the item; a still remembers it as Pending, and the
	// store refuses what a derives from that.
	_, err = r.b.Reject(ctx, w.ID, bob, "no")
	require.NoError(t, err)

	_, err = r.a.Approve(ctx, w.ID, bob, "")
	require.ErrorIs(t, err, approval.ErrNotPending)
	_, err = r.a.Reject(ctx, w.ID, alice, "")
	require.ErrorIs(t, err, approval.ErrNotPending)
	require.Equal(t, int64(0), r.store.itemReads.Load())

	// The requester is remembered too.
	w = r.item(t, r.a, "ir-2")
	_, err = r.a.Approve(ctx, w.ID, carol, "")
	require.ErrorIs(t, err, approval.ErrSelfApproval)
}

func TestRememberedProfileEditedElsewhere(t *testing.T) {
	t.Parallel()
	r := newMemoryRig(t, 0)
	ctx := t.Context()

	w := r.item(t, r.a, "ir-1")

	// b takes alice off the profile and adds dave; a remembers the
	// profile as it was.
	p := r.prof
	p.Approvers.Users = []string{"bob", "carol", "dave"}
	p, err := r.b.UpdateProfile(ctx, p)
	require.NoError(t, err)

	// The store refuses the write under the old version, and a reads.
	_, err = r.a.Approve(ctx, w.ID, alice, "")
	var nz *approval.NotAuthorizedError
	require.ErrorAs(t, err, &nz)
	require.Equal(t, int64(1), r.store.itemReads.Load())

	// a now remembers the profile without dave; b adds erin too.
	// What a remembers refuses nobody on its own: it reads, and lets
	// erin approve.
	erin := approval.Principal{UserID: "erin"}
	p.Approvers.Users = []string{"dave", "erin"}
	p, err = r.b.UpdateProfile(ctx, p)
	require.NoError(t, err)

	got, err := r.a.Approve(ctx, w.ID, erin, "")
	require.NoError(t, err)
	require.Equal(t, []string{"erin"}, userIDs(got))

	// Creating under a profile edited elsewhere reads it again.
	p.RequiredApprovals = 1
	_, err = r.b.UpdateProfile(ctx, p)
	require.NoError(t, err)

	w2 := r.item(t, r.a, "ir-2")
	require.Equal(t, 1, w2.RequiredApprovals)
}

func TestUnseenItemOfRememberedProfile(t *testing.T) {
	t.Parallel()
	r := newMemoryRig(t, 0)
	ctx := t.Context()

	// a has seen the profile, but none of the items b creates.
	_, err := r.a.GetProfile(ctx, r.prof.ID)
	require.NoError(t, err)
	w := r.item(t, r.b, "ir-1")

	got, err := r.a.Approve(ctx, w.ID, alice, "")
	require.NoError(t, err)
	require.Equal(t, []string{"alice"}, userIDs(got))
	require.Equal(t, int64(1), r.store.unread.Load())
	r.requireStored(t, got)

	// a remembers the item it approved, as it stored it.
	got, err = r.a.Approve(ctx, w.ID, bob, "")
	require.NoError(t, err)
	require.Equal(t, approval.StatusApproved, got.Status)
	r.requireStored(t, got)
	require.Equal(t, int64(0), r.store.itemReads.Load())

	// An item of a profile a has not seen fails the store's check of
	// the profiles a knows, and a reads it.
	other, err := r.b.CreateProfile(ctx, approval.Profile{
		Name: "Other", RequiredApprovals: 1,
		Approvers: approval.Approvers{Users: []string{"alice"}},
	})
	require.NoError(t, err)
	w, err = r.b.CreateWorkItem(ctx, approval.WorkItemSpec{
		ProfileID: other.ID, ResourceType: approval.IssuanceRequest,
		ResourceID: "ir-2",
	})
	require.NoError(t, err)

	got, err = r.a.Approve(ctx, w.ID, alice, "")
	require.NoError(t, err)
	require.Equal(t, approval.StatusApproved, got.Status)
	require.Equal(t, int64(1), r.store.itemReads.Load())

	// b takes alice off the profile a remembers: the store refuses
	// what a derives from the old version, and the read refuses her.
	p := r.prof
	p.Approvers.Users = []string{"bob", "carol"}
	_, err = r.b.UpdateProfile(ctx, p)
	require.NoError(t, err)
	w = r.item(t, r.b, "ir-3")

	_, err = r.a.Approve(ctx, w.ID, alice, "")
	var nz *approval.NotAuthorizedError
	require.ErrorAs(t, err, &nz)
	require.Equal(t, int64(2), r.store.itemReads.Load())
	require.Equal(t, int64(3), r.store.unread.Load())
	r.requireStored(t, w)
}

func TestRememberLimit(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct {
		remember int
		reads    int64
		unread   int64
	}{
		{remember: -1, reads: 3},
		{remember: 2, unread: 1},
	} {
		t.Run(fmt.Sprintf("remember=%d", tc.remember), func(t *testing.T) {
			t.Parallel()
			r := newMemoryRig(t, tc.remember)

			ids := make([]string, 3)
			for i := range ids {
				ids[i] = r.item(t, r.a, fmt.Sprintf("ir-%d", i)).ID
			}

			// With room for two, the first item is forgotten; it is
			// approved last, without a read, under the remembered
			// profile, so that remembering it makes room only for an
			// item already done with. Remembering nothing, each
			// approval reads.
			for _, id := range slices.Backward(ids) {
				_, err := r.a.Approve(t.Context(), id, alice, "")
				require.NoError(t, err)
			}
			require.Equal(t, tc.reads, r.store.itemReads.Load())
			require.Equal(t, tc.unread, r.store.unread.Load())
		})
	}
}

func userIDs(w approval.WorkItem) []string {
	out := make([]string, len(w.Approvals))
	for i, a := range w.Approvals {
		out[i] = a.UserID
	}

	return out
}
