package sqlstore_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	sqlstore "github.com/otpki/workitems/storage/sql"
)

var sqliteMu sync.Mutex

// contextWithTimeout is for clean-ups, which run after the test's
// context is done.
func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

// rebind turns ? placeholders into PostgreSQL's $1, $2, ...
func rebind(d sqlstore.Dialect, text string) string {
	if d != sqlstore.Postgres {
		return text
	}

	n := 0
	var b strings.Builder
	for _, r := range text {
		if r != '?' {
			b.WriteRune(r)
			continue
		}
		n++
		b.WriteString("$" + strconv.Itoa(n))
	}

	return b.String()
}
