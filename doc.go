// Package workitems is the approval engine of OTPKI, a certificate
// authority. It holds back a sensitive request, such as enrolling an
// end entity or issuing a certificate, until enough authorized people
// have approved it, and then hands the request back to the host to
// carry on, or to fail when someone rejected it.
//
// This package holds only this overview and a runnable example; the
// library lives in the packages below.
//
// # Approval profiles and work items
//
// An approval profile says who may approve and how many must. Its
// approvers are three collections, OR'd: user IDs, groups and roles.
// A user may act when listed, when a member of a listed group, or when
// holding a listed role. Its required approvals count distinct
// approvers. One profile may gate many kinds of request.
//
// A work item is the unit an approver acts on: one gated request, an
// enrollment request or an issuance request named by its ID, bound to
// one approval profile. It starts Pending and is decided once, to
// Approved when the required number of approvers approved it, or to
// Rejected when one approver rejected it. Once decided, the engine
// calls the host's resource advancer, which moves the gated request on.
//
// # Packages
//
// Package approval is the core: the types, the rules as pure
// functions, the Engine that callers use, and the two interfaces a
// host and a backend implement: ResourceAdvancer, which moves a
// gated request on once decided, and Store, which keeps profiles and
// work items.
//
// Package authz answers who may approve: it checks a principal (a
// user with groups and roles) against a profile's approvers. It is a
// pure leaf, with no I/O and no imports from this module.
//
// Storage backends implement approval.Store. Package storage/memdb
// keeps everything in memory on hashicorp/go-memdb, for tests, demos
// and hosts that rebuild their state on start-up. Package sqlstore,
// in storage/sql, keeps it in PostgreSQL, MySQL or MariaDB, or SQLite
// through database/sql, with the driver the host chooses. Package
// storage/storagetest is the conformance suite that proves a backend,
// ours or one a host writes, keeps the Store contract.
//
// Package approval/approvaltest is for a host's own unit tests: an
// engine on a fresh in-memory store in one call, with a fake clock, a
// recording advancer and a failing one.
//
// # Promises
//
// Whatever the backend, and however many goroutines or processes act
// on one work item at once:
//
//   - Threshold: a work item becomes Approved exactly when the number
//     of distinct approvals reaches the required approvals copied from
//     its profile at creation, never with more.
//   - Single rejection: one rejection by an approver decides the work
//     item Rejected at once.
//   - No double approval: a user approves a work item at most once; the
//     store refuses a second approval on its own.
//   - Only Pending is acted on: approving or rejecting a decided work
//     item fails with approval.ErrNotPending.
//   - Decisions are final: an Approved or Rejected work item never
//     changes status again, and no reply claims a change that did not
//     happen.
//   - Separation of duties: the user who requested a gated request
//     may not approve it, unless its profile allows self-approval.
//     Who may act is checked against the profile as it is at that
//     moment, so a removed approver loses the right at once.
//   - At-least-once advance: the decision and a durable "not yet
//     advanced" mark are written together; the mark is cleared only
//     when the advancer returns nil. A failed advance is reported as
//     approval.ErrNotAdvanced, the decision stands, and
//     Engine.ResumeAdvances, or a running approval.Dispatcher, tries
//     again. The advancer may therefore
//     see one decision more than once and must be idempotent, with
//     the work item ID as its key.
//
// # Getting started
//
// From the module root, go run ./examples/quickstart narrates a full
// approve and reject flow on the in-memory store.
package workitems
