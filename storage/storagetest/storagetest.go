// Package storagetest is the conformance suite for [approval.Store]
// implementations. Every backend of this module passes it, and so
// should yours:
//
//	func TestConformance(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T) approval.Store {
//			return newTestStore(t) // fresh and empty each call
//		})
//	}
//
// The suite drives the store through an [approval.Engine], as a host
// would, and through the store's own methods where the contract binds
// the store alone. It covers every rule of the domain, pagination and
// filters, the approver inbox, version conflicts, changes derived
// without a read of the work item, advance leases, a
// concurrency test, a property-based state-machine test written with
// pgregory.net/rapid against a plain model of the rules, fault tests
// (an instance crashing between decision and advance, a final approval
// racing a rejection, a revocation racing an approval), and a
// linearizability check of concurrent histories with porcupine. Run it
// under -race. WORKITEMS_TRIALS raises the repetitions of the fault
// tests for heavier runs.
//
// Subtests run in parallel and each asks newStore for a fresh, empty
// store, so newStore must be safe to call concurrently.
package storagetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpki/workitems/approval"
)

// NewStore returns a fresh, empty store for one subtest. It registers
// its own clean-up with t.
type NewStore func(t *testing.T) approval.Store

// Run runs the whole suite against stores made by newStore.
func Run(t *testing.T, newStore NewStore) {
	t.Helper()

	groups := []struct {
		name string
		run  func(*testing.T, NewStore)
	}{
		{"Profiles", testProfiles},
		{"WorkItems", testWorkItems},
		{"Decisions", testDecisions},
		{"Advance", testAdvance},
		{"Listing", testListing},
		{"Inbox", testInbox},
		{"StoreContract", testStoreContract},
		{"Unread", testUnread},
		{"Concurrency", testConcurrency},
		{"StateMachine", testStateMachine},
		{"Faults", testFaults},
		{"Linearizable", testLinearizable},
	}

	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			g.run(t, newStore)
		})
	}
}

// epoch is where every fake clock of the suite starts.
var epoch = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// bundle is what most tests work on: an engine over a fresh store,
// with the clock and advancer it was given.
type bundle struct {
	store    approval.Store
	engine   *approval.Engine
	clock    *clock
	advancer *advancer
}

// setup returns an engine over a fresh store, a fake clock and a
// recording advancer.
func setup(t *testing.T, newStore NewStore) *bundle {
	t.Helper()

	b := &bundle{
		store:    newStore(t),
		clock:    newClock(epoch),
		advancer: newAdvancer(),
	}
	b.engine = b.newEngine(t, "engine-a")

	return b
}

// newEngine returns another engine instance over the same store,
// clock and advancer, as another process sharing the database.
func (b *bundle) newEngine(t *testing.T, instance string) *approval.Engine {
	t.Helper()

	e, err := approval.NewEngine(b.store, b.advancer, &approval.Config{
		Clock:      b.clock,
		InstanceID: instance,
		AdvancePolicy: approval.AdvancePolicy{
			MaxAttempts: 3,
			Backoff:     time.Second,
			MaxBackoff:  4 * time.Second,
		},
	})
	require.NoError(t, err)

	return e
}

// Principals used across the suite. The profile made by twoOfThree
// lists alice by user, the auditors group and the ca-admin role.
var (
	alice = approval.Principal{UserID: "alice"}
	bob   = approval.Principal{UserID: "bob", Groups: []string{"auditors"}}
	carol = approval.Principal{UserID: "carol", Roles: []string{"ca-admin"}}
	dave  = approval.Principal{
		UserID: "dave",
		Groups: []string{"auditors"},
		Roles:  []string{"ca-admin"},
	}
	mallory = approval.Principal{
		UserID: "mallory",
		Groups: []string{"sales"},
		Roles:  []string{"ra-operator"},
	}
)

// twoOfThree creates a profile requiring two approvals from a user, a
// group or a role.
func (b *bundle) twoOfThree(t *testing.T, name string) approval.Profile {
	t.Helper()

	p, err := b.engine.CreateProfile(t.Context(), approval.Profile{
		Name:              name,
		Description:       "high risk",
		RequiredApprovals: 2,
		Approvers: approval.Approvers{
			Users:  []string{"alice"},
			Groups: []string{"auditors"},
			Roles:  []string{"ca-admin"},
		},
	})
	require.NoError(t, err)

	return p
}

// threeApprovals is twoOfThree edited to require three approvals, so
// that an item takes two and stays Pending.
func (b *bundle) threeApprovals(t *testing.T) approval.Profile {
	t.Helper()

	p := b.twoOfThree(t, "Three")
	p.RequiredApprovals = 3
	p, err := b.engine.UpdateProfile(t.Context(), p)
	require.NoError(t, err)

	return p
}

// item creates a Pending enrollment work item for resource under
// profile p, requested by requester (may be empty).
func (b *bundle) item(t *testing.T, p approval.Profile,
	resource, requester string,
) approval.WorkItem {
	t.Helper()

	w, err := b.engine.CreateWorkItem(t.Context(), approval.WorkItemSpec{
		ProfileID:    p.ID,
		ResourceType: approval.EnrollmentRequest,
		ResourceID:   resource,
		Description:  "enrollment " + resource,
		RequestedBy:  requester,
	})
	require.NoError(t, err)

	return w
}

// approvedBy creates an item under p, has user approve it through the
// engine, and returns the item as stored then.
func (b *bundle) approvedBy(t *testing.T, p approval.Profile,
	user approval.Principal,
) approval.WorkItem {
	t.Helper()

	w := b.item(t, p, "er-1", "")
	_, err := b.engine.Approve(t.Context(), w.ID, user, "")
	require.NoError(t, err)

	return b.get(t, w.ID)
}

// readBeforeBob creates a two-of-three item and returns it with its
// profile as read, by an engine that may then remember it, before bob
// approved it: what is derived from the read is for version 1, and
// the item is at version 2.
func (b *bundle) readBeforeBob(t *testing.T) (approval.WorkItem, approval.Profile) {
	t.Helper()

	w := b.item(t, b.twoOfThree(t, "Issuance"), "er-1", "")
	read, prof, err := b.store.GetWorkItemAndProfile(t.Context(), w.ID)
	require.NoError(t, err)

	_, err = b.engine.Approve(t.Context(), w.ID, bob, "")
	require.NoError(t, err)

	return read, prof
}

// get reads a work item through the engine.
func (b *bundle) get(t *testing.T, id string) approval.WorkItem {
	t.Helper()

	w, err := b.engine.GetWorkItem(t.Context(), id)
	require.NoError(t, err)

	return w
}
