package sqlstore

import (
	"strconv"
	"strings"

	"github.com/otpki/workitems/approval"
)

// queries holds the SQL text of one dialect, with {p} where the table
// prefix goes. Every statement takes its arguments in the order its
// field's comment gives, the same on every dialect.
type queries struct {
	// insertProfile: id, then profileArgs.
	insertProfile string

	// getProfile: id.
	getProfile string

	// listProfiles: after, limit.
	listProfiles string

	// updateProfile: profileArgs, id, read version.
	updateProfile string

	// pendingProfileVersion gives the Pending work items of a profile
	// its new version, in the transaction that edits it: version,
	// profile id.
	pendingProfileVersion string

	// lockProfile reads the version of a profile and locks it
	// against concurrent writes until the transaction ends: id.
	lockProfile string

	// pendingOfProfile finds a Pending work item bound to a profile,
	// seeing every committed row: profile id.
	pendingOfProfile string

	// deleteProfile: id.
	deleteProfile string

	// insertItem inserts a work item, with the version of its
	// profile, if the profile is at that version, keeping it from
	// changing until the transaction ends: id, profile id, itemArgs,
	// profile id, profile version.
	insertItem string

	// insertApproval: work item id, user id, comment, time.
	insertApproval string

	// getItem: id.
	getItem string

	// getItemAndProfile reads an item and, by an outer join, its
	// profile: id.
	getItemAndProfile string

	// itemState reads what classifies a failed write: version,
	// status, lease owner, profile id, the profile version the item
	// carries, and the requester; id.
	itemState string

	// pendingOfResource finds the Pending work item of a resource:
	// resource type, resource id.
	pendingOfResource string

	// updateItem writes a change if the item and the profile version
	// it carries are at the versions read: changeArgs, id, read
	// version, profile version.
	updateItem string

	// updatePending writes an approval that leaves the item Pending,
	// which changes nothing but its approvals and version, if the
	// item and the profile version it carries are at the versions
	// read: approvals, version, id, read version, profile version.
	// Empty where approveInPlace makes it needless.
	updatePending string

	// lockItem reads a work item, then the version of its profile
	// that it carries, and keeps other writers from the item until the
	// transaction ends: id. Empty where approveInPlace makes it
	// needless.
	lockItem string

	// approveInPlace, where the dialect has it, adds an approval to
	// the work item as it finds it once locked, deciding the item when
	// it reaches the threshold, if the item is Pending, its profile
	// among the change's grants at the version the item carries, and
	// the grant lets the requester approve if the approver is the
	// requester; it also inserts the approval row, and returns the
	// pendingCols of the item written: id, the granted profiles, the
	// approval as a JSON list of one, its user, comment and time,
	// advanceArgs of the advance a decision gets, the status Pending
	// (see pendingArg), the grants' versions, and whether each lets
	// the requester approve.
	approveInPlace string

	// approveBelowInPlace is approveInPlace that writes nothing when
	// the approval would reach the threshold, for an approval expected
	// to leave the item Pending: such an approval needs no
	// transaction, even where decisions advance in one (see
	// applyAdvancing). It writes only the approvals and the version:
	// id, the granted profiles, the approval as a JSON list of one,
	// its user, comment and time, the status Pending, the grants'
	// versions, and whether each lets the requester approve. Empty
	// where the dialect has no approveInPlace.
	approveBelowInPlace string

	// rejectInPlace is approveInPlace for a rejection: id, the granted
	// profiles, user, reason, time, advanceArgs, the status Pending,
	// then the grants' versions.
	rejectInPlace string

	// claimAdvances, where the dialect has it, leases due items in
	// one statement and returns them: owner, lease until, after, due
	// by (NULL for no bound), now, limit.
	claimAdvances string

	// selectClaimable reads the items a claim may lease, locking
	// them where the dialect can: after, due by, due by, now, limit.
	selectClaimable string

	// leaseItems, followed by the IN list built for the claimed IDs:
	// owner, lease until, ids.
	leaseItems string

	// updateAdvance: advanceArgs, id, owner.
	updateAdvance string

	// recordAdvance is updateAdvance for the outcome of an advance,
	// written by the lease's holder, which need not be durable when
	// it returns (see [approval.Store]); it is updateAdvance where
	// the dialect cannot relax the durability of one write.
	recordAdvance string

	// schemaVersion reads the newest applied schema version.
	schemaVersion string

	// insertVersion records a schema version: version, time.
	insertVersion string
}

func queriesFor(d Dialect) (*queries, error) {
	switch d {
	case Postgres:
		return &postgresQueries, nil
	case MySQL:
		return &mysqlQueries, nil
	case SQLite:
		return &sqliteQueries, nil
	}

	return nil, &approval.InvalidArgumentError{
		Field:  "dialect",
		Reason: "unknown dialect " + strconv.Itoa(int(d)),
	}
}

// withPrefix returns a copy of q with prefix in every text.
func (q *queries) withPrefix(prefix string) *queries {
	out := *q
	for _, f := range out.texts() {
		*f = expand(*f, prefix)
	}

	return &out
}

func (q *queries) texts() []*string {
	return []*string{
		&q.insertProfile, &q.getProfile, &q.listProfiles,
		&q.updateProfile, &q.pendingProfileVersion,
		&q.lockProfile, &q.pendingOfProfile,
		&q.deleteProfile, &q.insertItem, &q.insertApproval,
		&q.getItem, &q.getItemAndProfile, &q.itemState,
		&q.pendingOfResource, &q.updateItem, &q.updatePending, &q.lockItem,
		&q.approveInPlace, &q.approveBelowInPlace, &q.rejectInPlace,
		&q.claimAdvances, &q.selectClaimable, &q.leaseItems,
		&q.updateAdvance, &q.recordAdvance, &q.schemaVersion,
		&q.insertVersion,
	}
}

// qualify puts alias. before each column of a comma-separated list.
func qualify(alias, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = alias + "." + strings.TrimSpace(c)
	}

	return strings.Join(parts, ", ")
}

// placeholder returns the n-th (from 1) bind parameter of d.
func placeholder(d Dialect, n int) string {
	if d == Postgres {
		return "$" + strconv.Itoa(n)
	}

	return "?"
}

// inList returns "(p1, p2, ...)" with count parameters numbered from
// first.
func inList(d Dialect, first, count int) string {
	var b strings.Builder
	b.WriteByte('(')
	for i := range count {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(placeholder(d, first+i))
	}
	b.WriteByte(')')

	return b.String()
}
