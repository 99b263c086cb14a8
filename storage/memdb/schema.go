package memdb

import (
	"fmt"

	"github.com/hashicorp/go-memdb"

	"github.com/otpki/workitems/approval"
)

const (
	tableProfiles = "profiles"
	tableItems    = "work_items"

	indexID       = "id"
	indexName     = "name"
	indexStatus   = "status"
	indexProfile  = "profile"
	indexResource = "resource"
	indexAdvance  = "advance"
)

// sep ends every part of an index key. IDs hold no control characters,
// so it sorts below every byte a part can hold, and a key that is a
// prefix of another sorts first.
const sep = "\x00"

// keyIndex indexes objects by a string key built from their fields.
// Lookups pass a key, or a key prefix, built by the same rules, as
// their only argument. Non-unique indexes get the object's ID appended
// by go-memdb, so their entries sort by ID within one key.
type keyIndex[T any] struct {
	key func(T) (string, bool)
}

// FromObject implements [memdb.SingleIndexer].
func (x keyIndex[T]) FromObject(raw any) (bool, []byte, error) {
	obj, ok := raw.(T)
	if !ok {
		return false, nil, fmt.Errorf("index: unexpected %T", raw)
	}

	k, ok := x.key(obj)
	if !ok {
		return false, nil, nil
	}

	return true, []byte(k), nil
}

// FromArgs implements [memdb.Indexer].
func (x keyIndex[T]) FromArgs(args ...any) ([]byte, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("index: want one key, got %d", len(args))
	}

	k, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("index: key is %T, not string", args[0])
	}

	return []byte(k), nil
}

func always[T any](f func(T) string) keyIndex[T] {
	return keyIndex[T]{key: func(obj T) (string, bool) {
		return f(obj), true
	}}
}

func profileID(p *approval.Profile) string   { return p.ID + sep }
func profileName(p *approval.Profile) string { return p.Name + sep }

func itemID(w *approval.WorkItem) string { return w.ID + sep }

func itemStatus(w *approval.WorkItem) string {
	return string(w.Status) + sep
}

func itemProfile(w *approval.WorkItem) string {
	return w.ProfileID + sep + string(w.Status) + sep
}

func itemResource(w *approval.WorkItem) string {
	return string(w.ResourceType) + sep + w.ResourceID + sep
}

// itemAdvance indexes the decided items whose advance needs work:
// due, or failed for good. Pending items have no advance, and done
// ones, nearly all of them, stay out to save memory.
func itemAdvance(w *approval.WorkItem) (string, bool) {
	s := w.Advance.State
	return string(s) + sep, s == approval.AdvanceDue || s == approval.AdvanceFailed
}

func schema() *memdb.DBSchema {
	return &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{
		tableProfiles: {
			Name: tableProfiles,
			Indexes: map[string]*memdb.IndexSchema{
				indexID: {
					Name:    indexID,
					Unique:  true,
					Indexer: always(profileID),
				},
				indexName: {
					Name:    indexName,
					Unique:  true,
					Indexer: always(profileName),
				},
			},
		},
		tableItems: {
			Name: tableItems,
			Indexes: map[string]*memdb.IndexSchema{
				indexID: {
					Name:    indexID,
					Unique:  true,
					Indexer: always(itemID),
				},
				indexStatus: {
					Name:    indexStatus,
					Indexer: always(itemStatus),
				},
				indexProfile: {
					Name:    indexProfile,
					Indexer: always(itemProfile),
				},
				indexResource: {
					Name:    indexResource,
					Indexer: always(itemResource),
				},
				indexAdvance: {
					Name:         indexAdvance,
					AllowMissing: true,
					Indexer:      keyIndex[*approval.WorkItem]{key: itemAdvance},
				},
			},
		},
	}}
}
