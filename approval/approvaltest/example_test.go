package approvaltest_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otpki/workitems/approval"
	"github.com/otpki/workitems/approval/approvaltest"
)

// testApprovedEnrollmentIsAdvanced is a unit test as a team writes
// it: go test passes t, and the harness needs no database.
//
//nolint:thelper // a test body, not a helper: go test would call it
func testApprovedEnrollmentIsAdvanced(t testing.TB) {
	h := approvaltest.New(t)
	prof := h.Profile(t, 2, "alice", "bob")
	item := h.WorkItem(t, prof.ID, approval.EnrollmentRequest, "enr-7")

	for _, user := range []string{"alice", "bob"} {
		p := approval.Principal{UserID: user}
		_, err := h.Engine.Approve(t.Context(), item.ID, p, "")
		require.NoError(t, err)
	}

	statuses := h.Advancer.Statuses(item.ID)
	require.Equal(t, []approval.Status{approval.StatusApproved}, statuses)
	fmt.Println("advanced:", statuses)
}

// testFailedAdvanceIsResumed makes the first advance fail and checks
// that the decision stands and a resume advances it.
//
//nolint:thelper // a test body, not a helper: go test would call it
func testFailedAdvanceIsResumed(t testing.TB) {
	h := approvaltest.New(t,
		approvaltest.WithAdvancer(approvaltest.FailFirst(1, nil)))
	prof := h.Profile(t, 1, "alice")
	item := h.WorkItem(t, prof.ID, approval.IssuanceRequest, "iss-3")

	alice := approval.Principal{UserID: "alice"}
	_, err := h.Engine.Reject(t.Context(), item.ID, alice, "wrong key size")
	require.ErrorIs(t, err, approval.ErrNotAdvanced)

	_, err = h.Engine.ResumeAdvances(t.Context())
	require.NoError(t, err)

	require.Equal(t, 1, h.Advancer.Succeeded(item.ID))
	fmt.Println("calls:", len(h.Advancer.CallsFor(item.ID)),
		"succeeded:", h.Advancer.Succeeded(item.ID))
}

func Example() {
	testApprovedEnrollmentIsAdvanced(exampleT{})
	testFailedAdvanceIsResumed(exampleT{})

	// Output:
	// advanced: [approved]
	// calls: 2 succeeded: 1
}

// exampleT stands in for the *testing.T of a real test, so that the
// example can run the tests above.
type exampleT struct{ testing.TB }

func (exampleT) Helper() {}

func (exampleT) Context() context.Context { return context.Background() }

func (exampleT) Errorf(format string, args ...any) {
	fmt.Printf("FAIL: "+format+"\n", args...)
}

func (exampleT) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}

func (exampleT) FailNow() { panic("test failed") }
