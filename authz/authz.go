// Package authz decides who may approve: it checks a principal against
// the three approver collections of an approval profile.
//
// A principal may act when its user ID is listed among the users, OR
// one of its groups is listed among the groups, OR one of its roles is
// listed among the roles. The package is pure: no I/O, no clock, no
// state, so every answer depends only on its arguments.
package authz

import "slices"

// Principal is the signed-in user asking to act, as the host's identity
// system describes it.
type Principal struct {
	// UserID identifies the user. It is the key approvals are recorded
	// under, so it must be stable for the life of the user.
	UserID string

	// Groups holds the names or IDs of the groups the user belongs to.
	Groups []string

	// Roles holds the names or IDs of the roles the user holds.
	Roles []string
}

// Approvers are the three collections of an approval profile that say
// who may approve. They are OR'd.
type Approvers struct {
	// Users holds user IDs allowed to approve directly.
	Users []string

	// Groups holds group names or IDs whose members may approve.
	Groups []string

	// Roles holds role names or IDs whose holders may approve.
	Roles []string
}

// Match says which collection let a principal through.
type Match int

const (
	// NoMatch means the principal is in none of the collections.
	NoMatch Match = iota

	// ByUser means the principal's user ID is listed.
	ByUser

	// ByGroup means one of the principal's groups is listed.
	ByGroup

	// ByRole means one of the principal's roles is listed.
	ByRole
)

// String returns a lowercase name for m, for logs and messages.
func (m Match) String() string {
	switch m {
	case ByUser:
		return "user"
	case ByGroup:
		return "group"
	case ByRole:
		return "role"
	default:
		return "none"
	}
}

// Check reports which approver collection, if any, admits p. It checks
// users first, then groups, then roles. A principal without a user ID
// is never admitted, whatever groups or roles it claims, because an
// approval must be recorded under someone.
func (a Approvers) Check(p Principal) Match {
	if p.UserID == "" {
		return NoMatch
	}

	if slices.Contains(a.Users, p.UserID) {
		return ByUser
	}

	if intersects(a.Groups, p.Groups) {
		return ByGroup
	}

	if intersects(a.Roles, p.Roles) {
		return ByRole
	}

	return NoMatch
}

// Allows reports whether p may act under a.
func (a Approvers) Allows(p Principal) bool {
	return a.Check(p) != NoMatch
}

// Empty reports whether a lists no one at all.
func (a Approvers) Empty() bool {
	return len(a.Users) == 0 && len(a.Groups) == 0 && len(a.Roles) == 0
}

// Clone returns a deep copy of a, so the caller may change either copy
// without affecting the other.
func (a Approvers) Clone() Approvers {
	return Approvers{
		Users:  slices.Clone(a.Users),
		Groups: slices.Clone(a.Groups),
		Roles:  slices.Clone(a.Roles),
	}
}

// intersects reports whether the two lists share an element. The lists
// of a profile and a principal are short, so a nested scan beats
// building a set.
func intersects(listed, held []string) bool {
	for _, h := range held {
		if h != "" && slices.Contains(listed, h) {
			return true
		}
	}

	return false
}
