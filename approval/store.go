package approval

import (
	"context"
	"time"
)

// Store keeps profiles and work items. The engine derives every change
// with the pure functions of this package and hands it to the store,
// which writes it atomically and only if what the change relies on
// still holds. A store holds no rules of its own: where it applies a
// change to an item that moved on, it does what [Change.On] says, so
// any storage engine with atomic conditional writes can implement it.
//
// Every method is safe for concurrent use, including by several
// processes sharing one database. Values passed in and returned are
// owned by the caller: a store neither keeps nor shares their slices.
// Times round-trip exactly: they arrive in UTC truncated to the
// microsecond and come back equal.
//
// The package storage/storagetest checks an implementation against
// this contract.
type Store interface {
	// CreateProfile stores a new profile. It returns ErrNameTaken when
	// another profile has the name, and ErrConflict when the ID is
	// taken.
	CreateProfile(ctx context.Context, p Profile) error

	// GetProfile returns the profile with the ID, or ErrNotFound.
	GetProfile(ctx context.Context, id string) (Profile, error)

	// ListProfiles returns up to limit profiles with IDs above after,
	// in ascending ID order.
	ListProfiles(ctx context.Context, after string, limit int) ([]Profile, error)

	// UpdateProfile replaces the stored profile with p if the stored
	// version is readVersion; p.Version is the new version. It returns
	// ErrNotFound, ErrConflict on a version mismatch, or ErrNameTaken.
	UpdateProfile(ctx context.Context, p Profile, readVersion int64) error

	// DeleteProfile removes the profile if the stored version is
	// readVersion and no Pending work item is bound to it. It returns
	// ErrNotFound, ErrConflict, or ErrProfileInUse. Decided work items
	// keep the ID of a deleted profile.
	DeleteProfile(ctx context.Context, id string, readVersion int64) error

	// CreateWorkItem stores a new Pending work item if its profile is
	// still at profileVersion and its resource has no Pending work item.
	// It returns ErrNotFound when the profile is gone, ErrConflict when
	// the profile changed or the ID is taken, and a
	// *PendingItemExistsError naming the Pending item. It stores
	// nothing and returns an *InvalidArgumentError for an item that
	// [ValidateNewWorkItem] refuses.
	CreateWorkItem(ctx context.Context, w WorkItem, profileVersion int64) error

	// GetWorkItem returns the work item with the ID, or ErrNotFound.
	GetWorkItem(ctx context.Context, id string) (WorkItem, error)

	// GetWorkItemAndProfile returns the work item and the profile it is
	// bound to, read at one moment, in as few round trips as the store
	// can. It returns ErrNotFound when the item is missing; when only
	// the profile is, it returns the item and an error that wraps
	// ErrNotFound.
	GetWorkItemAndProfile(ctx context.Context, id string) (WorkItem, Profile, error)

	// ListWorkItems returns up to q.Limit work items that match q, in
	// ascending ID order, starting after q.After.
	ListWorkItems(ctx context.Context, q WorkItemQuery) ([]WorkItem, error)

	// Apply writes c.On(stored, version), where stored is the work item
	// as stored at the moment of the write and version the version its
	// profile is at then, and returns what it wrote. So an approval
	// derived from an older read, or from no read at all, still counts,
	// and decides the item if it is the one that reaches the threshold.
	// It returns ErrNotFound and the errors of [Change.On], in the
	// order On gives them: ErrNotPending, ErrConflict when the item's
	// profile is not among c.Grants at its version, ErrAlreadyApproved,
	// which the store enforces whatever its caller derived, and
	// ErrSelfApproval. When stored is at c.ReadVersion, c.Item is what
	// it writes. The write is atomic: the approval, the status and the
	// advance mark commit together or not at all.
	Apply(ctx context.Context, c Change) (WorkItem, error)

	// ClaimAdvances leases up to c.Limit decided work items with IDs
	// above c.After whose advance is AdvanceDue, due by c.DueBy, and
	// not leased to anyone at c.Now, to c.Owner until c.LeaseUntil. It
	// returns them, with the new lease, in ascending ID order.
	// Concurrent claims never return the same item while its lease
	// holds.
	ClaimAdvances(ctx context.Context, c AdvanceClaim) ([]WorkItem, error)

	// UpdateAdvance replaces the advance record of a decided work item
	// if its lease owner is still owner (empty for no owner), and
	// otherwise returns ErrConflict, as it does for a Pending item. It
	// changes nothing else, not even the version, so it never conflicts
	// with a decision.
	//
	// With an owner, the write records the outcome of an advance by
	// the holder of its lease, and the store may return before it is
	// durable, if every reader sees it at once and no later write can
	// outlast it in a crash. Lost so, it leaves the item due under the
	// same lease, and the advance runs again once the lease runs out,
	// as after a crash of the engine. Without an owner, as when an
	// operator retries a failed advance, the write is durable when it
	// returns.
	UpdateAdvance(ctx context.Context, id, owner string, adv Advance) error
}

// TxAdvancingStore is a [Store] that advances a decision inside the
// very transaction that records it, for hosts whose gated requests
// live in the same database: decision and advance then commit or roll
// back together, exactly once, with no dispatcher needed.
//
// When AdvancesInTx reports true, the engine hands Apply changes with
// AdvancedInTx set, and calls no advancer itself. When the write
// decides the item, Apply runs the host's advancer within its
// transaction and commits only if it succeeded; otherwise it writes nothing and
// returns the advancer's error, so the caller sees no decision.
type TxAdvancingStore interface {
	Store

	// AdvancesInTx reports whether Apply advances decisions itself.
	AdvancesInTx() bool
}

// WorkItemQuery selects work items. Zero fields match everything.
type WorkItemQuery struct {
	// Status keeps items with this status.
	Status Status

	// ResourceType keeps items gating this type of request.
	ResourceType ResourceType

	// ResourceID keeps items gating this request.
	ResourceID string

	// ProfileIDs keeps items bound to any of these profiles.
	ProfileIDs []string

	// AdvanceState keeps items whose advance is in this state.
	AdvanceState AdvanceState

	// After keeps items whose ID sorts above it.
	After string

	// Limit is the most items to return; zero or less returns none.
	Limit int
}

// AdvanceClaim asks a store for decided work items to advance.
type AdvanceClaim struct {
	// Owner names the engine instance claiming.
	Owner string

	// Now is the current time: leases that ran out by then are free.
	Now time.Time

	// DueBy keeps items whose NextAttemptAt is not after it. The zero
	// time keeps every due item, ignoring backoff.
	DueBy time.Time

	// After keeps items whose ID sorts above it, so a caller can walk
	// all due items once.
	After string

	// LeaseUntil is when the new leases run out.
	LeaseUntil time.Time

	// Limit is the most items to claim.
	Limit int
}
