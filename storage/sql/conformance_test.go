package sqlstore_test

import (
	"testing"

	"github.com/otpki/workitems/approval"
	"github.com/otpki/workitems/storage/storagetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()

	forEachBackend(t, func(t *testing.T, b backend) {
		t.Helper()

		// One pool serves every store of the suite, each store with
		// tables of its own: the state-machine test alone makes
		// hundreds of stores.
		db := b.open(t)

		storagetest.Run(t, func(t *testing.T) approval.Store {
			t.Helper()

			return newStore(t, b, db, randomPrefix(t))
		})
	})
}
