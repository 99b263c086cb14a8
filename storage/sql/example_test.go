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

// Open a SQLite database, migrate it, and run an engine on it. For
// PostgreSQL, open the *sql.DB with the "pgx" driver and pass
// sqlstore.Postgres; for MySQL or MariaDB, the "mysql" driver and
// sqlstore.MySQL.
func ExampleNew() {
	ctx := context.Background()

	dir, err := os.MkdirTemp("", "workitems")
	if err != nil {
		panic(err)
	}
	defer func() { _ = os.RemoveAll(dir) }()

	dsn := "file:" + filepath.Join(dir, "workitems.db") +
		"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)" +
		"&_pragma=foreign_keys(1)&_txlock=immediate"

	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		panic(err)
	}
	defer func() { _ = db.Close() }()

	store, err := sqlstore.New(db, sqlstore.SQLite, nil)
	if err != nil {
		panic(err)
	}

	if err := store.Migrate(ctx); err != nil {
		panic(err)
	}

	advancer := approval.AdvancerFunc(func(_ context.Context, w approval.WorkItem) error {
		fmt.Printf("advance %s: %s\n", w.ResourceID, w.Status)
		return nil
	})

	engine, err := approval.NewEngine(store, advancer, nil)
	if err != nil {
		panic(err)
	}

	prof, err := engine.CreateProfile(ctx, approval.Profile{
		Name:              "Issuance",
		RequiredApprovals: 1,
		Approvers:         approval.Approvers{Users: []string{"alice"}},
	})
	if err != nil {
		panic(err)
	}

	item, err := engine.CreateWorkItem(ctx, approval.WorkItemSpec{
		ProfileID:    prof.ID,
		ResourceType: approval.IssuanceRequest,
		ResourceID:   "req-1",
	})
	if err != nil {
		panic(err)
	}

	item, err = engine.Approve(ctx, item.ID, approval.Principal{UserID: "alice"}, "")
	if err != nil {
		panic(err)
	}
	fmt.Println(item.Status, len(item.Approvals))

	// Output:
	// advance req-1: approved
	// approved 1
}
