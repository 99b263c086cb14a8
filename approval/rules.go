package approval

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// This file holds every rule of the domain, as pure functions of what
// was read and the current time. The engine loads, calls these, and
// hands the result to the store; nothing here does I/O.

// Action is what an approver does to a work item.
type Action string

const (
	// ActionApprove records an approval.
	ActionApprove Action = "approve"

	// ActionReject records the rejection.
	ActionReject Action = "reject"
)

// Change is one step an approver takes on a work item. It is derived
// from the item as the engine read it, or, with [ApproveUnread] and
// [RejectUnread], from the profiles that list the approver alone, yet
// keeps its meaning on the item as stored when it is written, which
// other approvers may have moved on meanwhile: [Change.On] says what
// it makes of any item. So approvals by different users commute, and
// a store writes them one after the other without sending anyone
// back to read again.
type Change struct {
	// Action is what the approver did.
	Action Action

	// Item is the work item after the change, made to the item read:
	// what [Change.On] returns for an item still at ReadVersion. A
	// change derived without a read holds only the item's ID.
	Item WorkItem

	// ReadVersion is the version of the work item the change was
	// derived from, as the engine read it or remembers it; zero for a
	// change derived without a read.
	ReadVersion int64

	// Grants are the profiles, each at a version, that list the
	// approver: the profile of the item read, or, for a change
	// derived without a read, those of the profiles the engine knows.
	// The change is made only to an item whose profile is among them
	// at the version it is at.
	Grants []Grant

	// Approval is the approval the change adds, nil for a rejection.
	Approval *Approval

	// Rejection is the rejection the change records, nil for an
	// approval.
	Rejection *Rejection

	// Lease is what a decision gives the deciding engine instance: the
	// right to call the advancer first.
	Lease Lease

	// AdvancedInTx records a decision as advanced the moment it is
	// made, for a [TxAdvancingStore], which advances inside the write.
	AdvancedInTx bool
}

// On returns the work item w after the change, where profileVersion
// is the version w's profile is at: the approval added, deciding w
// Approved once the count reaches w.RequiredApprovals, or the
// rejection, which decides it Rejected; the version goes up by one.
//
// It refuses as [CheckAct] does, in the same order: ErrNotPending
// when w is decided; ErrConflict when no grant of the change names
// w's profile at profileVersion, for then the approver may not be one;
// and for an approval ErrAlreadyApproved when its user approved w,
// and ErrSelfApproval when its user requested w and the grant does
// not allow that. Who may act depends only on the profile and on what
// the approver did, never on what others did since the change was
// derived, so approvals by different users commute.
func (c Change) On(w WorkItem, profileVersion int64) (WorkItem, error) {
	if err := c.check(); err != nil {
		return WorkItem{}, err
	}

	if w.Status != StatusPending {
		return WorkItem{}, fmt.Errorf("work item %q is %s: %w",
			w.ID, w.Status, ErrNotPending)
	}

	g, ok := c.GrantFor(w.ProfileID)
	if !ok || g.ProfileVersion != profileVersion {
		return WorkItem{}, fmt.Errorf("profile %q of work item %q "+
			"at version %d, which the change was not derived under: %w",
			w.ProfileID, w.ID, profileVersion, ErrConflict)
	}

	next := w
	next.Version = w.Version + 1

	if c.Action == ActionReject {
		r := *c.Rejection
		next.Rejection = &r
		next.Approvals = slices.Clone(w.Approvals)
		c.decide(&next, StatusRejected)

		return next, nil
	}

	user := c.Approval.UserID
	if w.ApprovedBy(user) {
		return WorkItem{}, fmt.Errorf("user %q on work item %q: %w",
			user, w.ID, ErrAlreadyApproved)
	}

	self := w.RequestedBy != "" && w.RequestedBy == user
	if self && !g.AllowSelfApproval {
		return WorkItem{}, fmt.Errorf("user %q on work item %q: %w",
			user, w.ID, ErrSelfApproval)
	}

	// The approvals get a fresh array with room for exactly one more,
	// so that w keeps its own.
	next.Approvals = make([]Approval, len(w.Approvals), len(w.Approvals)+1)
	copy(next.Approvals, w.Approvals)
	next.Approvals = append(next.Approvals, *c.Approval)

	if len(next.Approvals) >= next.RequiredApprovals {
		c.decide(&next, StatusApproved)
	}

	return next, nil
}

// check refuses a change that carries neither what its action needs.
func (c Change) check() error {
	switch {
	case c.Action == ActionApprove && c.Approval != nil:
	case c.Action == ActionReject && c.Rejection != nil:
	default:
		return invalid("change",
			"action %q without its approval or rejection", string(c.Action))
	}

	return nil
}

// GrantFor returns the grant of the change for the profile with the ID,
// and false when it has none.
func (c Change) GrantFor(profileID string) (Grant, bool) {
	for _, g := range c.Grants {
		if g.ProfileID == profileID {
			return g, true
		}
	}

	return Grant{}, false
}

// Grant says that one version of a profile lists an approver, and so
// lets the approver act on the Pending work items bound to it.
type Grant struct {
	// ProfileID is the profile.
	ProfileID string

	// ProfileVersion is the version that lists the approver.
	ProfileVersion int64

	// AllowSelfApproval is the profile's setting at that version.
	AllowSelfApproval bool
}

// grantOf returns the grant of prof, which lists the approver.
func grantOf(prof Profile) Grant {
	return Grant{
		ProfileID:         prof.ID,
		ProfileVersion:    prof.Version,
		AllowSelfApproval: prof.AllowSelfApproval,
	}
}

// At is when the approver acted: the time of the approval or the
// rejection, and of the decision when the change makes one.
func (c Change) At() time.Time {
	switch {
	case c.Approval != nil:
		return c.Approval.At
	case c.Rejection != nil:
		return c.Rejection.At
	}

	return time.Time{}
}

// DecisionAdvance is the advance record of the item when the change
// decides it: due, and leased to the deciding engine, or advanced at
// once with AdvancedInTx.
func (c Change) DecisionAdvance() Advance {
	if c.AdvancedInTx {
		return AdvanceSucceeded(Advance{}, c.At())
	}

	return Advance{
		State:      AdvanceDue,
		LeaseOwner: c.Lease.Owner,
		LeaseUntil: c.Lease.Until,
	}
}

func (c Change) decide(w *WorkItem, s Status) {
	w.Status = s
	w.DecidedAt = c.At()
	w.Advance = c.DecisionAdvance()
}

// CheckAct reports why p may not take action on item under prof, or
// nil if it may. The reasons, tested in this order, are ErrNotPending,
// ErrNotAuthorized, and for approvals ErrAlreadyApproved and
// ErrSelfApproval. prof must be the profile item is bound to.
//
// A rejection needs no more than a Pending item and an approver: a
// requester may reject their own request, and an approver who approved
// may still reject, since stopping a request is always the safe way.
func CheckAct(item WorkItem, prof Profile, p Principal, act Action) error {
	if item.Status != StatusPending {
		return fmt.Errorf("work item %q is %s: %w",
			item.ID, item.Status, ErrNotPending)
	}

	if !prof.Approvers.Allows(p) {
		return &NotAuthorizedError{UserID: p.UserID, ProfileID: prof.ID}
	}

	if act == ActionReject {
		return nil
	}

	if item.ApprovedBy(p.UserID) {
		return fmt.Errorf("user %q on work item %q: %w",
			p.UserID, item.ID, ErrAlreadyApproved)
	}

	self := item.RequestedBy != "" && item.RequestedBy == p.UserID
	if self && !prof.AllowSelfApproval {
		return fmt.Errorf("user %q on work item %q: %w",
			p.UserID, item.ID, ErrSelfApproval)
	}

	return nil
}

// Approve derives the change that records p's approval of item at now.
// The item becomes Approved when the approval count reaches its
// required number; the same change then marks the advance as due and
// leases it to lease.Owner until lease.Until.
func Approve(item WorkItem, prof Profile, p Principal, comment string,
	now time.Time, lease Lease,
) (Change, error) {
	if err := CheckAct(item, prof, p, ActionApprove); err != nil {
		return Change{}, err
	}

	c := Change{
		Action:   ActionApprove,
		Approval: &Approval{UserID: p.UserID, Comment: comment, At: now},
	}

	return c.from(item, prof, lease)
}

// Reject derives the change that records p's rejection of item at now.
// One rejection decides the item.
func Reject(item WorkItem, prof Profile, p Principal, reason string,
	now time.Time, lease Lease,
) (Change, error) {
	if err := CheckAct(item, prof, p, ActionReject); err != nil {
		return Change{}, err
	}

	c := Change{
		Action:    ActionReject,
		Rejection: &Rejection{UserID: p.UserID, Reason: reason, At: now},
	}

	return c.from(item, prof, lease)
}

// from completes c as derived from read under prof.
func (c Change) from(read WorkItem, prof Profile, lease Lease) (Change, error) {
	c.ReadVersion = read.Version
	c.Grants = []Grant{grantOf(prof)}
	c.Lease = lease

	var err error
	c.Item, err = c.On(read, prof.Version)

	return c, err
}

// ApproveUnread derives the change that records p's approval, at now,
// of the work item with the ID, which the caller has not read. It
// grants the change every one of profiles that lists p, and leaves
// the rest of the rules to [Change.On], which the store applies to
// the item as stored: the store refuses the change with ErrConflict
// when the item's profile is not among them at its version. It
// reports false when no profile lists p; only a read of the item can
// tell whether p may act on it.
func ApproveUnread(itemID string, profiles []Profile, p Principal,
	comment string, now time.Time, lease Lease,
) (Change, bool) {
	c := Change{
		Action:   ActionApprove,
		Approval: &Approval{UserID: p.UserID, Comment: comment, At: now},
	}

	return c.unread(itemID, profiles, p, lease)
}

// RejectUnread is [ApproveUnread] for p's rejection with a reason.
func RejectUnread(itemID string, profiles []Profile, p Principal,
	reason string, now time.Time, lease Lease,
) (Change, bool) {
	c := Change{
		Action:    ActionReject,
		Rejection: &Rejection{UserID: p.UserID, Reason: reason, At: now},
	}

	return c.unread(itemID, profiles, p, lease)
}

// unread completes c as derived, without a read of the item, under
// those of profiles that list p.
func (c Change) unread(itemID string, profiles []Profile, p Principal,
	lease Lease,
) (Change, bool) {
	for _, prof := range profiles {
		if prof.Approvers.Allows(p) {
			c.Grants = append(c.Grants, grantOf(prof))
		}
	}

	c.Item = WorkItem{ID: itemID}
	c.Lease = lease

	return c, len(c.Grants) > 0
}

// AdvancedWithDecision returns c with its decision, if it makes one,
// marked advanced at the moment of the decision: the change for a
// [TxAdvancingStore], which advances inside the write itself.
func AdvancedWithDecision(c Change) Change {
	c.AdvancedInTx = true
	if c.Item.Status.Decided() {
		c.Item.Advance = c.DecisionAdvance()
	}

	return c
}

// Lease is the right of one engine instance to call the advancer for a
// work item until a deadline. While it holds, no other instance claims
// the item.
type Lease struct {
	// Owner names the engine instance.
	Owner string

	// Until is when the lease runs out.
	Until time.Time
}

// AdvancePolicy says how failed advances are retried.
type AdvancePolicy struct {
	// MaxAttempts is how many failed advancer calls mark the item
	// AdvanceFailed.
	MaxAttempts int

	// Backoff is the wait after the first failure; each further
	// failure doubles it, up to MaxBackoff.
	Backoff time.Duration

	// MaxBackoff caps the wait between attempts.
	MaxBackoff time.Duration
}

// AdvanceSucceeded returns the record of an advancer call that
// returned nil at now. The lease is released.
func AdvanceSucceeded(adv Advance, now time.Time) Advance {
	return Advance{
		State:      AdvanceDone,
		Attempts:   adv.Attempts + 1,
		AdvancedAt: now,
	}
}

// AdvanceFailedAttempt returns the record of an advancer call that
// failed with err at now: due again after a backoff that doubles with
// every failure, or AdvanceFailed once pol.MaxAttempts is reached.
// The lease is released.
func AdvanceFailedAttempt(adv Advance, err error, now time.Time,
	pol AdvancePolicy,
) Advance {
	next := Advance{
		State:     AdvanceDue,
		Attempts:  adv.Attempts + 1,
		LastError: cleanText(err.Error()),
	}

	if pol.MaxAttempts > 0 && next.Attempts >= pol.MaxAttempts {
		next.State = AdvanceFailed
		return next
	}

	next.NextAttemptAt = now.Add(backoff(next.Attempts, pol))

	return next
}

// backoff is the wait after the given number of failed attempts.
func backoff(attempts int, pol AdvancePolicy) time.Duration {
	d := pol.Backoff
	for i := 1; i < attempts && d < pol.MaxBackoff; i++ {
		d *= 2
	}

	return min(d, pol.MaxBackoff)
}

// cleanText makes an advancer's error message storable: valid UTF-8,
// no NUL bytes, at most MaxTextLen bytes cut on a rune boundary.
func cleanText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "")
	if len(s) <= MaxTextLen {
		return s
	}

	cut := MaxTextLen
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}

	return s[:cut]
}

func isRuneStart(b byte) bool {
	return b&0xC0 != 0x80
}
