package approval

import "sync"

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
}

func newMemory(limit int) *memory {
	return &memory{
		limit:    max(limit, 0),
		items:    make(map[string]*WorkItem),
		profiles: make(map[string]Profile),
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

		m.profiles[p.ID] = p.Clone()
	}
}

// forgetProfile drops the profile with the ID, which changed or went
// away since it was remembered.
func (m *memory) forgetProfile(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()

	delete(m.profiles, id)
}
