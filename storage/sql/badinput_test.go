package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpki/workitems/approval"
	sqlstore "github.com/otpki/workitems/storage/sql"
)

// hostileTexts are SQL metacharacters and injection attempts, each
// aimed at the test's own tables where {p} stands. Every one is a
// valid ID and text, so the engine must store it and return it byte
// for byte, and the database must run none of it.
var hostileTexts = []string{
	`'; DROP TABLE {p}work_items; --`,
	`"; DROP TABLE {p}profiles; --`,
	"`; DROP TABLE {p}canary; --",
	`Robert'); DROP TABLE {p}canary;--`,
	`' OR '1'='1`,
	`" OR ""="`,
	`1; DELETE FROM {p}approvals`,
	`') ; ALTER TABLE {p}work_items DROP COLUMN status; --`,
	`\'; DROP TABLE {p}canary; -- \\`,
	`x' UNION SELECT * FROM {p}profiles --`,
	`%_%[a-z]* LIKE '%'`,
	`$1 $2 ? ?::text :name @p1`,
	`/* comment */ -- line`,
	`{p}`,
	`'';'';\\\\'`,
	"é中😀 ' \" \\ ; \u2028 \u202egnp.exe",
}

// canaryTable is created beside the store's tables; several hostile
// texts try to drop it.
const canaryTable = "canary"

// TestBadInput sends malformed and hostile input through the
// engine's public API on every dialect: each input gets a typed
// error or is stored and returned byte for byte, nothing panics, a
// refused call writes nothing, and the schema is the same afterwards.
func TestBadInput(t *testing.T) {
	t.Parallel()

	forEachBackend(t, testBadInput)
}

// badRig is an engine over a fresh store, with a canary table.
type badRig struct {
	b      backend
	db     *sql.DB
	store  *sqlstore.Store
	engine *approval.Engine
	prefix string
}

func newBadRig(t *testing.T, b backend) *badRig {
	t.Helper()

	r := &badRig{b: b, db: b.open(t), prefix: randomPrefix(t)}
	r.store = newStore(t, b, r.db, r.prefix)

	canary := r.prefix + canaryTable
	_, err := r.db.ExecContext(t.Context(), "CREATE TABLE "+canary+" (id INTEGER)")
	require.NoError(t, err)
	_, err = r.db.ExecContext(t.Context(), "INSERT INTO "+canary+" (id) VALUES (1)")
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := contextWithTimeout(time.Minute)
		defer cancel()

		_, err := r.db.ExecContext(ctx, "DROP TABLE IF EXISTS "+canary)
		require.NoError(t, err)
	})

	r.engine, err = approval.NewEngine(r.store, approval.AdvancerFunc(noAdvance), nil)
	require.NoError(t, err)

	return r
}

func noAdvance(context.Context, approval.WorkItem) error {
	return nil
}

func (r *badRig) tables() []string {
	return append(r.store.Tables()[:3], r.prefix+canaryTable)
}

func testBadInput(t *testing.T, b backend) {
	t.Helper()

	r := newBadRig(t, b)
	ctx := t.Context()
	schema := schemaOf(ctx, t, r.db, b.dialect, r.prefix)
	require.NotEmpty(t, schema)

	refused := r.refusals(t)
	stored := r.hostile(t)

	require.Equal(t, schema, schemaOf(ctx, t, r.db, b.dialect, r.prefix),
		"the schema changed")
	require.Equal(t, 1, rowCounts(ctx, t, r.db, r.prefix+canaryTable)[r.prefix+canaryTable])
	requireNoPartialRows(t, checkInvariants(ctx, t, r.db, r.store))

	t.Logf("%s: %d malformed inputs refused with a typed error and nothing "+
		"written, %d hostile texts stored and returned byte for byte in "+
		"every field, schema of %d columns unchanged",
		b.name, refused, stored, len(schema))
}

// refusal is a call with one malformed input.
type refusal struct {
	name string
	call func(ctx context.Context) error
}

// refusals makes every call of the list on a store holding one
// profile and one Pending work item, and checks that each is refused
// with an *InvalidArgumentError and changes no row. It returns how
// many calls it made.
func (r *badRig) refusals(t *testing.T) int {
	t.Helper()

	ctx := t.Context()
	p, err := r.engine.CreateProfile(ctx, approval.Profile{
		Name: "Target", RequiredApprovals: 2,
		Approvers: approval.Approvers{Users: []string{"alice", "bob"}},
	})
	require.NoError(t, err)

	w, err := r.engine.CreateWorkItem(ctx, approval.WorkItemSpec{
		ProfileID: p.ID, ResourceType: approval.EnrollmentRequest, ResourceID: "er-1",
	})
	require.NoError(t, err)

	counts := rowCounts(ctx, t, r.db, r.tables()...)
	calls := badCalls(r.engine, r.store, p, w)
	for _, c := range calls {
		var err error
		require.NotPanics(t, func() { err = c.call(ctx) }, c.name)
		require.ErrorIs(t, err, approval.ErrInvalidArgument, c.name)

		var inv *approval.InvalidArgumentError
		require.ErrorAs(t, err, &inv, c.name)
		require.NotEmpty(t, inv.Field, c.name)
	}

	require.Equal(t, counts, rowCounts(ctx, t, r.db, r.tables()...), "a refused call wrote")

	gotP, err := r.engine.GetProfile(ctx, p.ID)
	require.NoError(t, err)
	require.Equal(t, p, gotP)

	gotW, err := r.engine.GetWorkItem(ctx, w.ID)
	require.NoError(t, err)
	require.Equal(t, w, gotW)

	return len(calls)
}

// badIDs are malformed IDs: empty, blank, padded, too long, not
// UTF-8, with a NUL or another control character.
var badIDs = []string{
	"", " ", "\t", "  \n ", " x", "x ", strings.Repeat("a", approval.MaxIDLen+1),
	"\xff\xfe", "a\x00b", "a\nb", "a\x1bb",
}

// badTexts are malformed free texts: too long, not UTF-8, with a NUL.
var badTexts = []string{
	strings.Repeat("d", 1<<20), "ok \xc3\x28", "a\x00b",
}

func badCalls(e *approval.Engine, s *sqlstore.Store, p approval.Profile,
	w approval.WorkItem,
) []refusal {
	var calls []refusal
	add := func(name string, call func(ctx context.Context) error) {
		calls = append(calls, refusal{name, call})
	}

	alice := approval.Principal{UserID: "alice"}
	spec := approval.WorkItemSpec{
		ProfileID: p.ID, ResourceType: approval.IssuanceRequest, ResourceID: "ir-new",
	}

	for _, id := range badIDs {
		q := fmt.Sprintf("%q", id[:min(len(id), 8)])
		add("GetProfile "+q, func(ctx context.Context) error {
			_, err := e.GetProfile(ctx, id)
			return err
		})
		add("GetWorkItem "+q, func(ctx context.Context) error {
			_, err := e.GetWorkItem(ctx, id)
			return err
		})
		add("Approve item "+q, func(ctx context.Context) error {
			_, err := e.Approve(ctx, id, alice, "")
			return err
		})
		add("Reject item "+q, func(ctx context.Context) error {
			_, err := e.Reject(ctx, id, alice, "")
			return err
		})
		add("DeleteProfile "+q, func(ctx context.Context) error {
			return e.DeleteProfile(ctx, id)
		})
		add("RetryAdvance "+q, func(ctx context.Context) error {
			_, err := e.RetryAdvance(ctx, id)
			return err
		})
		add("CanAct "+q, func(ctx context.Context) error {
			return e.CanAct(ctx, id, alice, approval.ActionApprove)
		})

		for _, bad := range principalsWith(id) {
			add("Approve by "+q, func(ctx context.Context) error {
				_, err := e.Approve(ctx, w.ID, bad, "")
				return err
			})
			add("Reject by "+q, func(ctx context.Context) error {
				_, err := e.Reject(ctx, w.ID, bad, "")
				return err
			})
			add("Inbox of "+q, func(ctx context.Context) error {
				_, err := e.Inbox(ctx, bad, approval.PageRequest{})
				return err
			})
			add("CanApprove "+q, func(ctx context.Context) error {
				_, err := e.CanApprove(ctx, p.ID, bad)
				return err
			})
		}

		for _, field := range []func(*approval.WorkItemSpec){
			func(s *approval.WorkItemSpec) { s.ProfileID = id },
			func(s *approval.WorkItemSpec) { s.ResourceID = id },
			func(s *approval.WorkItemSpec) { s.RequestedBy = id },
		} {
			bad := spec
			field(&bad)
			if bad == spec {
				// RequestedBy is optional: empty is not bad.
				continue
			}
			add("CreateWorkItem with "+q, func(ctx context.Context) error {
				_, err := e.CreateWorkItem(ctx, bad)
				return err
			})
		}

		for _, bad := range profilesWithID(p, id) {
			add("CreateProfile with "+q, func(ctx context.Context) error {
				_, err := e.CreateProfile(ctx, bad)
				return err
			})
		}

		bad := p
		bad.ID = id
		add("UpdateProfile "+q, func(ctx context.Context) error {
			_, err := e.UpdateProfile(ctx, bad)
			return err
		})
	}

	for _, text := range badTexts {
		q := fmt.Sprintf("%q", text[:min(len(text), 8)])
		add("Approve comment "+q, func(ctx context.Context) error {
			_, err := e.Approve(ctx, w.ID, alice, text)
			return err
		})
		add("Reject reason "+q, func(ctx context.Context) error {
			_, err := e.Reject(ctx, w.ID, alice, text)
			return err
		})

		bad := spec
		bad.Description = text
		add("CreateWorkItem description "+q, func(ctx context.Context) error {
			_, err := e.CreateWorkItem(ctx, bad)
			return err
		})

		for _, prof := range profilesWithText(p, text) {
			add("CreateProfile text "+q, func(ctx context.Context) error {
				_, err := e.CreateProfile(ctx, prof)
				return err
			})
			add("UpdateProfile text "+q, func(ctx context.Context) error {
				_, err := e.UpdateProfile(ctx, prof)
				return err
			})
		}
	}

	for _, n := range []int{
		-1, 0, math.MinInt, math.MaxInt,
		approval.MaxRequiredApprovals + 1, 3,
	} {
		bad := p
		bad.ID, bad.Name, bad.RequiredApprovals = "", "Threshold", n
		add(fmt.Sprintf("CreateProfile threshold %d", n), func(ctx context.Context) error {
			_, err := e.CreateProfile(ctx, bad)
			return err
		})

		bad.ID = p.ID
		add(fmt.Sprintf("UpdateProfile threshold %d", n), func(ctx context.Context) error {
			_, err := e.UpdateProfile(ctx, bad)
			return err
		})
	}

	for _, rt := range []approval.ResourceType{
		"", "Enrollment Request", "certificate", "ISSUANCE_REQUEST",
		"'; DROP TABLE x; --",
	} {
		bad := spec
		bad.ResourceType = rt
		add(fmt.Sprintf("CreateWorkItem type %q", rt), func(ctx context.Context) error {
			_, err := e.CreateWorkItem(ctx, bad)
			return err
		})
		if rt == "" {
			// No filter: not bad.
			continue
		}
		add(fmt.Sprintf("ListWorkItems type %q", rt), func(ctx context.Context) error {
			_, err := e.ListWorkItems(ctx, approval.WorkItemFilter{ResourceType: rt},
				approval.PageRequest{})
			return err
		})
	}

	many := make([]string, approval.MaxApprovers+1)
	for i := range many {
		many[i] = fmt.Sprintf("user-%d", i)
	}
	for name, a := range map[string]approval.Approvers{
		"none":             {},
		"duplicate user":   {Users: []string{"alice", "alice"}},
		"duplicate group":  {Groups: []string{"g", "h", "g"}},
		"duplicate role":   {Roles: []string{"r", "r"}},
		"too many users":   {Users: many},
		"empty group name": {Groups: []string{""}},
	} {
		bad := p
		bad.ID, bad.Name, bad.RequiredApprovals, bad.Approvers = "", "Approvers", 1, a
		add("CreateProfile approvers "+name, func(ctx context.Context) error {
			_, err := e.CreateProfile(ctx, bad)
			return err
		})
	}

	for _, req := range []approval.PageRequest{
		{Limit: -1},
		{Limit: approval.MaxPageSize + 1},
		{Cursor: "'; DROP TABLE x; --"},
		{Cursor: "djE6"},
		{Cursor: "%%%"},
	} {
		add(fmt.Sprintf("ListWorkItems page %+v", req), func(ctx context.Context) error {
			_, err := e.ListWorkItems(ctx, approval.WorkItemFilter{}, req)
			return err
		})
		add(fmt.Sprintf("ListProfiles page %+v", req), func(ctx context.Context) error {
			_, err := e.ListProfiles(ctx, req)
			return err
		})
	}

	add("ListWorkItems status", func(ctx context.Context) error {
		_, err := e.ListWorkItems(ctx, approval.WorkItemFilter{Status: "done'--"},
			approval.PageRequest{})
		return err
	})
	add("ListWorkItems advance state", func(ctx context.Context) error {
		_, err := e.ListWorkItems(ctx, approval.WorkItemFilter{AdvanceState: "x' OR 1=1"},
			approval.PageRequest{})
		return err
	})
	add("CanAct action", func(ctx context.Context) error {
		return e.CanAct(ctx, w.ID, alice, "approve'--")
	})

	add("NewEngine nil advancer", func(context.Context) error {
		_, err := approval.NewEngine(s, nil, nil)
		return err
	})
	add("NewEngine nil store", func(context.Context) error {
		_, err := approval.NewEngine(nil, approval.AdvancerFunc(noAdvance), nil)
		return err
	})
	add("New nil TxAdvancerFunc", func(context.Context) error {
		_, err := sqlstore.New(&sql.DB{}, s.Dialect(),
			&sqlstore.Config{TxAdvancer: sqlstore.TxAdvancerFunc(nil)})
		return err
	})

	return calls
}

// principalsWith returns principals with id as user, group or role.
func principalsWith(id string) []approval.Principal {
	return []approval.Principal{
		{UserID: id},
		{UserID: "alice", Groups: []string{id}},
		{UserID: "alice", Roles: []string{"ok", id}},
	}
}

// profilesWithID returns new profiles with id as their ID or in an
// approver list.
func profilesWithID(p approval.Profile, id string) []approval.Profile {
	var out []approval.Profile
	for i, set := range []func(*approval.Profile){
		func(q *approval.Profile) { q.ID = id },
		func(q *approval.Profile) { q.Approvers.Users = []string{"alice", id} },
		func(q *approval.Profile) { q.Approvers.Groups = []string{id} },
		func(q *approval.Profile) { q.Approvers.Roles = []string{id} },
	} {
		if i == 0 && id == "" {
			// An empty ID asks for a generated one: that is not bad.
			continue
		}

		q := p.Clone()
		q.ID, q.Name, q.RequiredApprovals = "", "With ID", 1
		set(&q)
		out = append(out, q)
	}

	return out
}

// profilesWithText returns profiles, for create and update, with text
// as their name or description.
func profilesWithText(p approval.Profile, text string) []approval.Profile {
	name, desc := p.Clone(), p.Clone()
	name.Name = text
	desc.Description = text

	return []approval.Profile{name, desc}
}

// hostile stores every hostile text in every text field of a profile,
// a work item, a principal and a decision, through the engine, and
// reads each back byte for byte. It returns how many texts it stored.
func (r *badRig) hostile(t *testing.T) int {
	t.Helper()

	for i, raw := range hostileTexts {
		h := strings.ReplaceAll(raw, "{p}", r.prefix)
		r.hostileOne(t, i, h)
	}

	return len(hostileTexts)
}

func (r *badRig) hostileOne(t *testing.T, i int, h string) {
	t.Helper()

	ctx := t.Context()
	e := r.engine

	in := approval.Profile{
		ID:                fmt.Sprintf("%s#%d", h, i),
		Name:              fmt.Sprintf("%s #%d", h, i),
		Description:       h,
		RequiredApprovals: 1,
		Approvers: approval.Approvers{
			Users: []string{h}, Groups: []string{h}, Roles: []string{h},
		},
	}
	p, err := e.CreateProfile(ctx, in)
	require.NoError(t, err, h)
	require.Equal(t, in.ID, p.ID)
	require.Equal(t, in.Name, p.Name)
	require.Equal(t, in.Description, p.Description)
	require.Equal(t, in.Approvers, p.Approvers)

	got, err := e.GetProfile(ctx, p.ID)
	require.NoError(t, err, h)
	require.Equal(t, p, got, h)

	w, err := e.CreateWorkItem(ctx, approval.WorkItemSpec{
		ProfileID:    p.ID,
		ResourceType: approval.EnrollmentRequest,
		ResourceID:   h,
		Description:  h,
		RequestedBy:  "by " + h,
	})
	require.NoError(t, err, h)
	require.Equal(t, h, w.ResourceID)
	require.Equal(t, h, w.Description)
	require.Equal(t, "by "+h, w.RequestedBy)

	gotW, err := e.GetWorkItem(ctx, w.ID)
	require.NoError(t, err, h)
	require.Equal(t, w, gotW, h)

	page, err := e.ListWorkItems(ctx, approval.WorkItemFilter{
		ResourceID: h, ProfileID: p.ID, Status: approval.StatusPending,
	}, approval.PageRequest{})
	require.NoError(t, err, h)
	require.Equal(t, []approval.WorkItem{w}, page.Items, h)

	who := approval.Principal{UserID: h, Groups: []string{h}, Roles: []string{h}}
	inbox, err := e.Inbox(ctx, who, approval.PageRequest{})
	require.NoError(t, err, h)
	require.Contains(t, inbox.Items, w, h)

	ok, err := e.CanApprove(ctx, p.ID, who)
	require.NoError(t, err, h)
	require.True(t, ok, h)
	require.NoError(t, e.CanAct(ctx, w.ID, who, approval.ActionApprove), h)

	var decided approval.WorkItem
	if i%2 == 0 {
		decided, err = e.Approve(ctx, w.ID, who, h)
		require.NoError(t, err, h)
		require.Equal(t, approval.StatusApproved, decided.Status, h)
		require.Len(t, decided.Approvals, 1)
		require.Equal(t, h, decided.Approvals[0].UserID)
		require.Equal(t, h, decided.Approvals[0].Comment)
	} else {
		decided, err = e.Reject(ctx, w.ID, who, h)
		require.NoError(t, err, h)
		require.Equal(t, approval.StatusRejected, decided.Status, h)
		require.Equal(t, h, decided.Rejection.UserID)
		require.Equal(t, h, decided.Rejection.Reason)
	}

	gotW, err = e.GetWorkItem(ctx, w.ID)
	require.NoError(t, err, h)
	require.Equal(t, decided, gotW, h)

	in = p
	in.Description = h + h
	updated, err := e.UpdateProfile(ctx, in)
	require.NoError(t, err, h)

	got, err = e.GetProfile(ctx, p.ID)
	require.NoError(t, err, h)
	require.Equal(t, updated, got, h)
	require.Equal(t, h+h, got.Description)
}
