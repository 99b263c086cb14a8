package memdb

import (
	"github.com/hashicorp/go-memdb"

	"github.com/otpki/workitems/approval"
)

// cursor walks the work items under one key of a non-unique index, in
// ID order.
type cursor struct {
	it   memdb.ResultIterator
	key  string
	keyf func(*approval.WorkItem) string
	head *approval.WorkItem
}

func (c *cursor) next() {
	c.head = nil
	if raw := c.it.Next(); raw != nil {
		w := raw.(*approval.WorkItem)
		if c.keyf(w) == c.key {
			c.head = w
		}
	}
}

// scan yields, in ID order and starting above after, the work items
// whose key in the index is one of keys. keyf must be the index's key
// function. It stops when yield returns false.
func scan(txn *memdb.Txn, index string, keyf func(*approval.WorkItem) string,
	keys []string, after string, yield func(*approval.WorkItem) bool,
) error {
	cs := make([]*cursor, 0, len(keys))
	for _, k := range keys {
		start := k
		if after != "" {
			start = k + after + sep + sep
		}

		it, err := txn.LowerBound(tableItems, index, start)
		if err != nil {
			return err
		}

		c := &cursor{it: it, key: k, keyf: keyf}
		c.next()
		cs = append(cs, c)
	}

	for {
		var lo *cursor
		for _, c := range cs {
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
// it. The caller still filters every item with matches.
func plan(q approval.WorkItemQuery) (string, func(*approval.WorkItem) string, []string) {
	statuses := []approval.Status{q.Status}
	if q.Status == "" {
		statuses = []approval.Status{
			approval.StatusPending, approval.StatusApproved, approval.StatusRejected,
		}
	}

	switch {
	case q.ResourceID != "":
		types := []approval.ResourceType{q.ResourceType}
		if q.ResourceType == "" {
			types = []approval.ResourceType{
				approval.EnrollmentRequest, approval.IssuanceRequest,
			}
		}

		var keys []string
		for _, t := range types {
			keys = append(keys, itemResource(&approval.WorkItem{
				ResourceType: t, ResourceID: q.ResourceID,
			}))
		}

		return indexResource, itemResource, keys

	case len(q.ProfileIDs) > 0:
		var keys []string
		for _, id := range q.ProfileIDs {
			for _, s := range statuses {
				keys = append(keys, itemProfile(&approval.WorkItem{
					ProfileID: id, Status: s,
				}))
			}
		}

		return indexProfile, itemProfile, keys

	case q.Status != "":
		return indexStatus, itemStatus, []string{string(q.Status) + sep}

	case q.AdvanceState == approval.AdvanceDue || q.AdvanceState == approval.AdvanceFailed:
		return indexAdvance, advanceKey, []string{string(q.AdvanceState) + sep}
	}

	return "", nil, nil
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
