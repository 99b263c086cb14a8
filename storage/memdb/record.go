package memdb

import (
	"fmt"
	"math"
	"time"

	"github.com/otpki/workitems/approval"
)

// record is how the store keeps a work item. Each index entry costs
// more than the whole item, but the item is still worth keeping
// small: it is copied on each write, and a store may hold millions.
// So it packs four strings into one, keeps times as microseconds,
// names its status and resource type by a byte, and moves what only a
// decided item has behind a pointer that stays nil while it is
// Pending.
//
// Records are never changed once inserted: a write inserts a new one,
// sharing the old one's immutable parts, so readers of an older
// snapshot keep a consistent view.
type record struct {
	// text holds the ID, resource ID, requester and description, in
	// that order; the ends below split it.
	text string

	// profileID stays a string of its own: all the items of a profile
	// share it.
	profileID string

	approvals []vote

	// outcome is nil while the item has no decision, rejection or
	// advance, that is while it is Pending.
	outcome *outcome

	version   int64
	required  int
	createdAt stamp

	idEnd, resourceEnd, requesterEnd uint16

	status       statusCode
	resourceType resourceCode
}

// maxText is the longest the four packed strings may be together, so
// that their ends fit the record. The engine's own limits on IDs and
// texts keep well below it.
const maxText = math.MaxUint16

func (r *record) id() string { return r.text[:r.idEnd] }

func (r *record) resourceID() string {
	return r.text[r.idEnd:r.resourceEnd]
}

func (r *record) requestedBy() string {
	return r.text[r.resourceEnd:r.requesterEnd]
}

func (r *record) description() string { return r.text[r.requesterEnd:] }

// vote is one approval as stored.
type vote struct {
	userID  string
	comment string
	at      stamp
}

// outcome is what a decided work item holds beyond a Pending one.
type outcome struct {
	decidedAt stamp
	rejection *approval.Rejection
	advance   advance
}

// advance is an [approval.Advance] as stored.
type advance struct {
	lastError  string
	leaseOwner string
	attempts   int

	nextAttemptAt stamp
	leaseUntil    stamp
	advancedAt    stamp

	state advanceCode
}

// stamp is a time as microseconds since the zero [time.Time], so that
// the zero time is zero. Store times arrive in UTC truncated to the
// microsecond, so a stamp keeps all of them exactly; a finer time
// loses its nanoseconds, as it would in the SQL stores.
type stamp int64

// internalToUnix is how many seconds the zero time lies before the
// Unix epoch.
const internalToUnix = 62_135_596_800

// stampLimit bounds the seconds, counted from the zero time, that a
// stamp can hold: about 292,000 years either side.
const stampLimit = math.MaxInt64/1_000_000 - 1

func toStamp(field string, t time.Time) (stamp, error) {
	sec := t.Unix() + internalToUnix
	if sec > stampLimit || sec < -stampLimit {
		return 0, &approval.InvalidArgumentError{
			Field:  field,
			Reason: fmt.Sprintf("time %s out of range", t),
		}
	}

	return stamp(sec*1_000_000 + int64(t.Nanosecond()/1000)), nil
}

func (s stamp) time() time.Time {
	sec, us := int64(s)/1_000_000, int64(s)%1_000_000
	if us < 0 {
		sec--
		us += 1_000_000
	}

	// time.Unix and UTC give the very form a truncated UTC time has,
	// so what comes back compares equal, field by field, to what went
	// in.
	return time.Unix(sec-internalToUnix, us*1000).UTC()
}

// statusCode is a [approval.Status] as stored. It is also the status
// byte of index keys.
type statusCode byte

const (
	codePending  statusCode = 'p'
	codeApproved statusCode = 'a'
	codeRejected statusCode = 'r'
)

func toStatusCode(s approval.Status) (statusCode, error) {
	switch s {
	case approval.StatusPending:
		return codePending, nil
	case approval.StatusApproved:
		return codeApproved, nil
	case approval.StatusRejected:
		return codeRejected, nil
	}

	return 0, &approval.InvalidArgumentError{
		Field: "work_item.status", Reason: fmt.Sprintf("unknown status %q", s),
	}
}

func (c statusCode) status() approval.Status {
	switch c {
	case codeApproved:
		return approval.StatusApproved
	case codeRejected:
		return approval.StatusRejected
	}

	return approval.StatusPending
}

// resourceCode is a [approval.ResourceType] as stored, and the type
// byte of resource keys.
type resourceCode byte

const (
	codeEnrollment resourceCode = 'e'
	codeIssuance   resourceCode = 'i'
)

func toResourceCode(t approval.ResourceType) (resourceCode, error) {
	switch t {
	case approval.EnrollmentRequest:
		return codeEnrollment, nil
	case approval.IssuanceRequest:
		return codeIssuance, nil
	}

	return 0, &approval.InvalidArgumentError{
		Field:  "work_item.resource_type",
		Reason: fmt.Sprintf("unknown resource type %q", t),
	}
}

func (c resourceCode) resourceType() approval.ResourceType {
	if c == codeIssuance {
		return approval.IssuanceRequest
	}

	return approval.EnrollmentRequest
}

// advanceCode is an [approval.AdvanceState] as stored, and the state
// byte of advance keys. AdvanceNone is zero.
type advanceCode byte

const (
	codeNone   advanceCode = 0
	codeDue    advanceCode = 'd'
	codeDone   advanceCode = 'k'
	codeFailed advanceCode = 'f'
)

func toAdvanceCode(s approval.AdvanceState) (advanceCode, error) {
	switch s {
	case approval.AdvanceNone:
		return codeNone, nil
	case approval.AdvanceDue:
		return codeDue, nil
	case approval.AdvanceDone:
		return codeDone, nil
	case approval.AdvanceFailed:
		return codeFailed, nil
	}

	return 0, &approval.InvalidArgumentError{
		Field:  "work_item.advance.state",
		Reason: fmt.Sprintf("unknown advance state %q", s),
	}
}

func (c advanceCode) state() approval.AdvanceState {
	switch c {
	case codeDue:
		return approval.AdvanceDue
	case codeDone:
		return approval.AdvanceDone
	case codeFailed:
		return approval.AdvanceFailed
	}

	return approval.AdvanceNone
}

// toRecord returns w as stored. It copies every slice and pointer of
// w, so the caller keeps w for itself, and it refuses what a record
// cannot hold with an *approval.InvalidArgumentError.
func toRecord(w *approval.WorkItem) (*record, error) {
	r := &record{
		profileID: w.ProfileID,
		version:   w.Version,
		required:  w.RequiredApprovals,
	}

	var err error
	if r.status, err = toStatusCode(w.Status); err != nil {
		return nil, err
	}

	if r.resourceType, err = toResourceCode(w.ResourceType); err != nil {
		return nil, err
	}

	r.createdAt, err = toStamp("work_item.created_at", w.CreatedAt)
	if err != nil {
		return nil, err
	}

	if err := r.setText(w); err != nil {
		return nil, err
	}

	if r.approvals, err = toVotes(w.Approvals); err != nil {
		return nil, err
	}

	if r.outcome, err = toOutcome(w); err != nil {
		return nil, err
	}

	return r, nil
}

func (r *record) setText(w *approval.WorkItem) error {
	idEnd := len(w.ID)
	resourceEnd := idEnd + len(w.ResourceID)
	requesterEnd := resourceEnd + len(w.RequestedBy)

	n := requesterEnd + len(w.Description)
	if n > maxText {
		return &approval.InvalidArgumentError{
			Field: "work_item",
			Reason: fmt.Sprintf("ID, resource ID, requester and description "+
				"take %d bytes, more than %d", n, maxText),
		}
	}

	r.text = w.ID + w.ResourceID + w.RequestedBy + w.Description
	r.idEnd = end(idEnd)
	r.resourceEnd = end(resourceEnd)
	r.requesterEnd = end(requesterEnd)

	return nil
}

// end returns an end of a record's text, which its caller has kept
// within maxText.
func end(n int) uint16 {
	if n < 0 || n > maxText {
		panic(fmt.Sprintf("memdb: text end %d out of range", n))
	}

	return uint16(n)
}

func toVotes(as []approval.Approval) ([]vote, error) {
	if as == nil {
		return nil, nil
	}

	vs := make([]vote, len(as))
	for i, a := range as {
		at, err := toStamp("work_item.approvals.at", a.At)
		if err != nil {
			return nil, err
		}

		vs[i] = vote{userID: a.UserID, comment: a.Comment, at: at}
	}

	return vs, nil
}

func toOutcome(w *approval.WorkItem) (*outcome, error) {
	decidedAt, err := toStamp("work_item.decided_at", w.DecidedAt)
	if err != nil {
		return nil, err
	}

	adv, err := toAdvance(w.Advance)
	if err != nil {
		return nil, err
	}

	if decidedAt == 0 && w.Rejection == nil && adv == (advance{}) {
		return nil, nil
	}

	o := &outcome{decidedAt: decidedAt, advance: adv}
	if w.Rejection != nil {
		r := *w.Rejection
		o.rejection = &r
	}

	return o, nil
}

func toAdvance(a approval.Advance) (advance, error) {
	out := advance{
		lastError:  a.LastError,
		leaseOwner: a.LeaseOwner,
		attempts:   a.Attempts,
	}

	var err error
	if out.state, err = toAdvanceCode(a.State); err != nil {
		return advance{}, err
	}

	if out.nextAttemptAt, err = toStamp("work_item.advance.next_attempt_at",
		a.NextAttemptAt); err != nil {
		return advance{}, err
	}

	if out.leaseUntil, err = toStamp("work_item.advance.lease_until",
		a.LeaseUntil); err != nil {
		return advance{}, err
	}

	if out.advancedAt, err = toStamp("work_item.advance.advanced_at",
		a.AdvancedAt); err != nil {
		return advance{}, err
	}

	return out, nil
}

// item returns the work item r holds. Its strings are parts of the
// record's, which never change; its slices and pointers are its own.
func (r *record) item() approval.WorkItem {
	w := approval.WorkItem{
		ID:                r.id(),
		ProfileID:         r.profileID,
		ResourceType:      r.resourceType.resourceType(),
		ResourceID:        r.resourceID(),
		Description:       r.description(),
		RequestedBy:       r.requestedBy(),
		Status:            r.status.status(),
		RequiredApprovals: r.required,
		Version:           r.version,
		CreatedAt:         r.createdAt.time(),
	}

	if r.approvals != nil {
		w.Approvals = make([]approval.Approval, len(r.approvals))
		for i, v := range r.approvals {
			w.Approvals[i] = approval.Approval{
				UserID: v.userID, Comment: v.comment, At: v.at.time(),
			}
		}
	}

	if o := r.outcome; o != nil {
		w.DecidedAt = o.decidedAt.time()
		w.Advance = o.advance.value()
		if o.rejection != nil {
			rej := *o.rejection
			w.Rejection = &rej
		}
	}

	return w
}

func (a *advance) value() approval.Advance {
	return approval.Advance{
		State:         a.state.state(),
		Attempts:      a.attempts,
		LastError:     a.lastError,
		NextAttemptAt: a.nextAttemptAt.time(),
		LeaseOwner:    a.leaseOwner,
		LeaseUntil:    a.leaseUntil.time(),
		AdvancedAt:    a.advancedAt.time(),
	}
}

// advanceState is the state of r's advance, AdvanceNone without one.
func (r *record) advanceState() advanceCode {
	if r.outcome == nil {
		return codeNone
	}

	return r.outcome.advance.state
}

// withAdvance returns a copy of r with its advance replaced by a.
func (r *record) withAdvance(a advance) *record {
	next := *r
	o := outcome{advance: a}
	if r.outcome != nil {
		o.decidedAt = r.outcome.decidedAt
		o.rejection = r.outcome.rejection
	}
	next.outcome = &o

	return &next
}
