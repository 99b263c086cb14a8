package approval

import (
	"encoding/base64"
	"strings"
)

// Page sizes for listings.
const (
	// DefaultPageSize is the page size when a request names none.
	DefaultPageSize = 50

	// MaxPageSize is the largest page a request may ask for.
	MaxPageSize = 500
)

// PageRequest asks for one page of a listing.
type PageRequest struct {
	// Cursor is the Next of the previous page, or empty for the first.
	Cursor string

	// Limit is the page size: zero means DefaultPageSize, and it may
	// not exceed MaxPageSize.
	Limit int
}

// Page is one page of a listing, in a stable order: listings sort by
// ID, and work item IDs sort by creation.
type Page[T any] struct {
	// Items holds the page.
	Items []T

	// Next is the cursor of the following page, empty on the last.
	Next string
}

// cursorPrefix versions the opaque cursor format.
const cursorPrefix = "v1:"

func encodeCursor(id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + id))
}

// decode returns the ID the page starts after and the page size.
func (r PageRequest) decode() (after string, limit int, err error) {
	switch {
	case r.Limit < 0 || r.Limit > MaxPageSize:
		return "", 0, invalid("page.limit", "must be from 0 to %d", MaxPageSize)
	case r.Limit == 0:
		limit = DefaultPageSize
	default:
		limit = r.Limit
	}

	if r.Cursor == "" {
		return "", limit, nil
	}

	raw, err := base64.RawURLEncoding.DecodeString(r.Cursor)
	if err != nil {
		return "", 0, invalid("page.cursor", "malformed")
	}

	after, ok := strings.CutPrefix(string(raw), cursorPrefix)
	if !ok || checkID("page.cursor", after) != nil {
		return "", 0, invalid("page.cursor", "malformed")
	}

	return after, limit, nil
}

// pageOf turns up to limit+1 fetched items into a page: the extra item
// only tells that another page follows.
func pageOf[T any](items []T, limit int, id func(T) string) Page[T] {
	if len(items) <= limit {
		return Page[T]{Items: items}
	}

	items = items[:limit]

	return Page[T]{Items: items, Next: encodeCursor(id(items[limit-1]))}
}
