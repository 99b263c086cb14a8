package sqlstore

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpki/workitems/approval"
)

// TestApprovalKeyCountsApprovals checks what postgresCount relies on:
// an encoded list holds approvalKey once per approval, whatever its
// IDs and comments spell, also after the approval in place appends
// one list to another as text.
func TestApprovalKeyCountsApprovals(t *testing.T) {
	t.Parallel()

	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	texts := []string{
		``, `"user_id":`, `\"user_id\":`, `a"user_id":b`, `\`, `\\`,
		`{"user_id":"x"},`, `],[`, "ünï\u2028cöde", `'; --`,
	}

	var list []approval.Approval
	for i, s := range texts {
		list = append(list, approval.Approval{
			UserID: "u" + s, Comment: texts[len(texts)-1-i], At: at,
		})

		whole, err := encodeApprovals(list)
		require.NoError(t, err)
		require.Equal(t, len(list), strings.Count(whole, approvalKey), whole)

		// As approveInPlace appends the newest approval to the rest.
		if len(list) > 1 {
			rest, err := encodeApprovals(list[:len(list)-1])
			require.NoError(t, err)
			one, err := encodeApprovals(list[len(list)-1:])
			require.NoError(t, err)

			appended := rest[:len(rest)-1] + "," + one[1:]
			require.Equal(t, whole, appended)
		}
	}
}
