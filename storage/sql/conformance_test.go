package sqlstore_test

import (
	"testing"

	"github.com/otpki/workitems/approval"
	sqlstore "github.com/otpki/workitems/storage/sql"
	"github.com/otpki/workitems/storage/storagetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()

	forEachBackend(t, func(t *testing.T, b backend) {
		t.Helper()

		// On a server, one pool serves every store of the suite, each
		// store with tables of its own: the state-machine test alone
		// makes hundreds of stores. On SQLite, each store gets a
		// database file of its own.
		db := b.open(t)

		storagetest.Run(t, func(t *testing.T) approval.Store {
			t.Helper()

			if b.dialect == sqlstore.SQLite {
				return newStore(t, b, openSQLiteFile(t, newSQLiteFile(t)), randomPrefix(t))
			}

			return newStore(t, b, db, randomPrefix(t))
		})
	})
}
