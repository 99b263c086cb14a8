package memdb_test

import (
	"testing"

	"github.com/otpki/workitems/approval"
	"github.com/otpki/workitems/storage/memdb"
	"github.com/otpki/workitems/storage/storagetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()

	storagetest.Run(t, func(*testing.T) approval.Store {
		return memdb.New()
	})
}
