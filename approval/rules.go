package approval

import (
	"fmt"
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

// Change is one decided step on a work item: the item as it must be
// stored, and the versions it was derived from. A store applies it
// atomically and only if both versions still hold.
type Change struct {
	// Action is what the approver did.
	Action Action

	// Item is the work item after the change, its Version one higher
	// than ReadVersion.
	Item WorkItem

	// ReadVersion is the work item version the change was derived from.
	ReadVersion int64

	// ProfileVersion is the version of the bound profile that
	// authorized the change.
	ProfileVersion int64

	// Approval is the approval the change adds, nil for a rejection.
	// It is also the last element of Item.Approvals.
	Approval *Approval
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

	// A Pending item has no rejection to copy; the approvals get a
	// fresh array with room for exactly one more.
	next := item
	a := Approval{UserID: p.UserID, Comment: comment, At: now}
	next.Approvals = make([]Approval, len(item.Approvals), len(item.Approvals)+1)
	copy(next.Approvals, item.Approvals)
	next.Approvals = append(next.Approvals, a)

	if len(next.Approvals) >= next.RequiredApprovals {
		decide(&next, StatusApproved, now, lease)
	}

	return change(ActionApprove, item, next, prof, &a), nil
}

// Reject derives the change that records p's rejection of item at now.
// One rejection decides the item.
func Reject(item WorkItem, prof Profile, p Principal, reason string,
	now time.Time, lease Lease,
) (Change, error) {
	if err := CheckAct(item, prof, p, ActionReject); err != nil {
		return Change{}, err
	}

	next := item.Clone()
	next.Rejection = &Rejection{UserID: p.UserID, Reason: reason, At: now}
	decide(&next, StatusRejected, now, lease)

	return change(ActionReject, item, next, prof, nil), nil
}

func decide(w *WorkItem, s Status, now time.Time, lease Lease) {
	w.Status = s
	w.DecidedAt = now
	w.Advance = Advance{
		State:      AdvanceDue,
		LeaseOwner: lease.Owner,
		LeaseUntil: lease.Until,
	}
}

func change(act Action, read, next WorkItem, prof Profile,
	a *Approval,
) Change {
	next.Version = read.Version + 1

	return Change{
		Action:         act,
		Item:           next,
		ReadVersion:    read.Version,
		ProfileVersion: prof.Version,
		Approval:       a,
	}
}

// AdvancedWithDecision returns c with its decision, if it makes one,
// marked advanced at the moment of the decision: the change for a
// [TxAdvancingStore], which advances inside the write itself.
func AdvancedWithDecision(c Change) Change {
	if c.Item.Status.Decided() {
		c.Item.Advance = AdvanceSucceeded(Advance{}, c.Item.DecidedAt)
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
