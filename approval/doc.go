// Package approval is the approval engine: work items, approval
// profiles, the rules that decide them, and the [Engine] callers use.
//
// A work item holds back one gated request (an enrollment request or
// an issuance request) until the approvers of its approval profile
// decide it. The rules are these, and they all live in rules.go and
// validate.go, as pure functions with no I/O:
//
//   - Only a Pending work item can be acted on.
//   - Approvers are listed by user, group or role; anyone else is
//     refused, and the check uses the profile as it is at the moment
//     of the action.
//   - No one approves a work item twice, and the requester may not
//     approve their own request unless the profile allows it.
//   - The approval that reaches the required number, copied from the
//     profile when the item was created, decides it Approved; one
//     rejection decides it Rejected. A decision is final.
//
// A call flows one way: the engine reads the work item and its
// profile from the [Store], derives the [Change] with [Approve] or
// [Reject], and asks the store to write it if the profile is still at
// the version read. The store makes the change to the item as stored,
// as [Change.On] says, so approvals that race on one item all count
// and the one that reaches the threshold decides; only an edit of the
// profile sends the engine back to read again.
//
// The engine skips the read when it can (see [Config.Remember]). It
// remembers the items and profiles it has seen, in a listing, an
// inbox or a get. An item seen before is acted on as last seen; a
// remembered item that moved on since is written as stored, like any
// old read. An item not seen is acted on with [ApproveUnread] or
// [RejectUnread], under the remembered profiles that list the
// approver: the store applies the rules that depend on the item, as
// [Change.On] says, to the item as stored, and refuses the change
// when the item's profile is not among them. A remembered profile that
// changed fails the store's version check, and the engine reads.
//
// The write that decides an item marks its advance as due, and the
// engine then hands the decided item to the host's
// [ResourceAdvancer]. A failed advance is retried by
// [Engine.ResumeAdvances] or a [Dispatcher], so the advancer is called
// at least once per decision, and never for a decision that did not
// commit.
//
// The package knows no storage engine: storage/memdb and storage/sql
// implement [Store], and storage/storagetest checks any implementation
// against the contract.
package approval
