package sqlstore

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/otpki/workitems/approval"
)

// mysqlTime is how the store writes a DATETIME(6): the UTC wall
// clock, so neither the DSN's loc nor parseTime matters.
const mysqlTime = "2006-01-02 15:04:05.000000"

// timeArg returns t as the dialect stores it: NULL for the zero time,
// timestamptz on PostgreSQL, a UTC DATETIME(6) text on MySQL, and
// Unix microseconds on SQLite.
func (s *Store) timeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}

	t = t.UTC()
	switch s.dialect {
	case MySQL:
		return t.Format(mysqlTime)
	case SQLite:
		return t.UnixMicro()
	default:
		return t
	}
}

// timeDest returns a scan destination that reads a time column of
// the store's dialect into t, the zero time for NULL.
func (s *Store) timeDest(t *time.Time) *timeCol {
	return &timeCol{t: t, wallClock: s.dialect == MySQL}
}

// timeCol scans a time column.
type timeCol struct {
	t *time.Time

	// wallClock says a time.Time from the driver carries the stored
	// UTC wall clock in whatever location the DSN names, as
	// go-sql-driver/mysql does with parseTime.
	wallClock bool
}

// Scan implements [sql.Scanner].
func (c *timeCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.t = time.Time{}
	case int64:
		*c.t = time.UnixMicro(v).UTC()
	case time.Time:
		*c.t = c.fromTime(v)
	case []byte:
		return c.parse(string(v))
	case string:
		return c.parse(v)
	default:
		return fmt.Errorf("scan time from %T", src)
	}

	return nil
}

func (c *timeCol) fromTime(v time.Time) time.Time {
	if !c.wallClock {
		return v.UTC()
	}

	return time.Date(v.Year(), v.Month(), v.Day(), v.Hour(),
		v.Minute(), v.Second(), v.Nanosecond(), time.UTC)
}

func (c *timeCol) parse(v string) error {
	t, err := time.Parse("2006-01-02 15:04:05.999999999", v)
	if err != nil {
		return fmt.Errorf("scan time: %w", err)
	}
	*c.t = t

	return nil
}

// approvers is the stored form of a profile's approvers. A nil list
// is stored as null and an empty one as [], so both come back as
// they went in.
type approvers struct {
	Users  []string `json:"users"`
	Groups []string `json:"groups"`
	Roles  []string `json:"roles"`
}

func encodeApprovers(a approval.Approvers) (string, error) {
	raw, err := json.Marshal(approvers(a))
	if err != nil {
		return "", fmt.Errorf("encode approvers: %w", err)
	}

	return string(raw), nil
}

func decodeApprovers(raw string) (approval.Approvers, error) {
	var a approvers
	if err := json.Unmarshal([]byte(raw), &a); err != nil {
		return approval.Approvers{}, fmt.Errorf("decode approvers: %w", err)
	}

	return approval.Approvers(a), nil
}

// approvalKey opens every approval in a stored list, once each; see
// postgresCount.
const approvalKey = `"user_id":`

// storedApproval is the stored form of one approval in a work item's
// list; At is in Unix microseconds, absent for the zero time.
type storedApproval struct {
	UserID  string `json:"user_id"`
	Comment string `json:"comment"`
	At      *int64 `json:"at,omitempty"`
}

// encodeApprovals stores a work item's approvals in order. The list
// is written whole with the item, so a read needs no second table.
func encodeApprovals(list []approval.Approval) (string, error) {
	var out []storedApproval
	if list != nil {
		out = make([]storedApproval, len(list))
	}

	for i, a := range list {
		out[i] = storedApproval{UserID: a.UserID, Comment: a.Comment}
		if !a.At.IsZero() {
			at := a.At.UnixMicro()
			out[i].At = &at
		}
	}

	raw, err := json.Marshal(out)
	if err != nil {
		return "", fmt.Errorf("encode approvals: %w", err)
	}

	return string(raw), nil
}

// decodeApprovals reads a stored list of approvals. The list is
// almost always encodeApprovals' own output, which scanApprovals reads
// without reflection or copies; anything else it leaves to
// encoding/json, whose result it equals wherever both succeed
// (FuzzDecodeApprovals checks this).
func decodeApprovals(raw string) ([]approval.Approval, error) {
	// A Pending item's list is most often one of these.
	switch raw {
	case "null":
		return nil, nil
	case "[]":
		return []approval.Approval{}, nil
	}

	if out, ok := scanApprovals(raw); ok {
		return out, nil
	}

	return decodeApprovalsJSON(raw)
}

// decodeApprovalsJSON reads a stored list of approvals with
// encoding/json.
func decodeApprovalsJSON(raw string) ([]approval.Approval, error) {
	var in []storedApproval
	if err := json.Unmarshal([]byte(raw), &in); err != nil {
		return nil, fmt.Errorf("decode approvals: %w", err)
	}

	if in == nil {
		return nil, nil
	}

	out := make([]approval.Approval, len(in))
	for i, a := range in {
		out[i] = approval.Approval{UserID: a.UserID, Comment: a.Comment}
		if a.At != nil {
			out[i].At = time.UnixMicro(*a.At).UTC()
		}
	}

	return out, nil
}

// scanApprovals reads a non-empty list in exactly the form
// encodeApprovals writes: compact, its keys in order, and at an
// integer when present. It reports false for anything else. Its
// strings without escapes share raw's memory.
func scanApprovals(raw string) ([]approval.Approval, bool) {
	if !utf8.ValidString(raw) {
		return nil, false
	}

	sc := approvalScanner{rest: raw}
	if !sc.skip("[") {
		return nil, false
	}

	out := make([]approval.Approval, 0, strings.Count(raw, approvalKey))
	for {
		var a approval.Approval
		if !sc.skip("{" + approvalKey) {
			return nil, false
		}

		var ok bool
		if a.UserID, ok = sc.text(); !ok || !sc.skip(`,"comment":`) {
			return nil, false
		}

		if a.Comment, ok = sc.text(); !ok {
			return nil, false
		}

		if sc.skip(`,"at":`) {
			at, ok := sc.integer()
			if !ok {
				return nil, false
			}
			a.At = time.UnixMicro(at).UTC()
		}

		if !sc.skip("}") {
			return nil, false
		}
		out = append(out, a)

		switch {
		case sc.skip(","):
		case sc.rest == "]":
			return out, true
		default:
			return nil, false
		}
	}
}

// approvalScanner is what is left to read of a stored list.
type approvalScanner struct {
	rest string
}

// skip consumes want if the rest starts with it.
func (s *approvalScanner) skip(want string) bool {
	if !strings.HasPrefix(s.rest, want) {
		return false
	}
	s.rest = s.rest[len(want):]

	return true
}

// text consumes a JSON string. One without escapes is a slice of
// the rest; encoding/json unquotes the others, such as a comment with
// an ampersand, which encodeApprovals writes as \u0026.
func (s *approvalScanner) text() (string, bool) {
	if !strings.HasPrefix(s.rest, `"`) {
		return "", false
	}

	escaped := false
	for i := 1; i < len(s.rest); i++ {
		switch c := s.rest[i]; {
		case c == '\\':
			escaped = true
			i++
		case c < 0x20:
			return "", false
		case c == '"':
			quoted := s.rest[:i+1]
			s.rest = s.rest[i+1:]
			if !escaped {
				return quoted[1:i], true
			}

			var v string
			err := json.Unmarshal([]byte(quoted), &v)

			return v, err == nil
		}
	}

	return "", false
}

// integer consumes a JSON integer that fits an int64.
func (s *approvalScanner) integer() (int64, bool) {
	n := 0
	if strings.HasPrefix(s.rest, "-") {
		n++
	}

	digits := n
	for n < len(s.rest) && s.rest[n] >= '0' && s.rest[n] <= '9' {
		n++
	}

	// JSON allows no leading zero but for zero itself.
	switch {
	case n == digits:
		return 0, false
	case s.rest[digits] == '0' && n > digits+1:
		return 0, false
	}

	v, err := strconv.ParseInt(s.rest[:n], 10, 64)
	if err != nil {
		return 0, false
	}
	s.rest = s.rest[n:]

	return v, true
}
