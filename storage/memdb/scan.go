package memdb

import (
	"github.com/hashicorp/go-memdb"

	"github.com/otpki/workitems/approval"
)

// seek names the work items that have one key in one index.
type seek struct {
	idx  *itemIndex
	like like
}

// start returns the key to seek for the items of s above after.
func (s seek) start(after string) []byte {
	b := s.idx.prefix(s.like, len(after)+2*len(sep))
	if after != "" {
		b = append(b, after...)
		b = append(b, sep+sep...)
	}

	return b
}

// cursor walks the work items of one seek, in ID order. head is the
// item it stands on, nil once it has passed the last.
type cursor struct {
	seek
	it   memdb.ResultIterator
	head *record
}

func (c *cursor) next() {
	c.head = nil
	if raw := c.it.Next(); raw != nil {
		r := raw.(*record)
		if c.idx.holds(r, c.like) {
			c.head = r
		}
	}
}

// openSeek opens a cursor on the items of s above after.
func openSeek(txn *memdb.Txn, s seek, after string) (*cursor, error) {
	it, err := txn.LowerBound(tableItems, s.idx.name, s.start(after))
	if err != nil {
		return nil, err
	}

	c := &cursor{seek: s, it: it}
	c.next()

	return c, nil
}

// openAll opens a cursor on each seek, above after.
func openAll(txn *memdb.Txn, seeks []seek, after string) ([]*cursor, error) {
	cs := make([]*cursor, 0, len(seeks))
	for _, s := range seeks {
		c, err := openSeek(txn, s, after)
		if err != nil {
			return nil, err
		}

		cs = append(cs, c)
	}

	return cs, nil
}

// openStatus opens a cursor above after on the items of each profile
// that has items in the status. The status index keys items by
// profile within a status, so it finds the profiles by skipping from
// one to the next, one seek each, and needs no list of them: decided
// items keep the ID of a deleted profile.
func openStatus(txn *memdb.Txn, status statusCode,
	after string,
) ([]*cursor, error) {
	var cs []*cursor
	from := []byte{byte(status)}
	for {
		it, err := txn.LowerBound(tableItems, indexStatus, from)
		if err != nil {
			return nil, err
		}

		raw := it.Next()
		if raw == nil || raw.(*record).status != status {
			return cs, nil
		}

		first := raw.(*record)
		s := seek{byStatus, like{tag: byte(status), text: first.profileID}}

		// The seek stands on the first item of the profile, which will
		// do unless it lies at or below after.
		c := &cursor{seek: s, it: it, head: first}
		if after != "" && first.id() <= after {
			if c, err = openSeek(txn, s, after); err != nil {
				return nil, err
			}
		}
		cs = append(cs, c)

		// Seek past this profile: its keys have sep, the lowest byte,
		// right after its ID, and sep+1 there sorts above them and
		// below the keys of every later profile, as IDs hold no
		// control characters.
		from = make([]byte, 0, len(first.profileID)+2)
		from = append(from, byte(status))
		from = append(from, first.profileID...)
		from = append(from, sep[0]+1)
	}
}

// scan yields, in ID order and starting above after, the work items of
// all seeks, merged. It stops when yield returns false.
func scan(txn *memdb.Txn, seeks []seek, after string,
	yield func(*record) bool,
) error {
	cs, err := openAll(txn, seeks, after)
	if err != nil {
		return err
	}

	merge(cs, yield)

	return nil
}

// merge yields the items of cs in ID order until yield returns false.
// It keeps the cursors in a heap by the ID of their heads, so a merge
// of many profiles costs a logarithm of their number per item.
func merge(cs []*cursor, yield func(*record) bool) {
	h := cs[:0]
	for _, c := range cs {
		if c.head != nil {
			h = append(h, c)
		}
	}

	for i := len(h)/2 - 1; i >= 0; i-- {
		down(h, i)
	}

	for len(h) > 0 {
		c := h[0]
		if !yield(c.head) {
			return
		}

		c.next()
		if c.head == nil {
			h[0] = h[len(h)-1]
			h = h[:len(h)-1]
		}
		down(h, 0)
	}
}

// down moves the cursor at i down the heap h to its place.
func down(h []*cursor, i int) {
	for {
		lo := i
		for _, j := range [2]int{2*i + 1, 2*i + 2} {
			if j < len(h) && h[j].head.id() < h[lo].head.id() {
				lo = j
			}
		}

		if lo == i {
			return
		}

		h[i], h[lo] = h[lo], h[i]
		i = lo
	}
}

// scanAll yields every work item above after, in ID order.
func scanAll(txn *memdb.Txn, after string, yield func(*record) bool) error {
	var start []byte
	if after != "" {
		start = append(idKey(after), sep...)
	}

	it, err := txn.LowerBound(tableItems, indexID, start)
	if err != nil {
		return err
	}

	for raw := it.Next(); raw != nil; raw = it.Next() {
		if !yield(raw.(*record)) {
			return nil
		}
	}

	return nil
}

// filter is a [approval.WorkItemQuery] in the terms of records. Zero
// codes match everything.
type filter struct {
	q            approval.WorkItemQuery
	status       statusCode
	resourceType resourceCode
	advance      advanceCode

	// none says that no record can match: the query names a value
	// that no work item can have.
	none bool
}

func compile(q approval.WorkItemQuery) filter {
	f := filter{q: q}

	var err1, err2, err3 error
	if q.Status != "" {
		f.status, err1 = toStatusCode(q.Status)
	}

	if q.ResourceType != "" {
		f.resourceType, err2 = toResourceCode(q.ResourceType)
	}

	f.advance, err3 = toAdvanceCode(q.AdvanceState)
	f.none = err1 != nil || err2 != nil || err3 != nil

	return f
}

// matches reports whether r meets every condition of the query.
func (f *filter) matches(r *record) bool {
	switch {
	case f.status != 0 && r.status != f.status:
		return false
	case f.resourceType != 0 && r.resourceType != f.resourceType:
		return false
	case f.q.ResourceID != "" && r.resourceID() != f.q.ResourceID:
		return false
	case f.q.AdvanceState != "" && r.advanceState() != f.advance:
		return false
	case len(f.q.ProfileIDs) > 0 && !contains(f.q.ProfileIDs, r.profileID):
		return false
	}

	return true
}

// cursors opens the cursors that cover the query above after: those of
// the index that narrows it the most. It reports all when no index
// narrows the query, which then walks all items. The caller still
// filters every item with matches.
func (f *filter) cursors(txn *memdb.Txn,
	after string,
) (cs []*cursor, all bool, err error) {
	statuses := []statusCode{f.status}
	if f.status == 0 {
		statuses = []statusCode{codePending, codeApproved, codeRejected}
	}

	var seeks []seek
	switch {
	case f.q.ResourceID != "":
		types := []resourceCode{f.resourceType}
		if f.resourceType == 0 {
			types = []resourceCode{codeEnrollment, codeIssuance}
		}

		for _, t := range types {
			k := like{tag: byte(t), text: f.q.ResourceID}
			seeks = append(seeks, seek{idx: byResource, like: k})
		}

	case len(f.q.ProfileIDs) > 0:
		for _, id := range f.q.ProfileIDs {
			for _, s := range statuses {
				k := like{tag: byte(s), text: id}
				seeks = append(seeks, seek{idx: byStatus, like: k})
			}
		}

	// Few items need their advance looked at, so their index narrows
	// more than a status does.
	case f.advance == codeDue || f.advance == codeFailed:
		seeks = []seek{{byAdvance, like{tag: byte(f.advance)}}}

	case f.status != 0:
		cs, err = openStatus(txn, f.status, after)
		return cs, false, err

	default:
		return nil, true, nil
	}

	cs, err = openAll(txn, seeks, after)

	return cs, false, err
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}

	return false
}
