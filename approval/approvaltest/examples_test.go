package approvaltest_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/otpki/workitems/approval"
	"github.com/otpki/workitems/approval/approvaltest"
	"github.com/otpki/workitems/storage/memdb"
)

func ExampleFakeClock() {
	start := time.Date(2025, time.March, 3, 8, 0, 0, 0, time.UTC)
	clock := approvaltest.NewFakeClock(start)

	fmt.Println(clock.Now().Format(time.Kitchen))
	fmt.Println(clock.Advance(90 * time.Minute).Format(time.Kitchen))

	clock.Set(start)
	fmt.Println(clock.Now().Format(time.Kitchen))

	// Output:
	// 8:00AM
	// 9:30AM
	// 8:00AM
}

// The fakes work without a harness too: here a recording advancer in
// front of one whose first call fails, on an engine built by hand.
func ExampleRecordingAdvancer() {
	ctx := context.Background()
	unavailable := errors.New("registration authority unavailable")
	rec := approvaltest.NewRecordingAdvancer(
		approvaltest.FailFirst(1, unavailable))

	engine, err := approval.NewEngine(memdb.New(), rec, nil)
	if err != nil {
		panic(err)
	}

	prof, err := engine.CreateProfile(ctx, approval.Profile{
		Name:              "Enrollment approvers",
		RequiredApprovals: 1,
		Approvers:         approval.Approvers{Users: []string{"alice"}},
	})
	if err != nil {
		panic(err)
	}

	item, err := engine.CreateWorkItem(ctx, approval.WorkItemSpec{
		ProfileID:    prof.ID,
		ResourceType: approval.EnrollmentRequest,
		ResourceID:   "enr-1",
	})
	if err != nil {
		panic(err)
	}

	alice := approval.Principal{UserID: "alice"}
	_, err = engine.Approve(ctx, item.ID, alice, "")
	fmt.Println(errors.Is(err, approval.ErrNotAdvanced))

	if _, err := engine.ResumeAdvances(ctx); err != nil {
		panic(err)
	}

	for _, c := range rec.CallsFor(item.ID) {
		fmt.Println(c.Item.Status, c.Err)
	}

	// Output:
	// true
	// approved registration authority unavailable
	// approved <nil>
}
