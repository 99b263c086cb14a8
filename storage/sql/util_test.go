package sqlstore_test

import (
	"context"
	"strconv"
	"sync"
	"time"
)

var sqliteMu sync.Mutex

// contextWithTimeout is for clean-ups, which run after the test's
// context is done.
func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

func itoa(n int) string {
	return strconv.Itoa(n)
}
