package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"

	_ "modernc.org/sqlite"

	"github.com/otpki/workitems/approval"
	sqlstore "github.com/otpki/workitems/storage/sql"
)

// Advance each decision in the transaction that records it, when the
// host's gated requests live in the same database: here a table of
// enrollment requests whose state follows the work item's decision.
func ExampleTxAdvancerFunc() {
	ctx := context.Background()

	dir, err := os.MkdirTemp("", "workitems")
	if err != nil {
		panic(err)
	}
	defer func() { _ = os.RemoveAll(dir) }()

	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "ca.db")+
		"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"+
		"&_pragma=foreign_keys(1)&_txlock=immediate")
	if err != nil {
		panic(err)
	}
	defer func() { _ = db.Close() }()

	_, err = db.ExecContext(ctx, `CREATE TABLE enrollment_requests (
		id TEXT PRIMARY KEY, state TEXT NOT NULL)`)
	if err != nil {
		panic(err)
	}

	_, err = db.ExecContext(ctx, `INSERT INTO enrollment_requests
		VALUES ('er-1', 'waiting for approval')`)
	if err != nil {
		panic(err)
	}

	// The end entity goes to New once approved, to Failed once
	// rejected, in the decision's own transaction.
	advance := sqlstore.TxAdvancerFunc(func(ctx context.Context, tx *sql.Tx,
		w approval.WorkItem,
	) error {
		state := "new"
		if w.Status == approval.StatusRejected {
			state = "failed"
		}

		_, err := tx.ExecContext(ctx,
			"UPDATE enrollment_requests SET state = ? WHERE id = ?",
			state, w.ResourceID)

		return err
	})

	store, err := sqlstore.New(db, sqlstore.SQLite, &sqlstore.Config{TxAdvancer: advance})
	if err != nil {
		panic(err)
	}

	if err := store.Migrate(ctx); err != nil {
		panic(err)
	}

	// The engine calls no advancer of its own for decisions.
	unused := approval.AdvancerFunc(func(context.Context, approval.WorkItem) error {
		return nil
	})

	engine, err := approval.NewEngine(store, unused, nil)
	if err != nil {
		panic(err)
	}

	prof, err := engine.CreateProfile(ctx, approval.Profile{
		Name:              "Enrollment",
		RequiredApprovals: 1,
		Approvers:         approval.Approvers{Users: []string{"alice"}},
	})
	if err != nil {
		panic(err)
	}

	item, err := engine.CreateWorkItem(ctx, approval.WorkItemSpec{
		ProfileID:    prof.ID,
		ResourceType: approval.EnrollmentRequest,
		ResourceID:   "er-1",
	})
	if err != nil {
		panic(err)
	}

	item, err = engine.Approve(ctx, item.ID, approval.Principal{UserID: "alice"}, "")
	if err != nil {
		panic(err)
	}

	var state string
	err = db.QueryRowContext(ctx,
		"SELECT state FROM enrollment_requests WHERE id = 'er-1'").Scan(&state)
	if err != nil {
		panic(err)
	}

	fmt.Println(item.Status, item.Advance.State, state)

	// Output:
	// approved done new
}
