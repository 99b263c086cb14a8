package storagetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/otpki/workitems/approval"
)

// The state-machine test drives an engine over a fresh store with
// random creates, approvals (authorized or not, repeated, by the
// requester), rejections, profile edits and advancer outages, and
// checks every result and the stored state after every step against
// the plain model below. The model restates the rules of the domain
// on its own, without calling the approval package's rules.

var smUsers = []string{"u0", "u1", "u2", "u3", "u4"}

// modelProfile is what the model knows of a profile.
type modelProfile struct {
	profile approval.Profile
}

func (m modelProfile) allows(user string, groups, roles []string) bool {
	a := m.profile.Approvers
	if slices.Contains(a.Users, user) {
		return true
	}

	for _, g := range groups {
		if slices.Contains(a.Groups, g) {
			return true
		}
	}

	for _, r := range roles {
		if slices.Contains(a.Roles, r) {
			return true
		}
	}

	return false
}

// modelItem is what the model knows of a work item.
type modelItem struct {
	id, profileID, resource, requester string
	required                           int
	status                             approval.Status
	approvals                          []string
	rejectedBy                         string
}

type stateMachine struct {
	t         *testing.T
	b         *bundle
	engine    *approval.Engine
	groups    map[string][]string
	roles     map[string][]string
	profiles  []*modelProfile
	items     []*modelItem
	failing   bool
	resources []string
}

func testStateMachine(t *testing.T, newStore NewStore) {
	t.Helper()

	rapid.Check(t, func(rt *rapid.T) {
		sm := newStateMachine(t, rt, newStore)
		rt.Repeat(map[string]func(*rapid.T){
			"":              sm.check,
			"create":        sm.create,
			"approve":       sm.approve,
			"reject":        sm.reject,
			"editProfile":   sm.editProfile,
			"toggleFailure": sm.toggleFailure,
			"resume":        sm.resume,
		})
		sm.heal(rt)
	})
}

func newStateMachine(t *testing.T, rt *rapid.T, newStore NewStore) *stateMachine {
	t.Helper()

	b := &bundle{
		store:    newStore(t),
		clock:    newClock(epoch),
		advancer: newAdvancer(),
	}

	e, err := approval.NewEngine(b.store, b.advancer, &approval.Config{
		Clock:         b.clock,
		InstanceID:    "engine-sm",
		AdvancePolicy: approval.AdvancePolicy{MaxAttempts: 1 << 20},
	})
	require.NoError(rt, err)

	sm := &stateMachine{
		t:         t,
		b:         b,
		engine:    e,
		groups:    make(map[string][]string),
		roles:     make(map[string][]string),
		resources: []string{"r0", "r1", "r2", "r3"},
	}

	for _, u := range smUsers {
		sm.groups[u] = rapid.SliceOfNDistinct(rapid.SampledFrom([]string{"g0", "g1"}),
			0, 2, rapid.ID[string]).Draw(rt, u+"-groups")
		sm.roles[u] = rapid.SliceOfNDistinct(rapid.SampledFrom([]string{"r0", "r1"}),
			0, 2, rapid.ID[string]).Draw(rt, u+"-roles")
	}

	for i := range 2 {
		sm.newProfile(rt, i)
	}

	return sm
}

func (sm *stateMachine) newProfile(rt *rapid.T, i int) {
	users := rapid.SliceOfNDistinct(rapid.SampledFrom(smUsers), 1, len(smUsers),
		rapid.ID[string]).Draw(rt, "users")
	groups := rapid.SliceOfNDistinct(rapid.SampledFrom([]string{"g0", "g1"}), 0, 1,
		rapid.ID[string]).Draw(rt, "groups")
	required := rapid.IntRange(1, len(users)).Draw(rt, "required")

	p, err := sm.engine.CreateProfile(sm.t.Context(), approval.Profile{
		Name:              fmt.Sprintf("Profile %d", i),
		RequiredApprovals: required,
		Approvers:         approval.Approvers{Users: users, Groups: groups},
		AllowSelfApproval: rapid.Bool().Draw(rt, "self"),
	})
	require.NoError(rt, err)

	sm.profiles = append(sm.profiles, &modelProfile{profile: p})
}

func (sm *stateMachine) principal(user string) approval.Principal {
	return approval.Principal{
		UserID: user,
		Groups: sm.groups[user],
		Roles:  sm.roles[user],
	}
}

func (sm *stateMachine) profile(id string) *modelProfile {
	for _, p := range sm.profiles {
		if p.profile.ID == id {
			return p
		}
	}

	return nil
}

func (sm *stateMachine) create(rt *rapid.T) {
	mp := rapid.SampledFrom(sm.profiles).Draw(rt, "profile")
	resource := rapid.SampledFrom(sm.resources).Draw(rt, "resource")
	requester := rapid.SampledFrom(append([]string{""}, smUsers...)).Draw(rt, "requester")

	w, err := sm.engine.CreateWorkItem(sm.t.Context(), approval.WorkItemSpec{
		ProfileID:    mp.profile.ID,
		ResourceType: approval.EnrollmentRequest,
		ResourceID:   resource,
		RequestedBy:  requester,
	})

	for _, it := range sm.items {
		if it.resource == resource && it.status == approval.StatusPending {
			var pe *approval.PendingItemExistsError
			require.ErrorAs(rt, err, &pe)
			require.Equal(rt, it.id, pe.WorkItemID)

			return
		}
	}

	require.NoError(rt, err)
	require.Equal(rt, mp.profile.RequiredApprovals, w.RequiredApprovals)
	sm.items = append(sm.items, &modelItem{
		id:        w.ID,
		profileID: mp.profile.ID,
		resource:  resource,
		requester: requester,
		required:  mp.profile.RequiredApprovals,
		status:    approval.StatusPending,
	})
}

// expect returns the refusal the model predicts for user's action on
// it, or nil.
func (sm *stateMachine) expect(it *modelItem, user string, act approval.Action) error {
	mp := sm.profile(it.profileID)

	switch {
	case it.status != approval.StatusPending:
		return approval.ErrNotPending
	case !mp.allows(user, sm.groups[user], sm.roles[user]):
		return approval.ErrNotAuthorized
	case act == approval.ActionReject:
		return nil
	case slices.Contains(it.approvals, user):
		return approval.ErrAlreadyApproved
	case it.requester == user && !mp.profile.AllowSelfApproval:
		return approval.ErrSelfApproval
	}

	return nil
}

func (sm *stateMachine) act(rt *rapid.T, act approval.Action) {
	if len(sm.items) == 0 {
		rt.Skip("no work items yet")
	}

	it := rapid.SampledFrom(sm.items).Draw(rt, "item")
	user := rapid.SampledFrom(smUsers).Draw(rt, "user")
	want := sm.expect(it, user, act)

	err := do(sm.t.Context(), sm.engine, act, it.id, sm.principal(user))
	if want != nil {
		require.ErrorIs(rt, err, want)
		return
	}

	if act == approval.ActionApprove {
		it.approvals = append(it.approvals, user)
		if len(it.approvals) == it.required {
			it.status = approval.StatusApproved
		}
	} else {
		it.rejectedBy = user
		it.status = approval.StatusRejected
	}

	if it.status.Decided() && sm.failing {
		require.ErrorIs(rt, err, approval.ErrNotAdvanced)
		return
	}
	require.NoError(rt, err)
}

func (sm *stateMachine) approve(rt *rapid.T) { sm.act(rt, approval.ActionApprove) }
func (sm *stateMachine) reject(rt *rapid.T)  { sm.act(rt, approval.ActionReject) }

// editProfile adds or removes one listed user, or flips self-approval,
// keeping the profile valid.
func (sm *stateMachine) editProfile(rt *rapid.T) {
	mp := rapid.SampledFrom(sm.profiles).Draw(rt, "profile")
	p := mp.profile.Clone()

	user := rapid.SampledFrom(smUsers).Draw(rt, "user")
	switch {
	case rapid.Bool().Draw(rt, "flipSelf"):
		p.AllowSelfApproval = !p.AllowSelfApproval
	case slices.Contains(p.Approvers.Users, user):
		p.Approvers.Users = slices.DeleteFunc(p.Approvers.Users,
			func(u string) bool { return u == user })
	default:
		p.Approvers.Users = append(p.Approvers.Users, user)
	}

	if approval.ValidateProfile(p) != nil {
		rt.Skip("edit would make the profile invalid")
	}

	up, err := sm.engine.UpdateProfile(sm.t.Context(), p)
	require.NoError(rt, err)
	mp.profile = up
}

func (sm *stateMachine) toggleFailure(rt *rapid.T) {
	sm.failing = !sm.failing
	sm.b.advancer.setFailing(sm.failing)
}

func (sm *stateMachine) resume(rt *rapid.T) {
	sm.b.clock.advance(time.Second)

	_, err := sm.engine.ResumeAdvances(sm.t.Context())
	require.NoError(rt, err)
}

// heal ends a run: with the advancer working again, one resume must
// leave every decided item advanced exactly once, with its decision.
func (sm *stateMachine) heal(rt *rapid.T) {
	sm.failing = false
	sm.b.advancer.setFailing(false)
	sm.resume(rt)

	for _, it := range sm.items {
		got := sm.b.advancer.successes(it.id)
		if !it.status.Decided() {
			require.Empty(rt, got, it.id)
			continue
		}

		require.Equal(rt, []approval.Status{it.status}, got, it.id)

		w, err := sm.engine.GetWorkItem(sm.t.Context(), it.id)
		require.NoError(rt, err)
		require.Equal(rt, approval.AdvanceDone, w.Advance.State)
	}
}

// check compares every stored work item with the model.
func (sm *stateMachine) check(rt *rapid.T) {
	for _, it := range sm.items {
		w, err := sm.engine.GetWorkItem(sm.t.Context(), it.id)
		require.NoError(rt, err)

		require.Equal(rt, it.status, w.Status, it.id)
		require.Equal(rt, it.required, w.RequiredApprovals)
		require.Equal(rt, it.approvals, approvers(w), "approvals of %s", it.id)
		require.LessOrEqual(rt, len(w.Approvals), w.RequiredApprovals)
		require.Equal(rt, w.Status == approval.StatusApproved,
			len(w.Approvals) == w.RequiredApprovals)
		require.Equal(rt, w.Status == approval.StatusRejected, w.Rejection != nil)

		if w.Rejection != nil {
			require.Equal(rt, it.rejectedBy, w.Rejection.UserID)
		}

		// An advance may be retried, but succeeds at most once, and
		// only with the decision.
		got := sm.b.advancer.successes(it.id)
		require.LessOrEqual(rt, len(got), 1)
		if len(got) == 1 {
			require.Equal(rt, w.Status, got[0])
		}
	}
}
