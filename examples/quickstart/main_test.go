package main

import (
	"bytes"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// want is the whole story, as a newcomer sees it.
const want = `09:00 profile "High-risk enrollment" needs 2 approvals from:
      user alice, group ra-officers or role ca-admin
09:00 dave requests enrollment enr-1001 for end entity jdoe
      work item wi-0001 is pending, 0 of 2 approvals
09:05 mallory (no approver) tries to approve wi-0001
      refused: mallory is not an approver of profile high-risk
09:07 dave (group ra-officers) tries to approve wi-0001
      refused: dave requested it; separation of duties
09:10 alice (listed user) approves wi-0001
      work item wi-0001 is pending, 1 of 2 approvals
09:20 erin (role ca-admin) approves wi-0001
      advance Enrollment Request enr-1001: approved by alice, erin; end entity to New
      work item wi-0001 is approved, 2 of 2 approvals
10:30 dave requests issuance iss-2001 for end entity jdoe
      work item wi-0002 is pending, 0 of 2 approvals
11:05 bob (group ra-officers) rejects wi-0002: "key is RSA-1024; policy requires 2048 bits"
      advance Issuance Request iss-2001: rejected; request failed
      work item wi-0002 is rejected by bob
`

func TestRunTellsTheWholeStory(t *testing.T) {
	t.Parallel()

	var out bytes.Buffer
	require.NoError(t, run(t.Context(), &out))
	require.Equal(t, want, out.String())
}

func TestRunReportsAWriteError(t *testing.T) {
	t.Parallel()

	err := run(t.Context(), failingWriter{})
	require.ErrorIs(t, err, errClosed)
}

var errClosed = errors.New("output closed")

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) {
	return 0, errClosed
}
