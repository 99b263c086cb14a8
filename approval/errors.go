package approval

import (
	"errors"
	"fmt"
)

// The errors callers branch on. Test for them with [errors.Is]; the
// typed errors below match the sentinel of their kind too.
var (
	// ErrNotFound means no profile or work item has the given ID.
	ErrNotFound = errors.New("not found")

	// ErrInvalidArgument means an input was malformed. The error is an
	// [*InvalidArgumentError] that names the field.
	ErrInvalidArgument = errors.New("invalid argument")

	// ErrNotPending means the work item is already decided.
	ErrNotPending = errors.New("work item is not pending")

	// ErrAlreadyApproved means the user has approved this work item
	// before. No one approves twice.
	ErrAlreadyApproved = errors.New("user already approved the work item")

	// ErrNotAuthorized means the principal is not an approver of the
	// bound profile. The error is a [*NotAuthorizedError].
	ErrNotAuthorized = errors.New("not authorized")

	// ErrSelfApproval means the user requested the gated resource and
	// the profile does not allow self-approval.
	ErrSelfApproval = errors.New("requester may not approve own request")

	// ErrConflict means the record changed since it was read. The
	// engine retries internally; a caller sees it only when its own
	// stated version is stale or contention outlasted the retries.
	ErrConflict = errors.New("conflicting concurrent change")

	// ErrNameTaken means another profile already has that name.
	ErrNameTaken = errors.New("profile name is taken")

	// ErrProfileInUse means a Pending work item is bound to the profile.
	ErrProfileInUse = errors.New("profile is in use by a pending work item")

	// ErrPendingItemExists means the resource already has a Pending work
	// item. The error is a [*PendingItemExistsError] that names it.
	ErrPendingItemExists = errors.New("resource has a pending work item")

	// ErrNotAdvanced means the decision was recorded but the advancer
	// failed. The decision stands and is retried. The error is a
	// [*NotAdvancedError].
	ErrNotAdvanced = errors.New("work item decided but not advanced")

	// ErrNoAdvancer means a [Router] has no advancer for a resource type.
	ErrNoAdvancer = errors.New("no advancer for resource type")
)

// InvalidArgumentError says which input field was malformed and why.
type InvalidArgumentError struct {
	// Field names the input, such as "profile.name".
	Field string

	// Reason says what is wrong with it.
	Reason string
}

// Error implements error.
func (e *InvalidArgumentError) Error() string {
	return fmt.Sprintf("invalid argument: %s: %s", e.Field, e.Reason)
}

// Is makes errors.Is(err, ErrInvalidArgument) hold.
func (e *InvalidArgumentError) Is(target error) bool {
	return target == ErrInvalidArgument
}

func invalid(field, format string, args ...any) error {
	return &InvalidArgumentError{
		Field:  field,
		Reason: fmt.Sprintf(format, args...),
	}
}

// NotAuthorizedError says a principal may not act on a profile's work
// items.
type NotAuthorizedError struct {
	// UserID is the principal's user.
	UserID string

	// ProfileID is the profile whose approvers do not include it.
	ProfileID string
}

// Error implements error.
func (e *NotAuthorizedError) Error() string {
	return fmt.Sprintf("not authorized: user %q is not an approver "+
		"of profile %q", e.UserID, e.ProfileID)
}

// Is makes errors.Is(err, ErrNotAuthorized) hold.
func (e *NotAuthorizedError) Is(target error) bool {
	return target == ErrNotAuthorized
}

// PendingItemExistsError names the Pending work item that already holds
// a resource.
type PendingItemExistsError struct {
	// WorkItemID is the Pending work item.
	WorkItemID string

	// ResourceType and ResourceID name the resource.
	ResourceType ResourceType

	// ResourceID identifies the resource within its type.
	ResourceID string
}

// Error implements error.
func (e *PendingItemExistsError) Error() string {
	return fmt.Sprintf("%s %q already has pending work item %q",
		e.ResourceType, e.ResourceID, e.WorkItemID)
}

// Is makes errors.Is(err, ErrPendingItemExists) hold.
func (e *PendingItemExistsError) Is(target error) bool {
	return target == ErrPendingItemExists
}

// NotAdvancedError carries a decided work item whose advance failed.
// The decision is recorded; the advance will be retried.
type NotAdvancedError struct {
	// Item is the decided work item.
	Item WorkItem

	// Err is what the advancer returned.
	Err error
}

// Error implements error.
func (e *NotAdvancedError) Error() string {
	return fmt.Sprintf("work item %q %s but not advanced: %v",
		e.Item.ID, e.Item.Status, e.Err)
}

// Is makes errors.Is(err, ErrNotAdvanced) hold.
func (e *NotAdvancedError) Is(target error) bool {
	return target == ErrNotAdvanced
}

// Unwrap returns the advancer's error.
func (e *NotAdvancedError) Unwrap() error {
	return e.Err
}
