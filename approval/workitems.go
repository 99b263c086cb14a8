package approval

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// CreateWorkItem creates a Pending work item that holds back the
// resource s names until the profile's approvers decide it. The item
// copies the profile's required approvals. It returns an
// *InvalidArgumentError, ErrNotFound for a missing profile, or a
// *PendingItemExistsError when the resource already waits on a Pending
// work item.
func (e *Engine) CreateWorkItem(ctx context.Context, s WorkItemSpec) (WorkItem, error) {
	if err := s.Validate(); err != nil {
		return WorkItem{}, err
	}

	w := WorkItem{
		ID:           e.newID(),
		ProfileID:    s.ProfileID,
		ResourceType: s.ResourceType,
		ResourceID:   s.ResourceID,
		Description:  s.Description,
		RequestedBy:  s.RequestedBy,
		Status:       StatusPending,
		Version:      1,
	}

	err := e.retry(ctx, func() error {
		// A remembered profile is as good as a read: the store checks
		// its version as it inserts.
		prof, ok := e.memory.profile(s.ProfileID)
		if !ok {
			var err error
			prof, err = e.store.GetProfile(ctx, s.ProfileID)
			if err != nil {
				return fmt.Errorf("profile %q: %w", s.ProfileID, err)
			}
			e.memory.rememberProfiles(prof)
		}

		w.RequiredApprovals = prof.RequiredApprovals
		w.CreatedAt = e.now()

		err := e.store.CreateWorkItem(ctx, w, prof.Version)
		if ok && (errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound)) {
			e.memory.forgetProfile(prof.ID)
			err = fmt.Errorf("profile %q changed: %w", prof.ID, ErrConflict)
		}

		return err
	})
	if err != nil {
		return WorkItem{}, fmt.Errorf("create work item for %s %q: %w",
			s.ResourceType, s.ResourceID, err)
	}
	e.memory.rememberItems(w)

	return w, nil
}

// GetWorkItem returns the work item with the ID, or ErrNotFound.
func (e *Engine) GetWorkItem(ctx context.Context, id string) (WorkItem, error) {
	if err := checkID("work_item_id", id); err != nil {
		return WorkItem{}, err
	}

	w, err := e.store.GetWorkItem(ctx, id)
	if err != nil {
		return WorkItem{}, fmt.Errorf("get work item %q: %w", id, err)
	}
	e.memory.rememberItems(w)

	return normalizeItem(w), nil
}

// WorkItemFilter selects work items to list. Zero fields match all.
type WorkItemFilter struct {
	// Status keeps items with this status.
	Status Status

	// ResourceType keeps items gating this type of request.
	ResourceType ResourceType

	// ResourceID keeps items gating this request.
	ResourceID string

	// ProfileID keeps items bound to this profile.
	ProfileID string

	// AdvanceState keeps items whose advance is in this state; use
	// AdvanceFailed to find the items an operator must look at.
	AdvanceState AdvanceState
}

func (f WorkItemFilter) query() (WorkItemQuery, error) {
	q := WorkItemQuery{
		Status:       f.Status,
		ResourceType: f.ResourceType,
		ResourceID:   f.ResourceID,
		AdvanceState: f.AdvanceState,
	}

	if f.Status != "" && !f.Status.Valid() {
		return q, invalid("filter.status", "unknown status %q", string(f.Status))
	}

	if f.ResourceType != "" && !f.ResourceType.Valid() {
		return q, invalid("filter.resource_type",
			"unknown resource type %q", string(f.ResourceType))
	}

	if f.ResourceID != "" {
		if err := checkID("filter.resource_id", f.ResourceID); err != nil {
			return q, err
		}
	}

	switch f.AdvanceState {
	case AdvanceNone, AdvanceDue, AdvanceDone, AdvanceFailed:
	default:
		return q, invalid("filter.advance_state",
			"unknown advance state %q", string(f.AdvanceState))
	}

	if f.ProfileID != "" {
		if err := checkID("filter.profile_id", f.ProfileID); err != nil {
			return q, err
		}

		q.ProfileIDs = []string{f.ProfileID}
	}

	return q, nil
}

// ListWorkItems returns a page of the work items that match f, oldest
// first.
func (e *Engine) ListWorkItems(ctx context.Context, f WorkItemFilter,
	req PageRequest,
) (Page[WorkItem], error) {
	q, err := f.query()
	if err != nil {
		return Page[WorkItem]{}, err
	}

	q.After, q.Limit, err = req.decode()
	if err != nil {
		return Page[WorkItem]{}, err
	}
	q.Limit++

	items, err := e.store.ListWorkItems(ctx, q)
	if err != nil {
		return Page[WorkItem]{}, fmt.Errorf("list work items: %w", err)
	}

	for i := range items {
		items[i].Approvals = nilIfEmpty(items[i].Approvals)
	}
	e.memory.rememberItems(items...)

	return pageOf(items, q.Limit-1, itemID), nil
}

// Approve records p's approval of the work item, with an optional
// comment. The approval that reaches the required number decides the
// item Approved in the same atomic write, and the engine then advances
// it. It returns the work item as stored, or: ErrNotPending,
// a *NotAuthorizedError, ErrAlreadyApproved, ErrSelfApproval,
// ErrNotFound, or an *InvalidArgumentError. When the decision stands
// but the advancer failed, it returns the decided item together with
// a *NotAdvancedError.
func (e *Engine) Approve(ctx context.Context, itemID string, p Principal,
	comment string,
) (WorkItem, error) {
	if err := checkText("comment", comment); err != nil {
		return WorkItem{}, err
	}

	return e.act(ctx, itemID, intent{action: ActionApprove, p: p, text: comment})
}

// Reject records p's rejection of the work item with a reason, which
// decides it Rejected at once; the engine then advances it. It returns
// what [Engine.Approve] returns, but never ErrAlreadyApproved or
// ErrSelfApproval.
func (e *Engine) Reject(ctx context.Context, itemID string, p Principal,
	reason string,
) (WorkItem, error) {
	if err := checkText("reason", reason); err != nil {
		return WorkItem{}, err
	}

	return e.act(ctx, itemID, intent{action: ActionReject, p: p, text: reason})
}

// intent is what an approver asks to do to a work item.
type intent struct {
	action Action
	p      Principal

	// text is the comment of an approval or the reason of a rejection.
	text string
}

// derive derives the change from the item read and its profile.
func (in intent) derive(w WorkItem, prof Profile, now time.Time,
	lease Lease,
) (Change, error) {
	if in.action == ActionReject {
		return Reject(w, prof, in.p, in.text, now, lease)
	}

	return Approve(w, prof, in.p, in.text, now, lease)
}

// deriveUnread derives the change without a read of the item, under
// profiles.
func (in intent) deriveUnread(itemID string, profiles []Profile,
	now time.Time, lease Lease,
) (Change, bool) {
	if in.action == ActionReject {
		return RejectUnread(itemID, profiles, in.p, in.text, now, lease)
	}

	return ApproveUnread(itemID, profiles, in.p, in.text, now, lease)
}

// act derives the change and has the store make it to the item as
// stored, which other approvals may have moved on; only an edit of
// the profile sends it back to read again. Then it advances a
// decision, whether its own approval reached the threshold on the item
// read or on one that moved on.
//
// It derives the change from the first of these that serves: the
// item as the engine remembers it; without the item, the profiles it
// remembers that list the approver; and a read of the item and its
// profile. Where one fails the store's checks, the next one is tried.
// A refusal comes from the store's checks of the item as stored, or
// from the read, never from what the engine remembers alone.
func (e *Engine) act(ctx context.Context, itemID string, in intent) (WorkItem, error) {
	if err := checkID("work_item_id", itemID); err != nil {
		return WorkItem{}, err
	}

	if err := ValidatePrincipal(in.p); err != nil {
		return WorkItem{}, err
	}

	inTx := e.advancesInTx()

	item, done, err := e.actRemembered(ctx, itemID, in, inTx)
	if !done {
		item, done, err = e.actUnread(ctx, itemID, in, inTx)
	}
	if !done {
		err = e.retry(ctx, func() error {
			w, prof, err := e.load(ctx, itemID)
			if err != nil {
				return err
			}

			now := e.now()
			c, err := in.derive(w, prof, now, e.leaseFrom(now))
			if err != nil {
				return err
			}

			item, err = e.store.Apply(ctx, forStore(c, inTx))

			return err
		})
	}
	if err != nil {
		return WorkItem{}, fmt.Errorf("work item %q: %w", itemID, err)
	}

	item = normalizeItem(item)
	e.memory.rememberItems(item)
	if !item.Status.Decided() || inTx {
		return item, nil
	}

	return e.advance(ctx, item)
}

// actRemembered acts on a work item the engine remembers without
// reading it: it derives the change from the item as last seen and
// the remembered profile, and the store checks the rest as it writes:
// the status, the approvals made since, and the profile's version. It
// reports done false when it cannot act so, or the memory proved out
// of date, and the caller then tries another way. A derivation that
// fails is left to the ways after it too, so that a refusal never
// rests on what may have changed.
func (e *Engine) actRemembered(ctx context.Context, itemID string,
	in intent, inTx bool,
) (WorkItem, bool, error) {
	w, prof, ok := e.memory.item(itemID)
	if !ok {
		return WorkItem{}, false, nil
	}

	now := e.now()
	c, err := in.derive(w, prof, now, e.leaseFrom(now))
	if err != nil {
		return WorkItem{}, false, nil //nolint:nilerr // the read refuses
	}

	item, err := e.store.Apply(ctx, forStore(c, inTx))
	if errors.Is(err, ErrConflict) {
		e.memory.forgetProfile(prof.ID)
		return WorkItem{}, false, nil
	}

	return item, true, err
}

// actUnread acts on a work item without reading it or remembering it,
// under the remembered profiles that list the approver: the store
// makes the change if the item's profile is one of them, at the
// version remembered. It reports done false when no remembered
// profile lists the approver, or the item's profile is not among them
// as remembered, and the caller then reads the item.
func (e *Engine) actUnread(ctx context.Context, itemID string,
	in intent, inTx bool,
) (WorkItem, bool, error) {
	profiles := e.memory.profilesListing(in.p)
	if len(profiles) == 0 {
		return WorkItem{}, false, nil
	}

	now := e.now()
	c, ok := in.deriveUnread(itemID, profiles, now, e.leaseFrom(now))
	if !ok {
		return WorkItem{}, false, nil
	}

	item, err := e.store.Apply(ctx, forStore(c, inTx))
	if errors.Is(err, ErrConflict) {
		return WorkItem{}, false, nil
	}

	return item, true, err
}

// forStore returns c as the engine hands it to the store: for a store
// that advances in the write, marked advanced with its decision.
func forStore(c Change, inTx bool) Change {
	if inTx {
		return AdvancedWithDecision(c)
	}

	return c
}

// load reads a work item with its profile. A decided item whose
// profile was deleted still loads, so acting on it says ErrNotPending.
func (e *Engine) load(ctx context.Context, id string) (WorkItem, Profile, error) {
	w, prof, err := e.store.GetWorkItemAndProfile(ctx, id)
	if err == nil {
		e.memory.rememberItems(w)
		e.memory.rememberProfiles(prof)

		return w, prof, nil
	}

	if w.ID != "" && w.Status.Decided() && errors.Is(err, ErrNotFound) {
		return w, Profile{ID: w.ProfileID}, nil
	}

	return WorkItem{}, Profile{}, err
}

// CanAct reports why p may not take action on the work item, or nil
// if it may: ErrNotPending, a *NotAuthorizedError, ErrAlreadyApproved
// or ErrSelfApproval, tested with errors.Is. A UI uses it to say why a
// control is disabled.
func (e *Engine) CanAct(ctx context.Context, itemID string, p Principal,
	act Action,
) error {
	if act != ActionApprove && act != ActionReject {
		return invalid("action", "unknown action %q", string(act))
	}

	if err := checkID("work_item_id", itemID); err != nil {
		return err
	}

	if err := ValidatePrincipal(p); err != nil {
		return err
	}

	w, prof, err := e.load(ctx, itemID)
	if err != nil {
		return fmt.Errorf("work item %q: %w", itemID, err)
	}

	return CheckAct(w, prof, p, act)
}

// Inbox returns a page of the Pending work items p may approve now:
// bound to a profile that lists p, not yet approved by p, and not
// requested by p unless the profile allows self-approval.
func (e *Engine) Inbox(ctx context.Context, p Principal,
	req PageRequest,
) (Page[WorkItem], error) {
	if err := ValidatePrincipal(p); err != nil {
		return Page[WorkItem]{}, err
	}

	after, limit, err := req.decode()
	if err != nil {
		return Page[WorkItem]{}, err
	}

	profiles, err := e.profilesOf(ctx, p)
	if err != nil || len(profiles) == 0 {
		return Page[WorkItem]{}, err
	}

	q := WorkItemQuery{
		Status:     StatusPending,
		ProfileIDs: make([]string, 0, len(profiles)),
		After:      after,
		Limit:      limit + 1,
	}
	for id := range profiles {
		q.ProfileIDs = append(q.ProfileIDs, id)
	}

	var out []WorkItem
	for {
		batch, err := e.store.ListWorkItems(ctx, q)
		if err != nil {
			return Page[WorkItem]{}, fmt.Errorf("list inbox: %w", err)
		}

		// The first batch is filtered in place: each kept item moves
		// to an index no higher than the one being read.
		if out == nil {
			out = batch[:0]
		}

		for _, w := range batch {
			if CheckAct(w, profiles[w.ProfileID], p, ActionApprove) != nil {
				continue
			}

			if len(out) == limit {
				e.memory.rememberItems(out...)
				return Page[WorkItem]{Items: out, Next: encodeCursor(out[limit-1].ID)}, nil
			}
			out = append(out, normalizeItem(w))
		}

		if len(batch) < q.Limit {
			e.memory.rememberItems(out...)
			return Page[WorkItem]{Items: out}, nil
		}
		q.After = batch[len(batch)-1].ID
	}
}

// profilesOf returns the profiles that list p, by ID.
func (e *Engine) profilesOf(ctx context.Context, p Principal) (map[string]Profile, error) {
	out := make(map[string]Profile)
	after := ""
	for {
		ps, err := e.store.ListProfiles(ctx, after, MaxPageSize)
		if err != nil {
			return nil, fmt.Errorf("list profiles: %w", err)
		}

		e.memory.rememberProfiles(ps...)
		for _, prof := range ps {
			if prof.Approvers.Allows(p) {
				out[prof.ID] = prof
			}
		}

		if len(ps) < MaxPageSize {
			return out, nil
		}
		after = ps[len(ps)-1].ID
	}
}

// normalizeItem gives an empty approval list one form, so every
// backend returns the same value.
func normalizeItem(w WorkItem) WorkItem {
	w.Approvals = nilIfEmpty(w.Approvals)
	return w
}

func itemID(w WorkItem) string {
	return w.ID
}
