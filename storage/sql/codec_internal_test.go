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

// approvalSeeds are stored lists for the decoder's tests: what the
// encoder writes, and what it never writes but encoding/json reads or
// refuses.
var approvalSeeds = []string{
	`null`, `[]`, `[{"user_id":"a","comment":""}]`,
	`[{"user_id":"a","comment":"ok","at":1767225600000000},` +
		`{"user_id":"b","comment":"fine","at":-5}]`,
	`[{"user_id":"a","comment":"\u0026 \"q\" \\ \u2028","at":0}]`,
	`[{"user_id":"a","comment":"\ud83d\ude00"}]`,
	`[{"user_id":"a","comment":"","at":-0}]`,
	`[{"user_id":"a","comment":"","at":01}]`,
	`[{"user_id":"a","comment":"","at":1.5}]`,
	`[{"user_id":"a","comment":"","at":1e3}]`,
	`[{"user_id":"a","comment":"","at":99999999999999999999}]`,
	`[{"user_id":"a","comment":"","at":null}]`,
	`[{"USER_ID":"a","comment":""}]`,
	`[{"comment":"","user_id":"a"}]`,
	`[{"user_id":"a","comment":"","user_id":"b"}]`,
	`[{"user_id":"a","comment":"","extra":1}]`,
	`[ {"user_id":"a","comment":""} ]`,
	`[{"user_id":"a","comment":""}] `,
	`[{"user_id":"a","comment":""}]]`,
	`[{"user_id":"a","comment":""},]`,
	`[{"user_id":"a","comment":"` + "\x01" + `"}]`,
	`[{"user_id":"a","comment":"` + "\xff" + `"}]`,
	`[{"user_id":"a","comment":"\x"}]`,
	`[{"user_id":"a","comment":"unterminated}]`,
	`[{"user_id":"a"`, `[`, ``, `{}`, `[null]`, `[{}]`,
}

// FuzzDecodeApprovals checks that a stored list decodes as
// encoding/json decodes it, whatever the text: to the same approvals,
// or to an error from both.
func FuzzDecodeApprovals(f *testing.F) {
	for _, s := range approvalSeeds {
		f.Add(s)
	}

	f.Fuzz(func(t *testing.T, raw string) {
		want, wantErr := decodeApprovalsJSON(raw)
		got, err := decodeApprovals(raw)
		if wantErr != nil {
			require.Error(t, err)
			return
		}

		require.NoError(t, err)
		require.Equal(t, want, got)
	})
}

// FuzzEncodedApprovalsScan checks that the decoder's own reader takes
// every list the encoder writes, and reads it as encoding/json does.
func FuzzEncodedApprovalsScan(f *testing.F) {
	f.Add("alice", "", int64(0), "bob", "<ok> & \"fine\"", int64(1767225600000000))
	f.Add("", "\u2028\\", int64(-1), "ü", "\x00\xff", int64(1))

	f.Fuzz(func(t *testing.T, u1, c1 string, at1 int64, u2, c2 string, at2 int64) {
		list := []approval.Approval{
			{UserID: u1, Comment: c1, At: time.UnixMicro(at1).UTC()},
			{UserID: u2, Comment: c2},
		}
		if at2 != 0 {
			list[1].At = time.UnixMicro(at2).UTC()
		}

		raw, err := encodeApprovals(list)
		require.NoError(t, err)

		want, err := decodeApprovalsJSON(raw)
		require.NoError(t, err)

		got, ok := scanApprovals(raw)
		require.True(t, ok, raw)
		require.Equal(t, want, got)
	})
}

// BenchmarkDecodeApprovals decodes a list of 8 approvals with the
// decoder's own reader and with encoding/json alone.
func BenchmarkDecodeApprovals(b *testing.B) {
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

	var list []approval.Approval
	for i := range 8 {
		list = append(list, approval.Approval{
			UserID: "user-" + string(rune('a'+i)), Comment: "looks right", At: at,
		})
	}

	raw, err := encodeApprovals(list)
	require.NoError(b, err)

	for _, d := range []struct {
		name   string
		decode func(string) ([]approval.Approval, error)
	}{
		{"scan", decodeApprovals},
		{"json", decodeApprovalsJSON},
	} {
		b.Run(d.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := d.decode(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
