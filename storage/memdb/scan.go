package memdb

import (
	"github.com/hashicorp/go-memdb"

	"github.com/otpki/workitems/approval"
)

// itemIndex describes a non-unique index of work items: its name, how
// it keys an item, and whether two items share a key, which a scan
// asks of every item it meets, so it compares fields instead of
// building keys.
type itemIndex struct {
	name string
	key  func(*approval.WorkItem) string
	same func(a, b *approval.WorkItem) bool
}

var (
	byStatus = itemIndex{
		name: indexStatus,
		key:  itemStatus,
		same: func(a, b *approval.WorkItem) bool {
			return a.Status == b.Status
		},
	}

	byProfile = itemIndex{
		name: indexProfile,
		key:  itemProfile,
		same: func(a, b *approval.WorkItem) bool {
			return a.ProfileID == b.ProfileID && a.Status == b.Status
		},
	}

	byResource = itemIndex{
		name: indexResource,
		key:  itemResource,
		same: func(a, b *approval.WorkItem) bool {
			return a.ResourceType == b.ResourceType &&
				a.ResourceID == b.ResourceID
		},
	}

	byAdvance = itemIndex{
		name: indexAdvance,
		key:  advanceKey,
		same: func(a, b *approval.WorkItem) bool {
			return a.Advance.State == b.Advance.State
		},
	}
)

// cursor walks the work items that share one key of an index, in ID
// order.
type cursor struct {
	it   memdb.ResultIterator
	like *approval.WorkItem
	same func(a, b *approval.WorkItem) bool
	head *approval.WorkItem
}

func (c *cursor) next() {
	c.head = nil
	if raw := c.it.Next(); raw != nil {
		w := raw.(*approval.WorkItem)
		if c.same(w, c.like) {
			c.head = w
		}
	}
}

// scan yields, in ID order and starting above after, the work items
// that share their key in idx with one of likes. It stops when yield
// returns false.
func scan(txn *memdb.Txn, idx itemIndex, likes []*approval.WorkItem,
	after string, yield func(*approval.WorkItem) bool,
) error {
	cs := make([]cursor, len(likes))
	for i, like := range likes {
		start := idx.key(like)
		if after != "" {
			start += after + sep + sep
		}

		it, err := txn.LowerBound(tableItems, idx.name, start)
		if err != nil {
			return err
		}

		cs[i] = cursor{it: it, like: like, same: idx.same}
		cs[i].next()
	}

	for {
		var lo *cursor
		for i := range cs {
			c := &cs[i]
			if c.head != nil && (lo == nil || c.head.ID < lo.head.ID) {
				lo = c
			}
		}

		if lo == nil || !yield(lo.head) {
			return nil
		}
		lo.next()
	}
}

// scanAll yields every work item above after, in ID order.
func scanAll(txn *memdb.Txn, after string, yield func(*approval.WorkItem) bool) error {
	start := ""
	if after != "" {
		start = after + sep + sep
	}

	it, err := txn.LowerBound(tableItems, indexID, start)
	if err != nil {
		return err
	}

	for raw := it.Next(); raw != nil; raw = it.Next() {
		if !yield(raw.(*approval.WorkItem)) {
			return nil
		}
	}

	return nil
}

// plan picks the index that narrows q the most and the keys to walk in
// it, each given as an item that has the key. An empty plan walks all
// items. The caller still filters every item with matches.
func plan(q approval.WorkItemQuery) (itemIndex, []*approval.WorkItem) {
	statuses := []approval.Status{q.Status}
	if q.Status == "" {
		statuses = []approval.Status{
			approval.StatusPending, approval.StatusApproved, approval.StatusRejected,
		}
	}

	var likes []*approval.WorkItem
	switch {
	case q.ResourceID != "":
		types := []approval.ResourceType{q.ResourceType}
		if q.ResourceType == "" {
			types = []approval.ResourceType{
				approval.EnrollmentRequest, approval.IssuanceRequest,
			}
		}

		for _, t := range types {
			likes = append(likes, &approval.WorkItem{ResourceType: t, ResourceID: q.ResourceID})
		}

		return byResource, likes

	case len(q.ProfileIDs) > 0:
		for _, id := range q.ProfileIDs {
			for _, s := range statuses {
				likes = append(likes, &approval.WorkItem{ProfileID: id, Status: s})
			}
		}

		return byProfile, likes

	case q.Status != "":
		return byStatus, []*approval.WorkItem{{Status: q.Status}}

	case q.AdvanceState == approval.AdvanceDue || q.AdvanceState == approval.AdvanceFailed:
		return byAdvance, []*approval.WorkItem{{Advance: approval.Advance{State: q.AdvanceState}}}
	}

	return itemIndex{}, nil
}

func advanceKey(w *approval.WorkItem) string {
	k, _ := itemAdvance(w)
	return k
}

// matches reports whether w meets every condition of q.
func matches(q approval.WorkItemQuery, w *approval.WorkItem) bool {
	switch {
	case q.Status != "" && w.Status != q.Status:
		return false
	case q.ResourceType != "" && w.ResourceType != q.ResourceType:
		return false
	case q.ResourceID != "" && w.ResourceID != q.ResourceID:
		return false
	case q.AdvanceState != "" && w.Advance.State != q.AdvanceState:
		return false
	case len(q.ProfileIDs) > 0 && !contains(q.ProfileIDs, w.ProfileID):
		return false
	}

	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}

	return false
}
