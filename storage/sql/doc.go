// Package sqlstore is an [approval.Store] over database/sql for
// PostgreSQL, MySQL or MariaDB, and SQLite. Its directory is
// storage/sql, but the package is named sqlstore so that it does not
// shadow database/sql in the files that import both.
//
// The caller opens the *sql.DB with the driver of its choice, names
// the dialect, and migrates once at start-up:
//
//	db, err := sql.Open("pgx", "postgres://app@db/otpki")
//	...
//	store, err := sqlstore.New(db, sqlstore.Postgres, nil)
//	...
//	err = store.Migrate(ctx)
//
// The package itself imports no driver. It recognizes the errors of
// pgx, go-sql-driver/mysql and modernc.org/sqlite by
// what they expose, and retries a whole transaction, a bounded number
// of times with jitter, only on the errors that mean the database
// aborted it: PostgreSQL serialization failures and deadlocks (40001,
// 40P01), MySQL deadlocks and lock wait timeouts (1213, 1205), and
// SQLite's busy and locked codes. Any other error is returned,
// wrapped, at once.
//
// # Schema
//
// Three tables, named after a configurable prefix (default
// "workitems_"): profiles; work_items, which carries the item's
// approvals as JSON text so that one row is the whole item; and
// approvals, one row per approval, whose primary key (work_item_id,
// user_id) lets no user approve twice. A Pending work item carries the
// version of its profile, which an edit of the profile rewrites in the
// same transaction: a change checks the version on the row it writes,
// and so takes no lock on the profile, which every item of a busy
// profile would contend for. A unique index allows one
// Pending work item per resource: partial on PostgreSQL and SQLite,
// on a generated column that is NULL once the item is decided on
// MySQL. IDs sort by byte order on every dialect: the "C" collation
// on PostgreSQL, utf8mb4_bin on MySQL, BINARY on SQLite. Times are
// stored in UTC to the microsecond: timestamptz, DATETIME(6), and
// Unix microseconds in an INTEGER on SQLite; the zero time is NULL.
//
// [Store.Migrate] applies the numbered SQL files embedded from
// migrations/<dialect>/ and records each version in the
// schema_versions table.
//
// # Round trips
//
// An approval through [approval.Engine] needs no read before its write
// when the engine remembers the work item, or a profile that lists the
// approver (see [approval.Config.Remember]), as it does once it has
// seen any item of that profile. The write is then:
//
//   - PostgreSQL: one statement in autocommit, which makes the change
//     to the item row as it finds it once locked, if the item's
//     profile is among the change's grants at the version the item
//     carries, and inserts the approval row: 1 round trip. Approvals
//     racing on one item wait for its row in turn and all count; none
//     is sent back to read. A change derived without a read of the
//     item also finds the requester on the row, and writes nothing
//     when the approver requested the item and the grant does not
//     allow that. An approval of a remembered item that leaves it
//     Pending, as derived, runs a narrower statement, which writes
//     only the approvals and the version, and only if the item stays
//     Pending; the rare one that finds it would decide the item after
//     all takes the full statement next, one round trip more.
//   - MySQL: for a remembered item, a transaction of two statements,
//     the update at the versions remembered and the approval row:
//     BEGIN, 2 statements and COMMIT, 4 round trips with
//     interpolateParams=true. When another change came first, or the
//     item was not read, the transaction reads the item FOR UPDATE
//     and makes the change to it: 5 round trips for an item not read,
//     6 for one that moved on. A rejection is one statement at the
//     version remembered; of an item not read, the store reads it
//     first and writes at the version it read: 2 round trips.
//   - SQLite: BEGIN IMMEDIATE, the same statements, COMMIT.
//
// An engine that remembers neither reads the item and its profile in
// one statement first: one round trip more.
//
// A decision takes one more statement once the engine's advancer has
// returned, to record the advance: 2 round trips in all on
// PostgreSQL and 5 or 6 on MySQL. On PostgreSQL that record commits
// without waiting for the disk, which saves about half its time: lost
// in a crash of the server, it leaves the item due under the engine's
// lease, and the item is advanced again once the lease runs out, as
// after a crash of the engine (see [approval.Store]). The record of an
// operator's [approval.Engine.RetryAdvance] waits for the disk. MySQL
// and SQLite offer no such choice for one write, and write every
// record durably.
//
// With a [Config.TxAdvancer] every change that may decide the item
// runs in a transaction, which BEGIN and COMMIT bound, and the advance
// is part of it when the change decides: 3 round trips on PostgreSQL,
// 4 to 6 on MySQL, plus the host's own statements. On PostgreSQL an
// approval runs the narrower statement above in autocommit first,
// unless it was derived from a read as one that decides: 1 round trip
// when it leaves the item Pending, where the transaction took 3, and
// one more than the transaction's when an approval derived without a
// read turns out to decide.
//
// When a change writes nothing, because the item is decided or gone,
// its profile is not among the change's grants at its version, or
// the approver may not approve their own request, one more read
// tells which.
//
// Other operations: get, get with profile, list, update advance and
// claim are one statement each (claim is a transaction of two on
// MySQL and SQLite); create work item is one statement, which locks
// the profile row in share mode; update profile is a transaction of
// two, the profile and its Pending items; delete profile is a
// transaction that locks the profile before it looks for Pending
// items.
//
// # Advancing in the decision's transaction
//
// When the host's gated requests live in the same database, set
// [Config.TxAdvancer]: a change that decides a work item then runs in
// one transaction with the host's [TxAdvancer], which receives the
// *sql.Tx. Decision, approval row and advance commit together, or
// roll back together when the advancer fails, and the call returns
// its error with nothing decided. The store reports AdvancesInTx, so
// the engine marks such decisions advanced and calls no advancer of
// its own; no dispatcher is needed for them. A transaction that the
// database aborts, in the store's statements or the host's, runs
// again whole, with a new *sql.Tx, up to [Config.RetryAttempts].
//
// # Cancellation
//
// Every call takes its context to the driver. A call whose context
// ends either committed or left nothing behind, and its connection
// is back in the pool when it returns: a transaction runs on a
// *sql.Conn of its own, whose Close waits for the rollback that
// database/sql starts when the context ends. Its outcome is unknown
// to the caller, though: a server may still finish a statement whose
// client has gone, so a decision may commit after its call returned
// the context's error. Such a decision is advanced like any other.
//
// On SQLite the wait for the write lock ends with the context too.
// SQLite's busy handler sleeps through the interrupt the driver sends
// when a context ends, so the store waits for the lock itself: it
// turns the connection's busy timeout off while it tries, pauses
// between tries for as long as the timeout would have waited, and
// turns it back on.
//
// # Listings
//
// Listings are keyset-paginated in ID order on an index: (status, id),
// (profile_id, status, id), (resource_id, resource_type, id), and a
// partial (advance_state, id) of due and failed advances. A listing by
// several profiles, such as the inbox, merges one branch per profile
// and status, each reading at most a page. Conditions are written so
// that the generic plan of a prepared statement stays on those
// indexes whatever the values; see the comment on listBuilder.fixed.
// A listing of Pending items reads only the columns a Pending item
// fills, half of them: it has no rejection, decision time or advance
// yet, which CreateWorkItem enforces with
// approval.ValidateNewWorkItem.
//
// # PostgreSQL
//
// Use github.com/jackc/pgx/v5/stdlib (driver name "pgx"); the database
// must use the UTF8 encoding, which Migrate checks. The schema and
// queries avoid advisory locks, triggers and LISTEN/NOTIFY, so that
// they stay within what CockroachDB and YugabyteDB accept. Known
// exceptions: the "C" collation on ID columns, FOR SHARE and the
// synchronous_commit setting of an advance record are PostgreSQL
// spellings whose support differs between versions of those systems;
// this package is tested on PostgreSQL only.
//
// # MySQL and MariaDB
//
// Use github.com/go-sql-driver/mysql with MySQL 8.0 or later, or
// MariaDB 10.6 or later (for SKIP LOCKED). The store needs neither
// parseTime nor a particular loc: it writes DATETIME(6) values as UTC
// text and reads either form. It needs the connection character set
// utf8mb4, the driver's default, which Migrate checks. Recommended:
//
//	root@tcp(127.0.0.1:3306)/otpki?interpolateParams=true
//
// interpolateParams=true saves a prepare round trip per statement.
// Migrate takes a named lock (GET_LOCK), since MySQL commits DDL
// statement by statement.
//
// # SQLite
//
// Use modernc.org/sqlite (driver name "sqlite"). Recommended DSN:
//
//	dsn := "file:/var/lib/otpki/workitems.db" +
//		"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)" +
//		"&_pragma=foreign_keys(1)&_txlock=immediate"
//
// WAL lets readers run beside the single writer, and busy_timeout
// makes a writer wait for the lock instead of failing at once. The
// store begins its write transactions with BEGIN IMMEDIATE on a
// connection of its own whatever the DSN says; _txlock=immediate
// does the same for transactions the host runs on the same pool, and
// for the transactions of a [TxAdvancer], which are database/sql's.
//
// SQLite parses a statement in the calling process, so a SQLite store
// prepares its reads once and keeps up to 64 of them, on the
// connections of the pool that run them, for as long as the *sql.DB is
// open; writes are parsed on each call, on the transaction's own
// connection.
//
// The writers of one store take SQLite's write lock in turn, each as
// soon as the one before it is done, rather than polling for it as
// SQLite's busy handler does: 8 goroutines approving at once went
// from about 300 to 1,500 approvals a second, and their 99th
// percentile from over 120 ms to under 10 ms. Writers of other stores
// and processes still meet at the lock itself. A writer waits its
// turn for no longer than the busy timeout.
package sqlstore
