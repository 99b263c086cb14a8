package approval_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/otpki/workitems/approval"
	"github.com/otpki/workitems/approval/approvaltest"
	"github.com/otpki/workitems/storage/memdb"
)

// examplePrintAdvances is an advancer that prints what it is given.
var examplePrintAdvances = approval.AdvancerFunc(examplePrintAdvance)

func examplePrintAdvance(_ context.Context, w approval.WorkItem) error {
	fmt.Printf("advance %s %s: %s\n", w.ResourceType, w.ResourceID, w.Status)
	return nil
}

// exampleEngine returns an engine on a fresh in-memory store whose IDs
// are id-000001, id-000002, and so on.
func exampleEngine(adv approval.ResourceAdvancer) *approval.Engine {
	e, err := approval.NewEngine(memdb.New(), adv, &approval.Config{
		NewID: approvaltest.SequentialIDs("id-"),
	})
	if err != nil {
		log.Fatal(err)
	}

	return e
}

// exampleProfile creates a profile that requires the given number of
// approvals from alice, the ra-officers group or the ca-admin role.
func exampleProfile(e *approval.Engine, required int) approval.Profile {
	p, err := e.CreateProfile(context.Background(), approval.Profile{
		Name:              "Enrollment",
		RequiredApprovals: required,
		Approvers: approval.Approvers{
			Users:  []string{"alice"},
			Groups: []string{"ra-officers"},
			Roles:  []string{"ca-admin"},
		},
	})
	if err != nil {
		log.Fatal(err)
	}

	return p
}

// exampleItem creates a Pending work item that gates the enrollment
// request with the ID, requested by the given user.
func exampleItem(e *approval.Engine, profileID, resourceID, requestedBy string) approval.WorkItem {
	w, err := e.CreateWorkItem(context.Background(), approval.WorkItemSpec{
		ProfileID:    profileID,
		ResourceType: approval.EnrollmentRequest,
		ResourceID:   resourceID,
		RequestedBy:  requestedBy,
	})
	if err != nil {
		log.Fatal(err)
	}

	return w
}

func ExampleEngine_CreateProfile() {
	ctx := context.Background()
	engine := exampleEngine(examplePrintAdvances)

	prof, err := engine.CreateProfile(ctx, approval.Profile{
		Name:              "  High-risk issuance ",
		Description:       "CA certificates and code signing",
		RequiredApprovals: 2,
		Approvers: approval.Approvers{
			Users: []string{"alice", "bob"},
			Roles: []string{"ca-admin"},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s %q version %d\n", prof.ID, prof.Name, prof.Version)

	// Bad input names the field at fault and stores nothing.
	_, err = engine.CreateProfile(ctx, approval.Profile{
		Name:              "Two users, three approvals",
		RequiredApprovals: 3,
		Approvers:         approval.Approvers{Users: []string{"alice", "bob"}},
	})
	var invalid *approval.InvalidArgumentError
	if errors.As(err, &invalid) {
		fmt.Println(invalid.Field)
	}

	// Names are unique.
	_, err = engine.CreateProfile(ctx, approval.Profile{
		Name:              "High-risk issuance",
		RequiredApprovals: 1,
		Approvers:         approval.Approvers{Roles: []string{"ca-admin"}},
	})
	fmt.Println(errors.Is(err, approval.ErrNameTaken))

	// Output:
	// id-000001 "High-risk issuance" version 1
	// profile.required_approvals
	// true
}

func ExampleEngine_CreateWorkItem() {
	ctx := context.Background()
	engine := exampleEngine(examplePrintAdvances)
	prof := exampleProfile(engine, 2)

	item, err := engine.CreateWorkItem(ctx, approval.WorkItemSpec{
		ProfileID:    prof.ID,
		ResourceType: approval.EnrollmentRequest,
		ResourceID:   "enr-1",
		Description:  "enrollment of end entity jdoe",
		RequestedBy:  "dave",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %s, %d of %d\n", item.ID, item.Status,
		len(item.Approvals), item.RequiredApprovals)

	// A request waits on one Pending work item at a time.
	_, err = engine.CreateWorkItem(ctx, approval.WorkItemSpec{
		ProfileID:    prof.ID,
		ResourceType: approval.EnrollmentRequest,
		ResourceID:   "enr-1",
	})
	var pending *approval.PendingItemExistsError
	if errors.As(err, &pending) {
		fmt.Println("already waiting on", pending.WorkItemID)
	}

	// Only enrollment and issuance requests are gated.
	_, err = engine.CreateWorkItem(ctx, approval.WorkItemSpec{
		ProfileID:    prof.ID,
		ResourceType: "revocation_request",
		ResourceID:   "rev-1",
	})
	fmt.Println(errors.Is(err, approval.ErrInvalidArgument))

	// Output:
	// id-000002: pending, 0 of 2
	// already waiting on id-000002
	// true
}

func ExampleEngine_Approve() {
	ctx := context.Background()
	alice := approval.Principal{UserID: "alice"}
	dave := approval.Principal{UserID: "dave", Groups: []string{"ra-officers"}}
	erin := approval.Principal{UserID: "erin", Roles: []string{"ca-admin"}}
	engine := exampleEngine(examplePrintAdvances)
	prof := exampleProfile(engine, 2)
	item := exampleItem(engine, prof.ID, "enr-1", "dave")

	item, err := engine.Approve(ctx, item.ID, alice, "checked the ID")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s, %d of %d\n", item.Status,
		len(item.Approvals), item.RequiredApprovals)

	// Refusals change nothing.
	_, err = engine.Approve(ctx, item.ID, alice, "")
	fmt.Println(errors.Is(err, approval.ErrAlreadyApproved))
	_, err = engine.Approve(ctx, item.ID, dave, "")
	fmt.Println(errors.Is(err, approval.ErrSelfApproval))

	// The approval that reaches the threshold decides the work item,
	// and the engine advances it before it returns.
	item, err = engine.Approve(ctx, item.ID, erin, "")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s, %d of %d, advance %s\n", item.Status,
		len(item.Approvals), item.RequiredApprovals, item.Advance.State)

	// Output:
	// pending, 1 of 2
	// true
	// true
	// advance Enrollment Request enr-1: approved
	// approved, 2 of 2, advance done
}

func ExampleEngine_Reject() {
	ctx := context.Background()
	alice := approval.Principal{UserID: "alice"}
	bob := approval.Principal{UserID: "bob", Groups: []string{"ra-officers"}}
	engine := exampleEngine(examplePrintAdvances)
	prof := exampleProfile(engine, 2)
	item := exampleItem(engine, prof.ID, "enr-1", "dave")

	item, err := engine.Reject(ctx, item.ID, bob, "unknown organization")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s by %s: %s\n", item.Status,
		item.Rejection.UserID, item.Rejection.Reason)

	// The decision is final.
	_, err = engine.Approve(ctx, item.ID, alice, "")
	fmt.Println(errors.Is(err, approval.ErrNotPending))

	// Output:
	// advance Enrollment Request enr-1: rejected
	// rejected by bob: unknown organization
	// true
}

func ExampleEngine_CanApprove() {
	ctx := context.Background()
	alice := approval.Principal{UserID: "alice"}
	bob := approval.Principal{UserID: "bob", Groups: []string{"ra-officers"}}
	erin := approval.Principal{UserID: "erin", Roles: []string{"ca-admin"}}
	mallory := approval.Principal{UserID: "mallory"}
	engine := exampleEngine(examplePrintAdvances)
	prof := exampleProfile(engine, 2)

	for _, p := range []approval.Principal{alice, bob, erin, mallory} {
		ok, err := engine.CanApprove(ctx, prof.ID, p)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(p.UserID, ok)
	}

	// Output:
	// alice true
	// bob true
	// erin true
	// mallory false
}

// CanAct tells a UI why a control is disabled for one work item.
func ExampleEngine_CanAct() {
	ctx := context.Background()
	alice := approval.Principal{UserID: "alice"}
	dave := approval.Principal{UserID: "dave", Groups: []string{"ra-officers"}}
	erin := approval.Principal{UserID: "erin", Roles: []string{"ca-admin"}}
	mallory := approval.Principal{UserID: "mallory"}
	engine := exampleEngine(examplePrintAdvances)
	prof := exampleProfile(engine, 2)
	item := exampleItem(engine, prof.ID, "enr-1", "dave")

	if _, err := engine.Approve(ctx, item.ID, alice, ""); err != nil {
		log.Fatal(err)
	}

	why := func(err error) string {
		switch {
		case err == nil:
			return "may act"
		case errors.Is(err, approval.ErrNotAuthorized):
			return "not an approver"
		case errors.Is(err, approval.ErrAlreadyApproved):
			return "approved already"
		case errors.Is(err, approval.ErrSelfApproval):
			return "requested it"
		case errors.Is(err, approval.ErrNotPending):
			return "decided"
		default:
			return err.Error()
		}
	}

	for _, p := range []approval.Principal{alice, dave, erin, mallory} {
		approve := engine.CanAct(ctx, item.ID, p, approval.ActionApprove)
		reject := engine.CanAct(ctx, item.ID, p, approval.ActionReject)
		fmt.Printf("%s: approve: %s; reject: %s\n",
			p.UserID, why(approve), why(reject))
	}

	// Output:
	// alice: approve: approved already; reject: may act
	// dave: approve: requested it; reject: may act
	// erin: approve: may act; reject: may act
	// mallory: approve: not an approver; reject: not an approver
}

// An approver's inbox holds the Pending work items they may approve
// now: not their own requests, nor those they approved already.
func ExampleEngine_Inbox() {
	ctx := context.Background()
	bob := approval.Principal{UserID: "bob", Groups: []string{"ra-officers"}}
	engine := exampleEngine(examplePrintAdvances)
	prof := exampleProfile(engine, 2)

	exampleItem(engine, prof.ID, "enr-1", "bob")
	done := exampleItem(engine, prof.ID, "enr-2", "dave")
	exampleItem(engine, prof.ID, "enr-3", "dave")

	if _, err := engine.Approve(ctx, done.ID, bob, ""); err != nil {
		log.Fatal(err)
	}

	page, err := engine.Inbox(ctx, bob, approval.PageRequest{})
	if err != nil {
		log.Fatal(err)
	}
	for _, w := range page.Items {
		fmt.Println(w.ID, w.ResourceID)
	}

	// Output:
	// id-000004 enr-3
}

// Listings page through work items oldest first, with an opaque
// cursor.
func ExampleEngine_ListWorkItems() {
	ctx := context.Background()
	engine := exampleEngine(examplePrintAdvances)
	prof := exampleProfile(engine, 1)

	for _, id := range []string{"enr-1", "enr-2", "enr-3"} {
		exampleItem(engine, prof.ID, id, "")
	}

	req := approval.PageRequest{Limit: 2}
	for {
		page, err := engine.ListWorkItems(ctx, approval.WorkItemFilter{
			Status:       approval.StatusPending,
			ResourceType: approval.EnrollmentRequest,
		}, req)
		if err != nil {
			log.Fatal(err)
		}

		for _, w := range page.Items {
			fmt.Println(w.ID, w.ResourceID, w.Status)
		}

		if page.Next == "" {
			break
		}
		fmt.Println("next page")
		req.Cursor = page.Next
	}

	// Output:
	// id-000002 enr-1 pending
	// id-000003 enr-2 pending
	// next page
	// id-000004 enr-3 pending
}

// A decision stands when the advancer fails; ResumeAdvances, called
// at start-up or once the cause is fixed, advances it again.
func ExampleEngine_ResumeAdvances() {
	ctx := context.Background()
	alice := approval.Principal{UserID: "alice"}
	down := true
	advancer := approval.AdvancerFunc(func(_ context.Context, w approval.WorkItem) error {
		if down {
			return errors.New("issuance service unavailable")
		}

		fmt.Printf("advance %s: %s\n", w.ResourceID, w.Status)

		return nil
	})

	engine := exampleEngine(advancer)
	prof := exampleProfile(engine, 1)
	item := exampleItem(engine, prof.ID, "enr-1", "")

	item, err := engine.Approve(ctx, item.ID, alice, "")
	fmt.Println(errors.Is(err, approval.ErrNotAdvanced), item.Status,
		item.Advance.State)

	down = false
	n, err := engine.ResumeAdvances(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("advanced", n)

	// Output:
	// true approved due
	// advance enr-1: approved
	// advanced 1
}

// A Router sends each decided work item to the advancer of its
// resource type.
func ExampleRouter() {
	ctx := context.Background()
	alice := approval.Principal{UserID: "alice"}
	erin := approval.Principal{UserID: "erin", Roles: []string{"ca-admin"}}
	router := approval.Router{
		approval.EnrollmentRequest: approval.AdvancerFunc(
			func(_ context.Context, w approval.WorkItem) error {
				fmt.Println("enrollment", w.ResourceID, "goes on:", w.Status)
				return nil
			}),
		approval.IssuanceRequest: approval.AdvancerFunc(
			func(_ context.Context, w approval.WorkItem) error {
				fmt.Println("issuance", w.ResourceID, "goes on:", w.Status)
				return nil
			}),
	}

	engine := exampleEngine(router)
	prof := exampleProfile(engine, 1)

	enr := exampleItem(engine, prof.ID, "enr-1", "")
	if _, err := engine.Approve(ctx, enr.ID, alice, ""); err != nil {
		log.Fatal(err)
	}

	iss, err := engine.CreateWorkItem(ctx, approval.WorkItemSpec{
		ProfileID:    prof.ID,
		ResourceType: approval.IssuanceRequest,
		ResourceID:   "iss-1",
	})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := engine.Reject(ctx, iss.ID, erin, "wrong key usage"); err != nil {
		log.Fatal(err)
	}

	// Output:
	// enrollment enr-1 goes on: approved
	// issuance iss-1 goes on: rejected
}
