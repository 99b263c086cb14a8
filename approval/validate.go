package approval

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on input, chosen so that every backend stores any accepted
// value exactly as given.
const (
	// MaxIDLen is the longest ID, user, group or role name, in bytes.
	MaxIDLen = 255

	// MaxTextLen is the longest description, comment or reason, in
	// bytes.
	MaxTextLen = 16 << 10

	// MaxApprovers is the most entries one approver collection of a
	// profile may hold.
	MaxApprovers = 1000

	// MaxRequiredApprovals is the highest threshold a profile may set.
	MaxRequiredApprovals = 100

	// minNameLen is the shortest profile name, in characters, once
	// trimmed.
	minNameLen = 3
)

// checkID accepts a non-empty identifier of at most MaxIDLen bytes of
// valid UTF-8, with no control characters and no surrounding space.
func checkID(field, s string) error {
	switch {
	case strings.TrimSpace(s) == "":
		return invalid(field, "must not be empty")
	case len(s) > MaxIDLen:
		return invalid(field, "longer than %d bytes", MaxIDLen)
	case !utf8.ValidString(s):
		return invalid(field, "not valid UTF-8")
	case strings.TrimSpace(s) != s:
		return invalid(field, "has leading or trailing space")
	case strings.ContainsFunc(s, unicode.IsControl):
		return invalid(field, "contains a control character")
	}

	return nil
}

// checkText accepts free text of at most MaxTextLen bytes of valid
// UTF-8 without NUL bytes, which no SQL text type stores.
func checkText(field, s string) error {
	switch {
	case len(s) > MaxTextLen:
		return invalid(field, "longer than %d bytes", MaxTextLen)
	case !utf8.ValidString(s):
		return invalid(field, "not valid UTF-8")
	case strings.IndexByte(s, 0) >= 0:
		return invalid(field, "contains a NUL byte")
	}

	return nil
}

// checkList accepts a list of distinct IDs of at most MaxApprovers.
func checkList(field string, list []string) error {
	if len(list) > MaxApprovers {
		return invalid(field, "more than %d entries", MaxApprovers)
	}

	seen := make(map[string]struct{}, len(list))
	for _, s := range list {
		if err := checkID(field, s); err != nil {
			return err
		}

		if _, dup := seen[s]; dup {
			return invalid(field, "lists %q twice", s)
		}
		seen[s] = struct{}{}
	}

	return nil
}

// ValidatePrincipal reports whether p is well-formed: a user ID and
// well-formed group and role names. Whether p may act is a separate
// question, answered against a profile.
func ValidatePrincipal(p Principal) error {
	if err := checkID("principal.user_id", p.UserID); err != nil {
		return err
	}

	for _, g := range p.Groups {
		if err := checkID("principal.groups", g); err != nil {
			return err
		}
	}

	for _, r := range p.Roles {
		if err := checkID("principal.roles", r); err != nil {
			return err
		}
	}

	return nil
}

// ValidateProfile reports whether p may be stored: a name of at least
// three characters once trimmed, at least one approver, a threshold
// from 1 that the listed users can reach when only users are listed,
// and well-formed text everywhere. The ID is checked only when set.
func ValidateProfile(p Profile) error {
	if p.ID != "" {
		if err := checkID("profile.id", p.ID); err != nil {
			return err
		}
	}

	name := strings.TrimSpace(p.Name)
	if err := checkText("profile.name", name); err != nil {
		return err
	}

	if n := utf8.RuneCountInString(name); n < minNameLen {
		return invalid("profile.name", "shorter than %d characters", minNameLen)
	}

	if len(name) > MaxIDLen {
		return invalid("profile.name", "longer than %d bytes", MaxIDLen)
	}

	if err := checkText("profile.description", p.Description); err != nil {
		return err
	}

	if err := checkApprovers(p.Approvers); err != nil {
		return err
	}

	return checkThreshold(p)
}

func checkApprovers(a Approvers) error {
	if err := checkList("profile.approvers.users", a.Users); err != nil {
		return err
	}

	if err := checkList("profile.approvers.groups", a.Groups); err != nil {
		return err
	}

	if err := checkList("profile.approvers.roles", a.Roles); err != nil {
		return err
	}

	if a.Empty() {
		return invalid("profile.approvers", "lists no user, group or role")
	}

	return nil
}

// checkThreshold refuses a threshold no set of approvers could reach.
// Groups and roles may have any number of members, so the bound is
// known only when users alone are listed.
func checkThreshold(p Profile) error {
	n := p.RequiredApprovals
	switch {
	case n < 1:
		return invalid("profile.required_approvals", "must be at least 1")
	case n > MaxRequiredApprovals:
		return invalid("profile.required_approvals",
			"must be at most %d", MaxRequiredApprovals)
	}

	a := p.Approvers
	onlyUsers := len(a.Groups) == 0 && len(a.Roles) == 0
	if onlyUsers && n > len(a.Users) {
		return invalid("profile.required_approvals",
			"%d approvals can never be reached by %d listed users",
			n, len(a.Users))
	}

	return nil
}

// WorkItemSpec is what a caller gives to create a work item.
type WorkItemSpec struct {
	// ProfileID names the approval profile that governs the item.
	ProfileID string

	// ResourceType is EnrollmentRequest or IssuanceRequest.
	ResourceType ResourceType

	// ResourceID identifies the gated request.
	ResourceID string

	// Description is shown to approvers scanning a list.
	Description string

	// RequestedBy is the user who made the gated request. Optional;
	// when set, that user may not approve unless the profile allows
	// self-approval.
	RequestedBy string
}

// Validate reports whether s is well-formed.
func (s WorkItemSpec) Validate() error {
	if err := checkID("work_item.profile_id", s.ProfileID); err != nil {
		return err
	}

	if !s.ResourceType.Valid() {
		return invalid("work_item.resource_type",
			"unknown resource type %q", string(s.ResourceType))
	}

	if err := checkID("work_item.resource_id", s.ResourceID); err != nil {
		return err
	}

	if err := checkText("work_item.description", s.Description); err != nil {
		return err
	}

	if s.RequestedBy == "" {
		return nil
	}

	return checkID("work_item.requested_by", s.RequestedBy)
}

// ValidateNewWorkItem reports whether w may be stored as a new work
// item: well-formed IDs and text, a threshold in range, Pending with
// fewer distinct approvals than it requires, and nothing a decision
// writes: no rejection, no decision time and no advance. A store
// refuses any other item at creation, so that a Pending item it holds
// never carries a decision's fields.
func ValidateNewWorkItem(w WorkItem) error {
	if err := checkID("work_item.id", w.ID); err != nil {
		return err
	}

	spec := WorkItemSpec{
		ProfileID:    w.ProfileID,
		ResourceType: w.ResourceType,
		ResourceID:   w.ResourceID,
		Description:  w.Description,
		RequestedBy:  w.RequestedBy,
	}
	if err := spec.Validate(); err != nil {
		return err
	}

	switch n := w.RequiredApprovals; {
	case n < 1 || n > MaxRequiredApprovals:
		return invalid("work_item.required_approvals",
			"must be from 1 to %d", MaxRequiredApprovals)
	case len(w.Approvals) >= n:
		return invalid("work_item.approvals",
			"%d approvals reach the threshold of %d", len(w.Approvals), n)
	}

	if err := checkApprovals(w.Approvals); err != nil {
		return err
	}

	switch {
	case w.Status != StatusPending:
		return invalid("work_item.status", "a new work item is Pending, not %q",
			string(w.Status))
	case w.Version < 1:
		return invalid("work_item.version", "must be at least 1")
	case w.Rejection != nil:
		return invalid("work_item.rejection", "a Pending work item has none")
	case !w.DecidedAt.IsZero():
		return invalid("work_item.decided_at", "a Pending work item has none")
	case w.Advance != (Advance{}):
		return invalid("work_item.advance", "a Pending work item has none")
	}

	return nil
}

// checkApprovals accepts approvals by distinct, well-formed users with
// well-formed comments.
func checkApprovals(list []Approval) error {
	seen := make(map[string]struct{}, len(list))
	for _, a := range list {
		if err := checkID("work_item.approvals.user_id", a.UserID); err != nil {
			return err
		}

		if err := checkText("work_item.approvals.comment", a.Comment); err != nil {
			return err
		}

		if _, dup := seen[a.UserID]; dup {
			return invalid("work_item.approvals", "%q approved twice", a.UserID)
		}
		seen[a.UserID] = struct{}{}
	}

	return nil
}
