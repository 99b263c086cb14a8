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
	indexResource = "resource"
	indexAdvance  = "advance"
)

// sep ends every string part of an index key. IDs hold no control
// characters, so it sorts below every byte a part can hold, and a key
// that is a prefix of another sorts first.
const sep = "\x00"

// keyArg returns the one key a lookup passes, as a string or bytes.
func keyArg(args []any) ([]byte, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("index: want one key, got %d", len(args))
	}

	switch k := args[0].(type) {
	case string:
		return []byte(k), nil
	case []byte:
		return k, nil
	}

	return nil, fmt.Errorf("index: key is %T, not string or bytes", args[0])
}

// profileIndex indexes profiles by a string key.
type profileIndex func(*approval.Profile) string

// FromObject implements [memdb.SingleIndexer].
func (x profileIndex) FromObject(raw any) (bool, []byte, error) {
	p, ok := raw.(*approval.Profile)
	if !ok {
		return false, nil, fmt.Errorf("index: unexpected %T", raw)
	}

	return true, []byte(x(p) + sep), nil
}

// FromArgs implements [memdb.Indexer].
func (x profileIndex) FromArgs(args ...any) ([]byte, error) {
	return keyArg(args)
}

func profileID(p *approval.Profile) string   { return p.ID }
func profileName(p *approval.Profile) string { return p.Name }

// idIndex is the unique index of work items, by ID.
type idIndex struct{}

// FromObject implements [memdb.SingleIndexer].
func (idIndex) FromObject(raw any) (bool, []byte, error) {
	r, ok := raw.(*record)
	if !ok {
		return false, nil, fmt.Errorf("index: unexpected %T", raw)
	}

	return true, idKey(r.id()), nil
}

// FromArgs implements [memdb.Indexer].
func (idIndex) FromArgs(args ...any) ([]byte, error) {
	return keyArg(args)
}

// idKey is the key of the work item id in the ID index.
func idKey(id string) []byte {
	b := make([]byte, len(id)+len(sep))
	copy(b[copy(b, id):], sep)

	return b
}

// like names one key of a non-unique index of work items: a tag byte
// and, in the indexes that have one, a string part.
type like struct {
	tag  byte
	text string
}

// itemIndex is a non-unique index of work items. Its keys are a tag
// byte, then, if it has one, a string part ended by sep; go-memdb
// appends the ID key, so the entries of one key sort by ID.
type itemIndex struct {
	name string

	// text says whether keys have a string part.
	text bool

	// of returns the key of r; false leaves r out of the index.
	of func(r *record) (like, bool)
}

// prefix returns the key of k with room for extra bytes after it: for
// the ID key go-memdb appends to index an item, which then needs no
// second allocation, or for the ID a scan starts above.
func (x *itemIndex) prefix(k like, extra int) []byte {
	n := 1
	if x.text {
		n += len(k.text) + len(sep)
	}

	b := make([]byte, 0, n+extra)
	b = append(b, k.tag)
	if x.text {
		b = append(b, k.text...)
		b = append(b, sep...)
	}

	return b
}

// holds reports whether r has the key k in the index.
func (x *itemIndex) holds(r *record, k like) bool {
	got, ok := x.of(r)
	return ok && got == k
}

// FromObject implements [memdb.SingleIndexer].
func (x *itemIndex) FromObject(raw any) (bool, []byte, error) {
	r, ok := raw.(*record)
	if !ok {
		return false, nil, fmt.Errorf("index: unexpected %T", raw)
	}

	k, ok := x.of(r)
	if !ok {
		return false, nil, nil
	}

	return true, x.prefix(k, len(r.id())+len(sep)), nil
}

// FromArgs implements [memdb.Indexer].
func (x *itemIndex) FromArgs(args ...any) ([]byte, error) {
	return keyArg(args)
}

var (
	// byStatus keys every item by its status, then its profile: the
	// inbox walks one profile's Pending items, and a listing by status
	// alone walks each profile's items in that status, merged. One
	// index serves both, so each item pays for one entry, not two.
	byStatus = &itemIndex{
		name: indexStatus,
		text: true,
		of: func(r *record) (like, bool) {
			return like{tag: byte(r.status), text: r.profileID}, true
		},
	}

	byResource = &itemIndex{
		name: indexResource,
		text: true,
		of: func(r *record) (like, bool) {
			return like{tag: byte(r.resourceType), text: r.resourceID()}, true
		},
	}

	// byAdvance holds the decided items whose advance needs work: due,
	// or failed for good. Pending items have no advance, and done
	// ones, nearly all of them, stay out to save memory.
	byAdvance = &itemIndex{
		name: indexAdvance,
		of: func(r *record) (like, bool) {
			s := r.advanceState()
			return like{tag: byte(s)}, s == codeDue || s == codeFailed
		},
	}
)

func schema() *memdb.DBSchema {
	items := map[string]*memdb.IndexSchema{
		indexID: {Name: indexID, Unique: true, Indexer: idIndex{}},
	}
	// Only the advance index leaves items out; the others key all.
	for _, x := range []*itemIndex{byStatus, byResource, byAdvance} {
		items[x.name] = &memdb.IndexSchema{
			Name:         x.name,
			AllowMissing: true,
			Indexer:      x,
		}
	}

	return &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{
		tableProfiles: {
			Name: tableProfiles,
			Indexes: map[string]*memdb.IndexSchema{
				indexID: {
					Name:    indexID,
					Unique:  true,
					Indexer: profileIndex(profileID),
				},
				indexName: {
					Name:    indexName,
					Unique:  true,
					Indexer: profileIndex(profileName),
				},
			},
		},
		tableItems: {Name: tableItems, Indexes: items},
	}}
}
