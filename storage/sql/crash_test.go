package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpki/workitems/approval"
	sqlstore "github.com/otpki/workitems/storage/sql"
)

// The crash test runs the test binary again as a child process that
// decides one work item and dies, by os.Exit, at a chosen point. The
// child reads what to do from these variables.
const (
	envCrashChild   = "WORKITEMS_CRASH_CHILD"
	envCrashDialect = "WORKITEMS_CRASH_DIALECT"
	envCrashDSN     = "WORKITEMS_CRASH_DSN"
	envCrashPrefix  = "WORKITEMS_CRASH_PREFIX"
	envCrashItem    = "WORKITEMS_CRASH_ITEM"
	envCrashMode    = "WORKITEMS_CRASH_MODE"
	envCrashReject  = "WORKITEMS_CRASH_REJECT"
)

// crashExit is the exit code of a child that died where it meant to.
const crashExit = 42

// Where the child dies.
const (
	// crashBeforeAdvance: the decision committed, the advancer was
	// called and the process died before it did anything.
	crashBeforeAdvance = iota

	// crashAfterEffect: the advancer moved the gated request on and
	// the process died before the advance was recorded.
	crashAfterEffect

	// crashInTx: the store advances in its transaction, and the
	// process died inside it, after the host's write.
	crashInTx

	crashModes
)

// TestCrashAfterCommit kills a process between each decision's commit
// and its advance, many times, on a SQLite file and on the servers the
// environment names. After each crash a fresh engine, a restarted
// instance, finds the dead instance's lease still holding, and once
// it has passed advances the decision: no advance is lost. A crash
// inside a transaction that advances in the database leaves the item
// Pending and the host table untouched.
func TestCrashAfterCommit(t *testing.T) {
	t.Parallel()

	forEachBackend(t, testCrashAfterCommit)
}

// TestCrashChild is the child process of TestCrashAfterCommit.
func TestCrashChild(t *testing.T) {
	t.Parallel()

	if os.Getenv(envCrashChild) == "" {
		t.Skip("runs only as the child process of TestCrashAfterCommit")
	}

	runCrashChild(t)
}

// crashRig is the database the parent and its children share.
type crashRig struct {
	b      backend
	driver string
	dsn    string
	db     *sql.DB
	store  *sqlstore.Store
	gated  gatedTable
	engine *approval.Engine
}

func testCrashAfterCommit(t *testing.T, b backend) {
	t.Helper()

	r := newCrashRig(t, b)
	trials := faultTrials(30)

	p, err := r.engine.CreateProfile(t.Context(), approval.Profile{
		Name:              "Crash",
		RequiredApprovals: 2,
		Approvers:         approval.Approvers{Users: []string{"alice", "bob"}},
	})
	require.NoError(t, err)

	var (
		decided, inTx, advanced, lost int
		effects                       = make(map[string]int)
	)
	for i := range trials {
		mode := i % crashModes
		reject := (i/crashModes)%2 == 1

		w, err := r.engine.CreateWorkItem(t.Context(), approval.WorkItemSpec{
			ProfileID:    p.ID,
			ResourceType: approval.EnrollmentRequest,
			ResourceID:   fmt.Sprintf("er-%d", i),
		})
		require.NoError(t, err)

		if !reject {
			// The child's approval is the final one.
			_, err = r.engine.Approve(t.Context(), w.ID, approval.Principal{UserID: "alice"}, "")
			require.NoError(t, err)
		}

		r.runChild(t, w.ID, mode, reject)

		if mode == crashInTx {
			r.requireRolledBack(t, w.ID, reject)
			inTx++

			continue
		}

		decided++
		n := r.restart(t, w.ID)
		advanced += n
		if n != 1 {
			lost++
		}
	}

	for id, rows := range r.gated.outcomes(t.Context(), t, r.db) {
		effects[id] = len(rows)
	}

	// Every item is decided and advanced, and the idempotent advancer
	// left one effect per decision however often it ran.
	rep := checkInvariants(t.Context(), t, r.db, r.store)
	requireNoPartialRows(t, rep)
	require.Equal(t, trials, rep.decided)
	require.Len(t, effects, trials)
	for id, n := range effects {
		require.Equal(t, 1, n, "host effects of %s", id)

		w, err := r.engine.GetWorkItem(t.Context(), id)
		require.NoError(t, err)
		require.Equal(t, approval.AdvanceDone, w.Advance.State, id)
	}
	require.Zero(t, lost)

	t.Logf("%s: %d processes killed: %d after the decision committed "+
		"(%d decided, %d advanced after restart, lost advances = %d, "+
		"one host effect each), %d inside an advancing transaction "+
		"(item left Pending, host table untouched)",
		b.name, trials, decided, decided, advanced, lost, inTx)
}

func newCrashRig(t *testing.T, b backend) *crashRig {
	t.Helper()

	r := &crashRig{b: b}
	r.driver, r.dsn = dsnOf(t, b)

	var err error
	r.db, err = sql.Open(r.driver, r.dsn)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, r.db.Close()) })

	prefix := randomPrefix(t)
	r.store = newStore(t, b, r.db, prefix)
	r.gated = newGatedTable(t, b, r.db, prefix)

	r.engine, err = approval.NewEngine(r.store, r.gated.once(r.db), nil)
	require.NoError(t, err)

	return r
}

// runChild decides the item in a child process that dies at mode.
func (r *crashRig) runChild(t *testing.T, id string, mode int, reject bool) {
	t.Helper()

	cmd := exec.CommandContext(t.Context(), os.Args[0],
		"-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(),
		envCrashChild+"=1",
		envCrashDialect+"="+strconv.Itoa(int(r.b.dialect)),
		envCrashDSN+"="+r.dsn,
		envCrashPrefix+"="+r.store.TablePrefix(),
		envCrashItem+"="+id,
		envCrashMode+"="+strconv.Itoa(mode),
		envCrashReject+"="+strconv.FormatBool(reject),
	)

	out, err := cmd.CombinedOutput()

	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "child output:\n%s", out)
	require.Equal(t, crashExit, exit.ExitCode(), "child output:\n%s", out)
}

// restart plays the instance that comes back after the crash and
// returns how many items it advanced.
func (r *crashRig) restart(t *testing.T, id string) int {
	t.Helper()

	w, err := r.engine.GetWorkItem(t.Context(), id)
	require.NoError(t, err)
	require.True(t, w.Status.Decided(), "the child's decision committed")
	require.Equal(t, approval.AdvanceDue, w.Advance.State)
	require.Equal(t, "crashed", w.Advance.LeaseOwner)

	// While the dead instance's lease holds, nobody takes the item.
	early, err := approval.NewEngine(r.store, r.gated.once(r.db), nil)
	require.NoError(t, err)
	n, err := early.ResumeAdvances(t.Context())
	require.NoError(t, err)
	require.Zero(t, n, "the dead instance's lease still holds")

	late, err := approval.NewEngine(r.store, r.gated.once(r.db),
		&approval.Config{Clock: aheadClock{}})
	require.NoError(t, err)
	n, err = late.ResumeAdvances(t.Context())
	require.NoError(t, err)

	return n
}

// requireRolledBack checks that a crash inside an advancing
// transaction left nothing of the decision.
func (r *crashRig) requireRolledBack(t *testing.T, id string, reject bool) {
	t.Helper()

	w, err := r.engine.GetWorkItem(t.Context(), id)
	require.NoError(t, err)
	require.Equal(t, approval.StatusPending, w.Status)
	require.Nil(t, w.Rejection)

	want := 1
	if reject {
		want = 0
	}
	require.Len(t, w.Approvals, want)

	require.Empty(t, r.gated.outcomes(t.Context(), t, r.db)[id])

	// Decide it now, so that the run ends with every item decided.
	_, err = r.engine.Reject(t.Context(), id, approval.Principal{UserID: "bob"}, "after crash")
	require.NoError(t, err)
}

// runCrashChild decides the item the environment names, and dies.
func runCrashChild(t *testing.T) {
	t.Helper()

	dialect, err := strconv.Atoi(os.Getenv(envCrashDialect))
	require.NoError(t, err)
	mode, err := strconv.Atoi(os.Getenv(envCrashMode))
	require.NoError(t, err)

	b := backend{dialect: sqlstore.Dialect(dialect)}
	name := map[sqlstore.Dialect]string{
		sqlstore.SQLite: "sqlite", sqlstore.Postgres: "pgx", sqlstore.MySQL: "mysql",
	}[b.dialect]

	db, err := sql.Open(name, os.Getenv(envCrashDSN))
	require.NoError(t, err)

	prefix := os.Getenv(envCrashPrefix)
	gated := gatedTable{dialect: b.dialect, name: prefix + "gated_requests"}

	cfg := &sqlstore.Config{TablePrefix: prefix}
	if mode == crashInTx {
		cfg.TxAdvancer = sqlstore.TxAdvancerFunc(func(ctx context.Context,
			tx *sql.Tx, w approval.WorkItem,
		) error {
			if err := gated.record(ctx, tx, w); err != nil {
				return err
			}
			os.Exit(crashExit)

			return nil
		})
	}

	s, err := sqlstore.New(db, b.dialect, cfg)
	require.NoError(t, err)

	advancer := approval.AdvancerFunc(func(ctx context.Context, w approval.WorkItem) error {
		switch mode {
		case crashBeforeAdvance:
		case crashAfterEffect:
			_, err := db.ExecContext(ctx, rebind(b.dialect, "INSERT INTO "+gated.name+
				" (work_item_id, resource_id, outcome) VALUES (?, ?, ?)"),
				w.ID, w.ResourceID, string(w.Status))
			if err != nil {
				return err
			}
		default:
			return fmt.Errorf("crash mode %d advances in the store", mode)
		}
		os.Exit(crashExit)

		return nil
	})

	e, err := approval.NewEngine(s, advancer, &approval.Config{
		InstanceID:   "crashed",
		AdvanceLease: time.Minute,
	})
	require.NoError(t, err)

	id := os.Getenv(envCrashItem)
	if os.Getenv(envCrashReject) == "true" {
		_, err = e.Reject(t.Context(), id, approval.Principal{UserID: "bob"}, "no")
	} else {
		_, err = e.Approve(t.Context(), id, approval.Principal{UserID: "bob"}, "")
	}
	t.Fatalf("the decision returned without a crash: %v", err)
}
