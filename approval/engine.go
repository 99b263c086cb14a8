package approval

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"
)

// Clock tells the engine the time. Tests inject a fake one.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
}

// Config tunes an [Engine]. The zero value, or a nil *Config, gives the
// defaults stated on each field.
type Config struct {
	// Logger receives what the engine cannot return to a caller, such
	// as advance failures met during [Engine.ResumeAdvances]. Defaults
	// to a no-op logger.
	Logger *zap.Logger

	// Clock defaults to the system clock.
	Clock Clock

	// NewID generates profile and work item IDs. Work item IDs must
	// sort by creation time. Defaults to UUIDv7 strings.
	NewID func() string

	// InstanceID names this engine in advance leases, so instances
	// sharing a database never advance the same item at once. Defaults
	// to a random ID.
	InstanceID string

	// MaxAttempts bounds how often one call reads and writes again
	// after a concurrent change. Every such retry follows a change that
	// some other call committed, and a work item takes at most its
	// required approvals plus one, so the bound is reached only under
	// a stream of profile edits. Defaults to 2*MaxRequiredApprovals.
	MaxAttempts int

	// AdvanceLease is how long an instance holds the right to advance a
	// decided item before another may take it over. Make it longer
	// than the advancer ever takes. Defaults to one minute.
	AdvanceLease time.Duration

	// AdvancePolicy says how failed advances are retried. Defaults to
	// 10 attempts, backing off from one second to five minutes.
	AdvancePolicy AdvancePolicy

	// Remember is how many Pending work items, and how many profiles,
	// the engine remembers from its reads and writes. An approval or a
	// rejection then needs no read before the store's write, which
	// checks the profile's version itself: of a remembered item, and
	// of any item bound to a remembered profile that lists the
	// approver. So does a work item created for a remembered profile.
	// A profile that changed since costs one more read, never a wrong
	// decision. Defaults to 10,000; a negative value turns remembering
	// off.
	Remember int
}

// Engine is the approval engine callers use: it creates profiles and
// work items, records approvals and rejections, and advances decided
// work items through the host's [ResourceAdvancer]. It is safe for
// concurrent use; several engines may share one store.
type Engine struct {
	store    Store
	advancer ResourceAdvancer
	log      *zap.Logger
	clock    Clock
	newID    func() string
	instance string
	attempts int
	lease    time.Duration
	policy   AdvancePolicy
	memory   *memory
}

// NewEngine returns an engine over store that advances decided work
// items through advancer. Both are required; cfg may be nil.
func NewEngine(store Store, advancer ResourceAdvancer, cfg *Config) (*Engine, error) {
	if store == nil {
		return nil, invalid("store", "must not be nil")
	}

	if advancer == nil {
		return nil, invalid("advancer", "must not be nil")
	}

	if cfg == nil {
		cfg = &Config{}
	}

	e := &Engine{
		store:    store,
		advancer: advancer,
		log:      cfg.Logger,
		clock:    cfg.Clock,
		newID:    cfg.NewID,
		instance: cfg.InstanceID,
		attempts: cfg.MaxAttempts,
		lease:    cfg.AdvanceLease,
		policy:   cfg.AdvancePolicy,
	}
	e.setDefaults()

	remember := cfg.Remember
	if remember == 0 {
		remember = defaultRemember
	}
	e.memory = newMemory(remember)

	if err := checkID("config.instance_id", e.instance); err != nil {
		return nil, err
	}

	return e, nil
}

// defaultRemember is how many work items and profiles an engine
// remembers unless told otherwise: about half a kilobyte per work item
// with short texts, a few megabytes in all.
const defaultRemember = 10_000

func (e *Engine) setDefaults() {
	if e.log == nil {
		e.log = zap.NewNop()
	}
	e.log = e.log.Named("approval")

	if e.clock == nil {
		e.clock = systemClock{}
	}

	if e.newID == nil {
		e.newID = newUUIDv7
	}

	if e.instance == "" {
		e.instance = newUUIDv7()
	}

	if e.attempts <= 0 {
		e.attempts = 2 * MaxRequiredApprovals
	}

	if e.lease <= 0 {
		e.lease = time.Minute
	}

	if e.policy.MaxAttempts <= 0 {
		e.policy.MaxAttempts = 10
	}

	if e.policy.Backoff <= 0 {
		e.policy.Backoff = time.Second
	}

	if e.policy.MaxBackoff < e.policy.Backoff {
		e.policy.MaxBackoff = max(5*time.Minute, e.policy.Backoff)
	}
}

// advancesInTx reports whether the store advances decisions inside
// the write that records them.
func (e *Engine) advancesInTx() bool {
	s, ok := e.store.(TxAdvancingStore)
	return ok && s.AdvancesInTx()
}

// InstanceID returns the name this engine holds advance leases under.
func (e *Engine) InstanceID() string {
	return e.instance
}

// now returns the current time as every backend stores it: UTC,
// truncated to the microsecond.
func (e *Engine) now() time.Time {
	return e.clock.Now().UTC().Truncate(time.Microsecond)
}

// retry runs step until it returns something other than ErrConflict,
// at most e.attempts times. Each conflict means another write to the
// same record committed in between, so the next read sees progress.
func (e *Engine) retry(ctx context.Context, step func() error) error {
	var err error
	for range e.attempts {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}

		err = step()

		var stale *staleError
		if !errors.Is(err, ErrConflict) || errors.As(err, &stale) {
			return err
		}
	}

	return fmt.Errorf("gave up after %d attempts: %w", e.attempts, err)
}

// staleError is the ErrConflict of a caller whose own stated version is
// stale: reading again cannot help, so the engine does not retry it.
type staleError struct {
	have, want int64
}

func (e *staleError) Error() string {
	return fmt.Sprintf("%v: record is at version %d, not %d",
		ErrConflict, e.have, e.want)
}

func (e *staleError) Is(target error) bool {
	return target == ErrConflict
}

type systemClock struct{}

func (systemClock) Now() time.Time {
	return time.Now()
}

func newUUIDv7() string {
	// NewV7 fails only when the system's random source does, which
	// crypto/rand treats as fatal anyway.
	return uuid.Must(uuid.NewV7()).String()
}
