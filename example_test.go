package workitems_test

import (
	"context"
	"fmt"
	"log"

	"github.com/otpki/workitems/approval"
	"github.com/otpki/workitems/storage/memdb"
)

// A two-approver profile gates an enrollment request, which two
// approvals decide and the advancer moves on; then one rejection
// decides an issuance request.
func Example() {
	ctx := context.Background()

	// The host's code that moves a gated request on once decided. It
	// must be idempotent: the work item ID is its key.
	advancer := approval.AdvancerFunc(func(_ context.Context, w approval.WorkItem) error {
		fmt.Printf("advance %s %s: %s\n", w.ResourceType, w.ResourceID, w.Status)
		return nil
	})

	engine, err := approval.NewEngine(memdb.New(), advancer, nil)
	if err != nil {
		log.Fatal(err)
	}

	prof, err := engine.CreateProfile(ctx, approval.Profile{
		Name:              "Certificate approvers",
		RequiredApprovals: 2,
		Approvers: approval.Approvers{
			Users:  []string{"alice"},
			Groups: []string{"ra-officers"},
		},
	})
	if err != nil {
		log.Fatal(err)
	}

	item, err := engine.CreateWorkItem(ctx, approval.WorkItemSpec{
		ProfileID:    prof.ID,
		ResourceType: approval.EnrollmentRequest,
		ResourceID:   "enr-1",
		Description:  "enrollment of end entity jdoe",
	})
	if err != nil {
		log.Fatal(err)
	}

	alice := approval.Principal{UserID: "alice"}
	bob := approval.Principal{UserID: "bob", Groups: []string{"ra-officers"}}
	for _, p := range []approval.Principal{alice, bob} {
		item, err = engine.Approve(ctx, item.ID, p, "")
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s approved: %s, %d of %d\n", p.UserID, item.Status,
			len(item.Approvals), item.RequiredApprovals)
	}

	item, err = engine.CreateWorkItem(ctx, approval.WorkItemSpec{
		ProfileID:    prof.ID,
		ResourceType: approval.IssuanceRequest,
		ResourceID:   "iss-1",
	})
	if err != nil {
		log.Fatal(err)
	}

	item, err = engine.Reject(ctx, item.ID, bob, "subject does not match")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("bob rejected: %s: %s\n", item.Status, item.Rejection.Reason)

	// Output:
	// alice approved: pending, 1 of 2
	// advance Enrollment Request enr-1: approved
	// bob approved: approved, 2 of 2
	// advance Issuance Request iss-1: rejected
	// bob rejected: rejected: subject does not match
}
