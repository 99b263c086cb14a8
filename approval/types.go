package approval

import (
	"slices"
	"time"

	"github.com/otpki/workitems/authz"
)

// Principal is the user asking to act. It is the [authz.Principal] type,
// named here so that callers of the engine need not import authz.
type Principal = authz.Principal

// Approvers are the three collections of a profile that say who may
// approve: users OR groups OR roles. See [authz.Approvers].
type Approvers = authz.Approvers

// Status is where a work item stands. A work item starts Pending and is
// decided at most once, to Approved or Rejected, after which its status
// never changes.
type Status string

const (
	// StatusPending means the work item awaits approvals.
	StatusPending Status = "pending"

	// StatusApproved means the required number of approvals was reached.
	StatusApproved Status = "approved"

	// StatusRejected means an approver rejected the work item.
	StatusRejected Status = "rejected"
)

// Valid reports whether s is one of the three statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusPending, StatusApproved, StatusRejected:
		return true
	}

	return false
}

// Decided reports whether s is Approved or Rejected.
func (s Status) Decided() bool {
	return s == StatusApproved || s == StatusRejected
}

// ResourceType is the kind of gated request a work item holds back.
type ResourceType string

const (
	// EnrollmentRequest is an end entity enrollment gated by the approval
	// profile of its end entity profile.
	EnrollmentRequest ResourceType = "enrollment_request"

	// IssuanceRequest is a certificate issuance gated by the approval
	// profile of its certificate profile or its CA.
	IssuanceRequest ResourceType = "issuance_request"
)

// Valid reports whether t is a resource type the library knows.
func (t ResourceType) Valid() bool {
	return t == EnrollmentRequest || t == IssuanceRequest
}

// String returns the name OTPKI shows for t, such as
// "Enrollment Request".
func (t ResourceType) String() string {
	switch t {
	case EnrollmentRequest:
		return "Enrollment Request"
	case IssuanceRequest:
		return "Issuance Request"
	default:
		return string(t)
	}
}

// Profile is an approval profile: who may approve, and how many
// distinct approvals a work item bound to it requires.
type Profile struct {
	// ID identifies the profile. Left empty on create, the engine
	// generates one.
	ID string

	// Name is unique among profiles, at least 3 characters once
	// trimmed.
	Name string

	// Description is free text, such as the risk level or policy.
	Description string

	// RequiredApprovals is how many distinct approvers must approve,
	// at least 1.
	RequiredApprovals int

	// Approvers says who may approve or reject.
	Approvers Approvers

	// AllowSelfApproval lets the user who requested a work item approve
	// it. It is off by default: separation of duties.
	AllowSelfApproval bool

	// Version counts the profile's writes, from 1. An update names the
	// version it was based on.
	Version int64

	// CreatedAt and UpdatedAt are set by the engine, in UTC.
	CreatedAt time.Time

	// UpdatedAt is the time of the last write, in UTC.
	UpdatedAt time.Time
}

// Clone returns a deep copy of p.
func (p Profile) Clone() Profile {
	p.Approvers = p.Approvers.Clone()
	return p
}

// Approval records one approver's sign-off on a work item.
type Approval struct {
	// UserID is the approver.
	UserID string

	// Comment is optional free text.
	Comment string

	// At is when the approval was recorded, in UTC.
	At time.Time
}

// Rejection records the rejection that decided a work item.
type Rejection struct {
	// UserID is the approver who rejected.
	UserID string

	// Reason says why.
	Reason string

	// At is when the rejection was recorded, in UTC.
	At time.Time
}

// WorkItem is the unit an approver acts on: one gated request held
// until the bound approval profile's approvers decide it.
type WorkItem struct {
	// ID identifies the work item. IDs are time-ordered, so sorting by
	// ID sorts by creation.
	ID string

	// ProfileID is the approval profile that governs the work item.
	ProfileID string

	// ResourceType and ResourceID name the gated request.
	ResourceType ResourceType

	// ResourceID identifies the gated request within its type.
	ResourceID string

	// Description is written at creation, for people scanning a list.
	Description string

	// RequestedBy is the user who made the gated request, if known.
	// That user may not approve unless the profile allows it.
	RequestedBy string

	// Status is Pending until the work item is decided.
	Status Status

	// RequiredApprovals is copied from the profile at creation and
	// never changes afterwards.
	RequiredApprovals int

	// Approvals lists the approvals in the order they were recorded.
	Approvals []Approval

	// Rejection is set when, and only when, Status is Rejected.
	Rejection *Rejection

	// Advance tracks the hand-over of the decision to the host's
	// [ResourceAdvancer].
	Advance Advance

	// Version counts the work item's writes, from 1.
	Version int64

	// CreatedAt is when the work item was created, in UTC.
	CreatedAt time.Time

	// DecidedAt is when the work item was approved or rejected; zero
	// while Pending.
	DecidedAt time.Time
}

// ApprovedBy reports whether userID has approved the work item.
func (w WorkItem) ApprovedBy(userID string) bool {
	for _, a := range w.Approvals {
		if a.UserID == userID {
			return true
		}
	}

	return false
}

// Clone returns a deep copy of w.
func (w WorkItem) Clone() WorkItem {
	w.Approvals = slices.Clone(w.Approvals)
	if w.Rejection != nil {
		r := *w.Rejection
		w.Rejection = &r
	}

	return w
}

// AdvanceState is where the hand-over of a decision to the host stands.
type AdvanceState string

const (
	// AdvanceNone is the state of a Pending work item: nothing to
	// advance yet.
	AdvanceNone AdvanceState = ""

	// AdvanceDue means the work item is decided and the advancer has
	// not yet returned success for it.
	AdvanceDue AdvanceState = "due"

	// AdvanceDone means the advancer returned success.
	AdvanceDone AdvanceState = "done"

	// AdvanceFailed means the advancer failed as many times as the
	// engine allows. An operator retries it with
	// [Engine.RetryAdvance].
	AdvanceFailed AdvanceState = "failed"
)

// Advance is the durable record of handing a decision to the host.
// The decision sets State to AdvanceDue in the same atomic write, so a
// decision is never lost between its commit and its advance.
type Advance struct {
	// State is AdvanceNone while the work item is Pending.
	State AdvanceState

	// Attempts counts the advancer calls that returned.
	Attempts int

	// LastError is the message of the last failed attempt.
	LastError string

	// NextAttemptAt is the earliest time a background pass retries a
	// failed attempt.
	NextAttemptAt time.Time

	// LeaseOwner is the engine instance that holds the right to call
	// the advancer until LeaseUntil. Empty when no one holds it.
	LeaseOwner string

	// LeaseUntil is when the lease runs out.
	LeaseUntil time.Time

	// AdvancedAt is when the advancer returned success.
	AdvancedAt time.Time
}
