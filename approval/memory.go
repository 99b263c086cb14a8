package approval

import (
	"slices"
	"sync"
)

// memory is what an engine remembers of the records it has read or
// written, so that a common call needs no read of its own: Pending
// work items as last seen, and profiles. A remembered record is only
// ever used where the store checks its version in the same write, so
// one that changed since costs a conflict or a read, never a wrong
// decision.
//
// It holds at most limit work items and limit profiles; the oldest
// remembered item makes room for the next one. A zero limit turns it
// off.
type memory struct {
	limit int

	mu       sync.Mutex
	items    map[string]*WorkItem
	ring     []string
	next     int
	profiles map[string]Profile

	// listed holds, for each user, group and role a remembered profile
	// lists, the IDs of the profiles that list it.
	listed map[listing][]string
}

// listing is one approver a profile lists: a user, a group or a role.
type listing struct {
	kind byte
	name string
}

// The kinds of listing.
const (
	listsUser  = 'u'
	listsGroup = 'g'
	listsRole  = 'r'
)

// maxListing bounds the remembered profiles an approval without a read
// is derived under. A principal that more profiles may list is rare,
// and its items are read instead.
const maxListing = 64

func newMemory(limit int) *memory {
	return &memory{
		limit:    max(limit, 0),
		items:    make(map[string]*WorkItem),
		profiles: make(map[string]Profile),
		listed:   make(map[listing][]string),
	}
}

// item returns a copy of the work item as last seen, Pending then, and
// the profile it is bound to.
func (m *memory) item(id string) (WorkItem, Profile, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()

	w, ok := m.items[id]
	if !ok {
		return WorkItem{}, Profile{}, false
	}

	prof, ok := m.profiles[w.ProfileID]
	if !ok {
		return WorkItem{}, Profile{}, false
	}

	return w.Clone(), prof, true
}

// profile returns the remembered profile with the ID.
func (m *memory) profile(id string) (Profile, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()

	p, ok := m.profiles[id]

	return p, ok
}

// profilesListing returns the remembered profiles that may list p, by
// its user ID, a group or a role: the ones that do are for
// [Approvers.Allows] to tell. It returns none when more than
// maxListing may.
func (m *memory) profilesListing(p Principal) []Profile {
	m.mu.Lock()
	defer m.mu.Unlock()

	var ids []string
	add := func(kind byte, names ...string) {
		for _, name := range names {
			for _, id := range m.listed[listing{kind, name}] {
				if !slices.Contains(ids, id) {
					ids = append(ids, id)
				}
			}
		}
	}
	add(listsUser, p.UserID)
	add(listsGroup, p.Groups...)
	add(listsRole, p.Roles...)

	if len(ids) == 0 || len(ids) > maxListing {
		return nil
	}

	out := make([]Profile, len(ids))
	for i, id := range ids {
		out[i] = m.profiles[id]
	}

	return out
}

// rememberItems remembers Pending work items, keeping for each ID the
// highest version seen; a decided item is never acted on again, so it
// is not worth the room.
func (m *memory) rememberItems(ws ...WorkItem) {
	if m.limit == 0 {
		return
	}

	m.mu.Lock()
	defer m.mu.Unlock()

	for _, w := range ws {
		if w.Status != StatusPending {
			delete(m.items, w.ID)
			continue
		}

		cur, ok := m.items[w.ID]
		switch {
		case ok && cur.Version >= w.Version:
			continue
		case !ok && len(m.ring) < m.limit:
			m.ring = append(m.ring, w.ID)
		case !ok:
			delete(m.items, m.ring[m.next])
			m.ring[m.next] = w.ID
			m.next = (m.next + 1) % m.limit
		}

		kept := w.Clone()
		m.items[w.ID] = &kept
	}
}

// rememberProfiles remembers profiles, keeping for each ID the highest
// version seen.
func (m *memory) rememberProfiles(ps ...Profile) {
	if m.limit == 0 {
		return
	}

	m.mu.Lock()
	defer m.mu.Unlock()

	for _, p := range ps {
		cur, ok := m.profiles[p.ID]
		switch {
		case ok && cur.Version >= p.Version:
			continue
		case !ok && len(m.profiles) >= m.limit:
			continue
		}

		if ok {
			m.unlist(cur)
		}

		kept := p.Clone()
		m.profiles[p.ID] = kept
		m.list(kept)
	}
}

// forgetProfile drops the profile with the ID, which changed or went
// away since it was remembered.
func (m *memory) forgetProfile(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()

	if p, ok := m.profiles[id]; ok {
		m.unlist(p)
		delete(m.profiles, id)
	}
}

// listings returns the approvers p lists, each once.
func listings(p Profile) []listing {
	var out []listing
	add := func(kind byte, names []string) {
		for _, name := range names {
			l := listing{kind, name}
			if name != "" && !slices.Contains(out, l) {
				out = append(out, l)
			}
		}
	}
	add(listsUser, p.Approvers.Users)
	add(listsGroup, p.Approvers.Groups)
	add(listsRole, p.Approvers.Roles)

	return out
}

// list adds p to the index of listings.
func (m *memory) list(p Profile) {
	for _, l := range listings(p) {
		m.listed[l] = append(m.listed[l], p.ID)
	}
}

// unlist removes p from the index of listings.
func (m *memory) unlist(p Profile) {
	for _, l := range listings(p) {
		ids := slices.DeleteFunc(m.listed[l], func(id string) bool {
			return id == p.ID
		})

		if len(ids) == 0 {
			delete(m.listed, l)
			continue
		}
		m.listed[l] = ids
	}
}
