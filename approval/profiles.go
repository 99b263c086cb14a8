package approval

import (
	"context"
	"fmt"
	"strings"
)

// CreateProfile validates p and stores it as a new approval profile.
// An empty p.ID is generated; the name is stored trimmed. Version and
// times are set by the engine. It returns the stored profile, an
// *InvalidArgumentError, or ErrNameTaken.
func (e *Engine) CreateProfile(ctx context.Context, p Profile) (Profile, error) {
	if err := ValidateProfile(p); err != nil {
		return Profile{}, err
	}

	p = normalizeProfile(p)
	if p.ID == "" {
		p.ID = e.newID()
	}

	now := e.now()
	p.Version = 1
	p.CreatedAt = now
	p.UpdatedAt = now

	if err := e.store.CreateProfile(ctx, p); err != nil {
		return Profile{}, fmt.Errorf("create profile %q: %w", p.Name, err)
	}
	e.memory.rememberProfiles(p)

	return p, nil
}

// GetProfile returns the profile with the ID, or ErrNotFound.
func (e *Engine) GetProfile(ctx context.Context, id string) (Profile, error) {
	if err := checkID("profile_id", id); err != nil {
		return Profile{}, err
	}

	p, err := e.store.GetProfile(ctx, id)
	if err != nil {
		return Profile{}, fmt.Errorf("get profile %q: %w", id, err)
	}
	e.memory.rememberProfiles(p)

	return normalizeProfile(p), nil
}

// ListProfiles returns a page of profiles in ID order.
func (e *Engine) ListProfiles(ctx context.Context, req PageRequest) (Page[Profile], error) {
	after, limit, err := req.decode()
	if err != nil {
		return Page[Profile]{}, err
	}

	ps, err := e.store.ListProfiles(ctx, after, limit+1)
	if err != nil {
		return Page[Profile]{}, fmt.Errorf("list profiles: %w", err)
	}

	for i := range ps {
		ps[i] = normalizeProfile(ps[i])
	}

	return pageOf(ps, limit, func(p Profile) string { return p.ID }), nil
}

// UpdateProfile replaces the profile p.ID with p. When p.Version is
// set, the update applies only to that version and otherwise fails
// with ErrConflict, so an editor never overwrites a change it did not
// see; zero applies it to whatever version is current. Work items keep
// the required approvals they were created with, but who may approve
// follows the new approvers from the moment the update commits.
func (e *Engine) UpdateProfile(ctx context.Context, p Profile) (Profile, error) {
	if err := checkID("profile.id", p.ID); err != nil {
		return Profile{}, err
	}

	if err := ValidateProfile(p); err != nil {
		return Profile{}, err
	}

	var next Profile
	err := e.retry(ctx, func() error {
		cur, err := e.store.GetProfile(ctx, p.ID)
		if err != nil {
			return err
		}

		if p.Version != 0 && p.Version != cur.Version {
			return &staleError{have: cur.Version, want: p.Version}
		}

		next = normalizeProfile(p)
		next.Version = cur.Version + 1
		next.CreatedAt = cur.CreatedAt
		next.UpdatedAt = e.now()

		return e.store.UpdateProfile(ctx, next, cur.Version)
	})
	if err != nil {
		return Profile{}, fmt.Errorf("update profile %q: %w", p.ID, err)
	}
	e.memory.rememberProfiles(next)

	return next, nil
}

// DeleteProfile removes the profile. It fails with ErrProfileInUse
// while a Pending work item is bound to it; decided work items keep
// its ID for the record.
func (e *Engine) DeleteProfile(ctx context.Context, id string) error {
	if err := checkID("profile_id", id); err != nil {
		return err
	}

	err := e.retry(ctx, func() error {
		cur, err := e.store.GetProfile(ctx, id)
		if err != nil {
			return err
		}

		return e.store.DeleteProfile(ctx, id, cur.Version)
	})
	e.memory.forgetProfile(id)
	if err != nil {
		return fmt.Errorf("delete profile %q: %w", id, err)
	}

	return nil
}

// CanApprove reports whether p is an approver of the profile: the
// check a UI makes to show or hide the approve and reject controls.
// For one work item, [Engine.CanAct] also says why not.
func (e *Engine) CanApprove(ctx context.Context, profileID string, p Principal) (bool, error) {
	if err := ValidatePrincipal(p); err != nil {
		return false, err
	}

	prof, err := e.GetProfile(ctx, profileID)
	if err != nil {
		return false, err
	}

	return prof.Approvers.Allows(p), nil
}

// normalizeProfile trims the name and gives empty approver lists one
// form, so every backend returns the same value.
func normalizeProfile(p Profile) Profile {
	p = p.Clone()
	p.Name = strings.TrimSpace(p.Name)
	p.Approvers.Users = nilIfEmpty(p.Approvers.Users)
	p.Approvers.Groups = nilIfEmpty(p.Approvers.Groups)
	p.Approvers.Roles = nilIfEmpty(p.Approvers.Roles)

	return p
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}

	return s
}
