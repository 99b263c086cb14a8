// Quickstart narrates one approval flow on the in-memory store.
//
// An approval profile lets a user, a group and a role approve, and
// requires two of them. An enrollment request waits on a work item
// under it: an outsider and the requester are refused, two approvers
// approve, and the engine advances the request. Then an issuance
// request is rejected, and advanced as rejected.
//
// Run it from the module root:
//
//	go run ./examples/quickstart
//
// IDs and times are fixed, so the output is the same on every run.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/otpki/workitems/approval"
	"github.com/otpki/workitems/authz"
	"github.com/otpki/workitems/storage/memdb"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// The people in the story. dave requests; alice, bob and erin may
// approve, each through a different approver collection; mallory may
// not.
var (
	alice   = approval.Principal{UserID: "alice"}
	bob     = approval.Principal{UserID: "bob", Groups: []string{"ra-officers"}}
	dave    = approval.Principal{UserID: "dave", Groups: []string{"ra-officers"}}
	erin    = approval.Principal{UserID: "erin", Roles: []string{"ca-admin"}}
	mallory = approval.Principal{UserID: "mallory", Groups: []string{"helpdesk"}}
)

// run tells the story to out. It fails when the engine does not
// behave as the story says.
func run(ctx context.Context, out io.Writer) error {
	n := &narrator{w: out}
	clock := &storyClock{now: time.Date(2025, time.March, 14, 9, 0, 0, 0, time.UTC)}

	router := approval.Router{
		approval.EnrollmentRequest: enrollments{n},
		approval.IssuanceRequest:   issuances{n},
	}
	engine, err := approval.NewEngine(memdb.New(), router, &approval.Config{
		Clock: clock,
		NewID: sequence("wi-"),
	})
	if err != nil {
		return err
	}

	prof, err := engine.CreateProfile(ctx, approval.Profile{
		ID:                "high-risk",
		Name:              "High-risk enrollment",
		RequiredApprovals: 2,
		Approvers: approval.Approvers{
			Users:  []string{"alice"},
			Groups: []string{"ra-officers"},
			Roles:  []string{"ca-admin"},
		},
	})
	if err != nil {
		return err
	}

	s := story{engine: engine, prof: prof, clock: clock, n: n}
	s.say("profile %q needs %d approvals from:",
		prof.Name, prof.RequiredApprovals)
	s.note("user %s, group %s or role %s", prof.Approvers.Users[0],
		prof.Approvers.Groups[0], prof.Approvers.Roles[0])

	if err := s.enrollment(ctx); err != nil {
		return err
	}

	if err := s.issuance(ctx); err != nil {
		return err
	}

	return n.err
}

// story holds what every step of the narration needs.
type story struct {
	engine *approval.Engine
	prof   approval.Profile
	clock  *storyClock
	n      *narrator
}

// enrollment gates an enrollment request: two refusals, then two
// approvals, and the advance.
func (s story) enrollment(ctx context.Context) error {
	item, err := s.engine.CreateWorkItem(ctx, approval.WorkItemSpec{
		ProfileID:    s.prof.ID,
		ResourceType: approval.EnrollmentRequest,
		ResourceID:   "enr-1001",
		Description:  "enrollment enr-1001 for end entity jdoe",
		RequestedBy:  dave.UserID,
	})
	if err != nil {
		return err
	}
	s.say("dave requests enrollment enr-1001 for end entity jdoe")
	s.result(item)

	s.clock.at(9, 5)
	if err := s.refused(ctx, item.ID, mallory, approval.ErrNotAuthorized); err != nil {
		return err
	}

	s.clock.at(9, 7)
	if err := s.refused(ctx, item.ID, dave, approval.ErrSelfApproval); err != nil {
		return err
	}

	s.clock.at(9, 10)
	if err := s.approve(ctx, item.ID, alice); err != nil {
		return err
	}

	s.clock.at(9, 20)

	return s.approve(ctx, item.ID, erin)
}

// issuance gates an issuance request and rejects it.
func (s story) issuance(ctx context.Context) error {
	s.clock.at(10, 30)
	item, err := s.engine.CreateWorkItem(ctx, approval.WorkItemSpec{
		ProfileID:    s.prof.ID,
		ResourceType: approval.IssuanceRequest,
		ResourceID:   "iss-2001",
		Description:  "certificate for end entity jdoe",
		RequestedBy:  dave.UserID,
	})
	if err != nil {
		return err
	}
	s.say("dave requests issuance iss-2001 for end entity jdoe")
	s.result(item)

	s.clock.at(11, 5)
	reason := "key is RSA-1024; policy requires 2048 bits"
	s.say("bob (%s) rejects %s: %q", s.via(bob), item.ID, reason)

	item, err = s.engine.Reject(ctx, item.ID, bob, reason)
	if err != nil {
		return err
	}
	s.result(item)

	return nil
}

// approve has p approve the item and tells the outcome.
func (s story) approve(ctx context.Context, itemID string,
	p approval.Principal,
) error {
	s.say("%s (%s) approves %s", p.UserID, s.via(p), itemID)

	item, err := s.engine.Approve(ctx, itemID, p, "")
	if err != nil {
		return err
	}
	s.result(item)

	return nil
}

// refused has p try to approve the item, tells why the engine refused,
// and fails unless it refused for the reason want.
func (s story) refused(ctx context.Context, itemID string,
	p approval.Principal, want error,
) error {
	s.say("%s (%s) tries to approve %s", p.UserID, s.via(p), itemID)

	_, err := s.engine.Approve(ctx, itemID, p, "")
	switch {
	case err == nil:
		return fmt.Errorf("%s approving %s: accepted, want %q",
			p.UserID, itemID, want.Error())
	case !errors.Is(err, want):
		return fmt.Errorf("%s approving %s: want %q, got: %w",
			p.UserID, itemID, want.Error(), err)
	}

	var notApprover *approval.NotAuthorizedError
	switch {
	case errors.As(err, &notApprover):
		s.note("refused: %s is not an approver of profile %s",
			notApprover.UserID, notApprover.ProfileID)
	case errors.Is(err, approval.ErrSelfApproval):
		s.note("refused: %s requested it; separation of duties", p.UserID)
	}

	return nil
}

// via says which approver collection of the profile admits p.
func (s story) via(p approval.Principal) string {
	m := s.prof.Approvers.Check(p)
	switch m {
	case authz.ByUser:
		return "listed user"
	case authz.ByGroup:
		return "group " + p.Groups[0]
	case authz.ByRole:
		return "role " + p.Roles[0]
	default:
		return "no approver"
	}
}

// result tells where a work item stands.
func (s story) result(w approval.WorkItem) {
	if w.Rejection != nil {
		s.note("work item %s is %s by %s", w.ID, w.Status, w.Rejection.UserID)
		return
	}

	s.note("work item %s is %s, %d of %d approvals",
		w.ID, w.Status, len(w.Approvals), w.RequiredApprovals)
}

// say starts a step of the story, stamped with the story's time.
func (s story) say(format string, args ...any) {
	s.n.printf(s.clock.Now().Format("15:04")+" "+format, args...)
}

// note tells what came of a step, under it.
func (s story) note(format string, args ...any) {
	s.n.printf("      "+format, args...)
}

// enrollments is the host's advancer for enrollment requests. OTPKI
// would set the end entity to New and hand the request to issuance
// when approved, and set it to Failed when rejected.
type enrollments struct{ n *narrator }

// Advance implements [approval.ResourceAdvancer].
func (a enrollments) Advance(_ context.Context, w approval.WorkItem) error {
	if w.Status == approval.StatusApproved {
		a.n.printf("      advance %s %s: approved by %s; end entity to New",
			w.ResourceType, w.ResourceID, approvers(w))

		return nil
	}

	a.n.printf("      advance %s %s: rejected; end entity to Failed",
		w.ResourceType, w.ResourceID)

	return nil
}

// issuances is the host's advancer for issuance requests: it signs
// an approved request and fails a rejected one.
type issuances struct{ n *narrator }

// Advance implements [approval.ResourceAdvancer].
func (a issuances) Advance(_ context.Context, w approval.WorkItem) error {
	if w.Status == approval.StatusApproved {
		a.n.printf("      advance %s %s: approved by %s; certificate signed",
			w.ResourceType, w.ResourceID, approvers(w))

		return nil
	}

	a.n.printf("      advance %s %s: rejected; request failed",
		w.ResourceType, w.ResourceID)

	return nil
}

// approvers lists who approved w, in order.
func approvers(w approval.WorkItem) string {
	users := make([]string, len(w.Approvals))
	for i, a := range w.Approvals {
		users[i] = a.UserID
	}

	return strings.Join(users, ", ")
}

// narrator prints lines and keeps the first write error, so the story
// reads without a check after every line.
type narrator struct {
	w   io.Writer
	err error
}

func (n *narrator) printf(format string, args ...any) {
	if n.err != nil {
		return
	}

	_, n.err = fmt.Fprintf(n.w, format+"\n", args...)
}

// storyClock is the time in the story, moved by the story alone.
type storyClock struct {
	now time.Time
}

// Now implements [approval.Clock].
func (c *storyClock) Now() time.Time {
	return c.now
}

// at moves the clock to the given time of the same day.
func (c *storyClock) at(hour, minute int) {
	y, m, d := c.now.Date()
	c.now = time.Date(y, m, d, hour, minute, 0, 0, time.UTC)
}

// sequence returns an ID generator that yields prefix0001,
// prefix0002, and so on: fixed IDs that sort by creation.
func sequence(prefix string) func() string {
	n := 0

	return func() string {
		n++
		return fmt.Sprintf("%s%04d", prefix, n)
	}
}
