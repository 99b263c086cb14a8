package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/otpki/workitems/approval"
	sqlstore "github.com/otpki/workitems/storage/sql"
)

// subject is what a benchmark measures on one database: the library
// through the public approval API, or the bare baseline. Its methods
// are safe for concurrent use.
type subject interface {
	// fresh stores n new Pending work items, each requiring required
	// approvals and approved by users 0 to before-1, and returns their
	// IDs.
	fresh(b *testing.B, n, required, before int) []string

	// see shows the items to the subject as an approver's inbox or a
	// get would before the approver acts: the library's engine then
	// remembers them. The bare needs nothing.
	see(b *testing.B, ids []string)

	// fill stores size work items bound in turn to four profiles, of
	// which user 1 approves the first two: the newest tenth Pending,
	// the others rejected.
	fill(b *testing.B, size int)

	create(ctx context.Context) error
	approve(ctx context.Context, id string, user int) error
	reject(ctx context.Context, id string, user int) error
	get(ctx context.Context, id string) error

	// listPending returns how many items the first page of 50 Pending
	// items held.
	listPending(ctx context.Context) (int, error)

	// inbox returns how many items the first page of user 1's inbox
	// held.
	inbox(ctx context.Context) (int, error)

	trips() *tripCounter

	// close drops the subject's tables and closes its pool.
	close()
}

// The texts every stored work item of the benchmarks carries.
const (
	benchDescription = "enrollment request for login jdoe"
	benchRequester   = "ra-1"
)

// user returns the principal of benchmark user n: a holder of the
// approver role that the main profile lists.
func benchUser(n int) approval.Principal {
	return approval.Principal{
		UserID: "u" + strconv.Itoa(n),
		Roles:  []string{"approver"},
	}
}

// inboxUser is the approver whose inbox the benchmarks list: listed by
// user ID on two of the four listing profiles.
var inboxUser = approval.Principal{UserID: "u1"}

// libSubject is the library: an engine with a no-op advancer on a migrated
// store with a table prefix of its own.
type libSubject struct {
	d      benchDB
	db     *countedDB
	store  *sqlstore.Store
	engine *approval.Engine

	// main is the profile of the items the benchmarks act on; lists
	// are the profiles of the listing fixture.
	main  approval.Profile
	lists []approval.Profile

	seq  atomic.Int64
	once sync.Once
}

func noopAdvance(context.Context, approval.WorkItem) error { return nil }

func noopTxAdvance(context.Context, *sql.Tx, approval.WorkItem) error { return nil }

// newLib returns the library on a new pool of d with at most conns
// connections. With inTx, the store advances decisions in their own
// transaction, with an advancer that has nothing to do; with forget,
// the engine remembers nothing.
func newLib(b *testing.B, d benchDB, conns int, inTx, forget bool) *libSubject {
	b.Helper()

	l := &libSubject{d: d, db: d.open(b, conns)}
	ctx := b.Context()

	cfg := &sqlstore.Config{TablePrefix: benchPrefix("lib")}
	if inTx {
		cfg.TxAdvancer = sqlstore.TxAdvancerFunc(noopTxAdvance)
	}

	var err error
	l.store, err = sqlstore.New(l.db.DB, d.dialect, cfg)
	if err != nil {
		b.Fatal(err)
	}

	if err := l.store.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(l.close)

	var ecfg approval.Config
	if forget {
		ecfg.Remember = -1
	}

	l.engine, err = approval.NewEngine(l.store, approval.AdvancerFunc(noopAdvance), &ecfg)
	if err != nil {
		b.Fatal(err)
	}

	l.main = l.profile(b, "Main", 3, approval.Approvers{Roles: []string{"approver"}})
	for i := range 4 {
		who := "u9"
		if i < 2 {
			who = inboxUser.UserID
		}

		l.lists = append(l.lists, l.profile(b, "List "+strconv.Itoa(i), 1,
			approval.Approvers{Users: []string{who}}))
	}

	return l
}

func (l *libSubject) profile(b *testing.B, name string, required int,
	who approval.Approvers,
) approval.Profile {
	b.Helper()

	p, err := l.engine.CreateProfile(b.Context(), approval.Profile{
		Name:              name,
		RequiredApprovals: required,
		Approvers:         who,
	})
	if err != nil {
		b.Fatal(err)
	}

	return p
}

func (l *libSubject) trips() *tripCounter {
	return l.db.trips
}

func (l *libSubject) close() {
	l.once.Do(func() {
		ctx, cancel := contextWithTimeout(time.Minute)
		defer cancel()

		_ = dropTables(ctx, l.db.DB, l.store.Tables()...)
		_ = l.db.Close()
	})
}

// benchPrefix returns a table prefix that no other run uses.
func benchPrefix(kind string) string {
	id := uuid.New()
	return "bench" + kind + "_" + strconv.FormatUint(uint64(id.ID()), 36) + "_"
}

func (l *libSubject) create(ctx context.Context) error {
	n := l.seq.Add(1)

	_, err := l.engine.CreateWorkItem(ctx, approval.WorkItemSpec{
		ProfileID:    l.main.ID,
		ResourceType: approval.EnrollmentRequest,
		ResourceID:   "er-c" + strconv.FormatInt(n, 10),
		Description:  benchDescription,
		RequestedBy:  benchRequester,
	})

	return err
}

func (l *libSubject) approve(ctx context.Context, id string, u int) error {
	_, err := l.engine.Approve(ctx, id, benchUser(u), "")
	return err
}

func (l *libSubject) reject(ctx context.Context, id string, u int) error {
	_, err := l.engine.Reject(ctx, id, benchUser(u), "no")
	return err
}

func (l *libSubject) see(b *testing.B, ids []string) {
	b.Helper()

	for _, id := range ids {
		if _, err := l.engine.GetWorkItem(b.Context(), id); err != nil {
			b.Fatal(err)
		}
	}
}

func (l *libSubject) get(ctx context.Context, id string) error {
	_, err := l.engine.GetWorkItem(ctx, id)
	return err
}

func (l *libSubject) listPending(ctx context.Context) (int, error) {
	page, err := l.engine.ListWorkItems(ctx,
		approval.WorkItemFilter{Status: approval.StatusPending},
		approval.PageRequest{})

	return len(page.Items), err
}

func (l *libSubject) inbox(ctx context.Context) (int, error) {
	page, err := l.engine.Inbox(ctx, inboxUser, approval.PageRequest{})
	return len(page.Items), err
}

// The columns of the store's tables, written out here so that the
// fixture loads without the engine.
var (
	libItemCols = []string{
		"id", "profile_id", "resource_type", "resource_id",
		"description", "requested_by", "status", "required_approvals",
		"approvals", "rejected_by", "rejection_reason", "rejected_at",
		"advance_state", "advance_attempts", "advance_error",
		"next_attempt_at", "lease_owner", "lease_until", "advanced_at",
		"version", "created_at", "decided_at", "profile_version",
	}
	libApprovalCols = []string{
		"work_item_id", "user_id", "comment", "approved_at",
	}
)

// libItem is a work item to load into the store's tables.
type libItem struct {
	id, resource        string
	profile             approval.Profile
	required, approvals int
	rejected            bool
}

// row returns the columns of w, approved by users 0 to
// w.approvals-1, as the store writes them.
func (l *libSubject) row(w libItem, at time.Time) []any {
	d := l.d.dialect

	list := "null"
	if w.approvals > 0 {
		var sb strings.Builder
		for u := range w.approvals {
			sep := ","
			if u == 0 {
				sep = "["
			}
			fmt.Fprintf(&sb, `%s{"user_id":%q,"comment":"","at":%d}`,
				sep, benchUser(u).UserID, at.UnixMicro())
		}
		list = sb.String() + "]"
	}

	status, version := "pending", 1+w.approvals
	var rejBy, reason, decided any
	advState, attempts, advanced := "", 0, any(nil)
	if w.rejected {
		status, version = "rejected", version+1
		rejBy, reason, decided = "u9", "", benchTimeArg(d, at)
		advState, attempts, advanced = "done", 1, benchTimeArg(d, at)
	}

	return []any{
		w.id, w.profile.ID, string(approval.EnrollmentRequest), w.resource,
		benchDescription, benchRequester, status, w.required,
		list, rejBy, reason, decided,
		advState, attempts, "",
		nil, "", nil, advanced,
		version, benchTimeArg(d, at), decided, w.profile.Version,
	}
}

// load stores the items with their approval rows.
func (l *libSubject) load(b *testing.B, items []libItem) {
	b.Helper()

	ctx := b.Context()
	d := l.d.dialect
	at := benchNow()
	p := l.store.TablePrefix()

	err := insertRows(ctx, l.db.DB, d, loadTable{p + "work_items", libItemCols},
		len(items), func(i int) []any { return l.row(items[i], at) })
	if err != nil {
		b.Fatal(err)
	}

	type ref struct{ item, user int }
	var refs []ref
	for i, w := range items {
		for u := range w.approvals {
			refs = append(refs, ref{i, u})
		}
	}

	err = insertRows(ctx, l.db.DB, d, loadTable{p + "approvals", libApprovalCols},
		len(refs), func(i int) []any {
			r := refs[i]
			return []any{items[r.item].id, benchUser(r.user).UserID, "", benchTimeArg(d, at)}
		})
	if err != nil {
		b.Fatal(err)
	}
}

func (l *libSubject) fresh(b *testing.B, n, required, before int) []string {
	b.Helper()

	items := make([]libItem, n)
	ids := make([]string, n)
	for i := range items {
		ids[i] = uuid.Must(uuid.NewV7()).String()
		items[i] = libItem{
			id:        ids[i],
			profile:   l.main,
			resource:  "er-f" + strconv.FormatInt(l.seq.Add(1), 10),
			required:  required,
			approvals: before,
		}
	}
	l.load(b, items)

	return ids
}

func (l *libSubject) fill(b *testing.B, size int) {
	b.Helper()

	items := make([]libItem, size)
	for i := range items {
		items[i] = libItem{
			id:       fixtureID(i),
			profile:  l.lists[i%len(l.lists)],
			resource: "er-" + strconv.Itoa(i),
			required: 1,
			rejected: !fixturePending(i, size),
		}
	}
	l.load(b, items)

	p := l.store.TablePrefix()
	if err := analyzeTables(b.Context(), l.db.DB, l.d.dialect,
		p+"work_items", p+"approvals", p+"profiles"); err != nil {
		b.Fatal(err)
	}
}

// fixtureID returns the ID of the i-th item of a listing fixture: IDs
// sort by creation, and the fixture creates in index order.
func fixtureID(i int) string {
	return "00000000-fixture-" + strconv.Itoa(10_000_000+i)
}

// fixturePending reports whether the i-th of size fixture items is
// Pending: the newest tenth is, as in a store whose older items have
// been decided.
func fixturePending(i, size int) bool {
	return i >= size-size/10
}

// errNotFull says a listing returned a short page.
var errNotFull = errors.New("listing returned a short page")
