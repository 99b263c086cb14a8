// Package approvaltest helps a host test its own code against the
// approval engine with no database.
//
// [New] returns a [Harness]: an [approval.Engine] on a fresh in-memory
// store, a [FakeClock] that moves only when the test moves it, and a
// [RecordingAdvancer] that remembers every advance. Options swap in a
// failing advancer ([FailAlways], [FailFirst]) or a fixed sequence of
// IDs, and [Harness.Profile] and [Harness.WorkItem] create what most
// tests start from:
//
//	h := approvaltest.New(t)
//	prof := h.Profile(t, 1, "alice")
//	item := h.WorkItem(t, prof.ID, approval.EnrollmentRequest, "enr-1")
//
//	alice := approval.Principal{UserID: "alice"}
//	_, err := h.Engine.Approve(t.Context(), item.ID, alice, "")
//	require.NoError(t, err)
//	require.Equal(t, []approval.Status{approval.StatusApproved},
//		h.Advancer.Statuses(item.ID))
//
// Every type here is safe for concurrent use, so a test may drive the
// engine from many goroutines and still ask the fakes what happened.
package approvaltest

import (
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/otpki/workitems/approval"
	"github.com/otpki/workitems/storage/memdb"
)

// start is the time a harness's clock reads until the test moves it.
var start = time.Date(2025, time.January, 2, 9, 0, 0, 0, time.UTC)

// Harness is an engine on a fresh in-memory store, with the fakes it
// was built with, for one test.
type Harness struct {
	// Engine is the engine under test.
	Engine *approval.Engine

	// Store is the engine's store, for looking behind its back.
	Store *memdb.Store

	// Clock is the engine's clock. It reads 2025-01-02 09:00:00 UTC
	// until the test moves it.
	Clock *FakeClock

	// Advancer records every advance the engine makes, and hands it
	// on to the advancer given with [WithAdvancer], if any.
	Advancer *RecordingAdvancer

	profiles atomic.Int64
}

// Option changes how [New] builds a harness.
type Option func(*options)

type options struct {
	next   approval.ResourceAdvancer
	newID  func() string
	config approval.Config
}

// WithAdvancer makes the recording advancer hand every call on to a
// and return its result, so a test can make advances fail:
// WithAdvancer(FailFirst(1, nil)).
func WithAdvancer(a approval.ResourceAdvancer) Option {
	return func(o *options) {
		o.next = a
	}
}

// WithIDs makes the engine generate the IDs prefix000001,
// prefix000002, and so on, for output that does not change from run
// to run. See [SequentialIDs].
func WithIDs(prefix string) Option {
	return func(o *options) {
		o.newID = SequentialIDs(prefix)
	}
}

// WithConfig builds the engine with cfg, for a logger, an advance
// policy or other settings. The engine always runs on the harness's
// clock, so cfg.Clock must be nil; [WithIDs] takes precedence over
// cfg.NewID.
func WithConfig(cfg approval.Config) Option {
	return func(o *options) {
		o.config = cfg
	}
}

// New returns a harness for one test. It fails t if the options make
// an engine that cannot be built.
func New(t testing.TB, opts ...Option) *Harness {
	t.Helper()

	var o options
	for _, opt := range opts {
		opt(&o)
	}

	if o.config.Clock != nil {
		t.Fatalf("approvaltest: WithConfig: Config.Clock must be nil: " +
			"the engine runs on Harness.Clock")
	}

	h := &Harness{
		Store:    memdb.New(),
		Clock:    NewFakeClock(start),
		Advancer: NewRecordingAdvancer(o.next),
	}

	cfg := o.config
	cfg.Clock = h.Clock
	if o.newID != nil {
		cfg.NewID = o.newID
	}

	e, err := approval.NewEngine(h.Store, h.Advancer, &cfg)
	if err != nil {
		t.Fatalf("approvaltest: new engine: %v", err)
	}
	h.Engine = e

	return h
}

// Profile creates an approval profile that requires n approvals from
// the listed users, with a name unique within the harness, and returns
// it as stored. It fails t if the engine refuses the profile.
func (h *Harness) Profile(t testing.TB, n int, users ...string) approval.Profile {
	t.Helper()

	name := "profile " + strconv.FormatInt(h.profiles.Add(1), 10)
	p, err := h.Engine.CreateProfile(t.Context(), approval.Profile{
		Name:              name,
		RequiredApprovals: n,
		Approvers:         approval.Approvers{Users: users},
	})
	if err != nil {
		t.Fatalf("approvaltest: create profile: %v", err)
	}

	return p
}

// WorkItem creates a Pending work item under the profile that holds
// back the request of type rt with the ID resourceID, and returns it
// as stored. It fails t if the engine refuses the work item.
func (h *Harness) WorkItem(t testing.TB, profileID string,
	rt approval.ResourceType, resourceID string,
) approval.WorkItem {
	t.Helper()

	w, err := h.Engine.CreateWorkItem(t.Context(), approval.WorkItemSpec{
		ProfileID:    profileID,
		ResourceType: rt,
		ResourceID:   resourceID,
		Description:  rt.String() + " " + resourceID,
	})
	if err != nil {
		t.Fatalf("approvaltest: create work item: %v", err)
	}

	return w
}

// SequentialIDs returns a generator for [approval.Config.NewID] that
// yields prefix000001, prefix000002, and so on. It is safe for
// concurrent use. The IDs sort in the order they were generated, as
// work item IDs must, for the first 999999.
func SequentialIDs(prefix string) func() string {
	var n atomic.Int64

	return func() string {
		return fmt.Sprintf("%s%06d", prefix, n.Add(1))
	}
}
