package storagetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/stretchr/testify/require"

	"github.com/otpki/workitems/approval"
)

// LinearizabilityConfig sizes a [Linearizability] run. Zero fields
// take the defaults stated on each.
type LinearizabilityConfig struct {
	// Items is how many work items the workload acts on. Defaults to 20.
	Items int

	// Workers is how many goroutines act at once, spread over the
	// engines. Defaults to 8.
	Workers int

	// OpsPerWorker is how many calls each worker makes. Defaults to 60.
	OpsPerWorker int
}

// LinearizabilityReport says what a [Linearizability] run checked.
type LinearizabilityReport struct {
	// Histories is how many work item histories were checked.
	Histories int

	// Operations is how many calls they hold.
	Operations int

	// Unknown is how many calls ended in an error that leaves their
	// outcome unknown, such as a dropped connection.
	Unknown int
}

// Linearizability runs a concurrent workload through engines that
// share one store, records every call with its start and end, and
// checks the history of each work item with porcupine against a
// sequential model of one work item: approvals by six users, one of
// whom is granted and revoked by profile edits as the workload runs,
// and rejections. A call that fails with anything but the domain's own
// refusals counts as of unknown outcome, so the workload may run while
// faults are injected. Each work item has a profile of its own, so
// that each history stands alone.
func Linearizability(t *testing.T, engines []*approval.Engine,
	cfg LinearizabilityConfig,
) LinearizabilityReport {
	t.Helper()

	cfg = cfg.withDefaults()
	ctx := t.Context()

	items := make([]linItem, cfg.Items)
	for i := range items {
		p, err := engines[0].CreateProfile(ctx, approval.Profile{
			Name:              fmt.Sprintf("Linearizable %d %d", i, rand.Uint64()),
			RequiredApprovals: linRequired,
			Approvers:         approval.Approvers{Users: linUsers[:linGranted]},
		})
		require.NoError(t, err)

		w, err := engines[0].CreateWorkItem(ctx, approval.WorkItemSpec{
			ProfileID:    p.ID,
			ResourceType: approval.IssuanceRequest,
			ResourceID:   fmt.Sprintf("lin-%d-%d", i, rand.Uint64()),
		})
		require.NoError(t, err)

		items[i] = linItem{profile: p.ID, item: w.ID}
	}

	start := time.Now()
	var (
		mu  sync.Mutex
		ops = make([][]porcupine.Operation, cfg.Items)
		wg  sync.WaitGroup
	)
	for worker := range cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()

			e := engines[worker%len(engines)]
			rng := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))

			for range cfg.OpsPerWorker {
				i := rng.IntN(cfg.Items)
				in := randomLinInput(rng)

				call := time.Since(start).Nanoseconds()
				out := runLinInput(t, e, items[i], in)
				ret := time.Since(start).Nanoseconds()

				mu.Lock()
				ops[i] = append(ops[i], porcupine.Operation{
					ClientId: worker, Input: in, Output: out, Call: call, Return: ret,
				})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()

	rep := LinearizabilityReport{Histories: cfg.Items}
	for i, history := range ops {
		rep.Operations += len(history)
		for _, op := range history {
			if op.Output.(linOutput).code == linUnknown {
				rep.Unknown++
			}
		}

		res, _ := porcupine.CheckOperationsVerbose(linModel.ToModel(), history, time.Minute)
		require.Equal(t, porcupine.Ok, res, "work item %s: history not linearizable", items[i].item)
	}

	return rep
}

func (c LinearizabilityConfig) withDefaults() LinearizabilityConfig {
	if c.Items <= 0 {
		c.Items = 20
	}

	if c.Workers <= 0 {
		c.Workers = 8
	}

	if c.OpsPerWorker <= 0 {
		c.OpsPerWorker = 60
	}

	return c
}

const (
	linRequired = 3
	// linGranted users are listed from the start; the last user of
	// linUsers is granted and revoked as the workload runs.
	linGranted = 5
)

var linUsers = []string{"l0", "l1", "l2", "l3", "l4", "l5"}

type linItem struct {
	profile, item string
}

type linKind int

const (
	linApprove linKind = iota
	linReject
	linGrant
	linRevoke
	linRead
)

type linInput struct {
	kind linKind
	user int
}

// linOutput is what a call returned, reduced to what the model
// predicts: an outcome, and for a read the state it saw.
type linOutput struct {
	code linCode
	seen linState
}

type linCode int

const (
	linOK linCode = iota
	linOKDecided
	linNotPending
	linAlreadyApproved
	linNotAuthorized
	linUnknown
)

func randomLinInput(rng *rand.Rand) linInput {
	switch n := rng.IntN(20); {
	case n < 13:
		return linInput{kind: linApprove, user: rng.IntN(len(linUsers))}
	case n < 14:
		return linInput{kind: linReject, user: rng.IntN(len(linUsers))}
	case n < 16:
		return linInput{kind: linRead}
	case n < 18:
		return linInput{kind: linGrant}
	default:
		return linInput{kind: linRevoke}
	}
}

func runLinInput(t *testing.T, e *approval.Engine, it linItem, in linInput) linOutput {
	t.Helper()

	ctx := t.Context()
	p := approval.Principal{UserID: linUsers[in.user]}

	var (
		w   approval.WorkItem
		err error
	)
	switch in.kind {
	case linApprove:
		w, err = e.Approve(ctx, it.item, p, "")
	case linReject:
		w, err = e.Reject(ctx, it.item, p, "")
	case linRead:
		return readLin(t, e, it)
	default:
		err = editLinProfile(t, e, it.profile, in.kind == linGrant)
	}

	var na *approval.NotAdvancedError
	switch {
	case errors.As(err, &na):
		w, err = na.Item, nil
	case errors.Is(err, approval.ErrNotPending):
		return linOutput{code: linNotPending}
	case errors.Is(err, approval.ErrAlreadyApproved):
		return linOutput{code: linAlreadyApproved}
	case errors.Is(err, approval.ErrNotAuthorized):
		return linOutput{code: linNotAuthorized}
	}

	switch {
	case err != nil:
		return linOutput{code: linUnknown}
	case w.Status.Decided():
		return linOutput{code: linOKDecided}
	}

	return linOutput{code: linOK}
}

// readLin reads the work item and its profile, reduced to the model's
// state. Profile and item are read one after the other, so a read
// counts as seeing the item only; the grant is left to the model.
func readLin(t *testing.T, e *approval.Engine, it linItem) linOutput {
	t.Helper()

	w, err := e.GetWorkItem(t.Context(), it.item)
	if err != nil {
		return linOutput{code: linUnknown}
	}

	seen := linState{status: w.Status}
	for _, a := range w.Approvals {
		for i, u := range linUsers {
			if a.UserID == u {
				seen.approvals |= 1 << i
			}
		}
	}

	return linOutput{code: linOK, seen: seen}
}

// editLinProfile lists or unlists the last user, whatever the current
// version.
func editLinProfile(t *testing.T, e *approval.Engine, id string, grant bool) error {
	t.Helper()

	p, err := e.GetProfile(t.Context(), id)
	if err != nil {
		return err
	}

	p.Approvers.Users = linUsers[:linGranted]
	if grant {
		p.Approvers.Users = linUsers
	}
	p.Version = 0

	_, err = e.UpdateProfile(t.Context(), p)

	return err
}

// linState is the model of one work item and its profile.
type linState struct {
	status    approval.Status
	approvals uint8 // bit i: linUsers[i] approved
	granted   bool  // the last user is listed
}

var linModel = porcupine.NondeterministicModel{
	Init: func() []any {
		return []any{linState{status: approval.StatusPending}}
	},
	Step: func(state, input, output any) []any {
		s, in, out := state.(linState), input.(linInput), output.(linOutput)

		next, want := linStep(s, in)
		switch {
		case out.code == linUnknown:
			// The call may or may not have taken effect.
			return []any{s, next}
		case in.kind == linRead:
			// A read sees the item, not the grant.
			if out.seen.status == s.status && out.seen.approvals == s.approvals {
				return []any{s}
			}

			return nil
		case out.code == want:
			return []any{next}
		}

		return nil
	},
}

// linStep applies in to s as the rules say, and returns the new state
// and the outcome the caller must see.
func linStep(s linState, in linInput) (linState, linCode) {
	switch in.kind {
	case linGrant:
		s.granted = true
		return s, linOK
	case linRevoke:
		s.granted = false
		return s, linOK
	case linRead:
		return s, linOK
	}

	listed := in.user < linGranted || s.granted
	bit := uint8(1) << in.user

	switch {
	case s.status != approval.StatusPending:
		return s, linNotPending
	case !listed:
		return s, linNotAuthorized
	case in.kind == linReject:
		s.status = approval.StatusRejected
		return s, linOKDecided
	case s.approvals&bit != 0:
		return s, linAlreadyApproved
	}

	s.approvals |= bit
	if popcount(s.approvals) == linRequired {
		s.status = approval.StatusApproved
		return s, linOKDecided
	}

	return s, linOK
}

func popcount(b uint8) int {
	n := 0
	for ; b != 0; b &= b - 1 {
		n++
	}

	return n
}
