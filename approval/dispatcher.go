package approval

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"go.uber.org/zap"
)

// AdvanceDue advances every decided work item whose advance is due now
// and not leased to a running engine, respecting the backoff after
// failures: one pass of a [Dispatcher]. Each item is tried at most once
// per call. Advancer failures are recorded on the item and logged;
// the error is for the store alone. It returns how many items were
// advanced.
func (e *Engine) AdvanceDue(ctx context.Context) (int, error) {
	return e.advanceDue(ctx, e.now())
}

// DispatcherConfig tunes a [Dispatcher]. The zero value, or a nil
// *DispatcherConfig, gives the defaults stated on each field.
type DispatcherConfig struct {
	// Interval is the pause between passes. Each pause is jittered by
	// up to a fifth, so instances sharing a database drift apart.
	// Defaults to five seconds.
	Interval time.Duration
}

// Dispatcher advances decided work items in the background: the safety
// net behind the advance each decision makes at once. It picks up
// items whose advance failed, once their backoff is over, and items
// whose engine crashed before advancing them, once their lease runs
// out. Several instances, each with its own dispatcher, may share one
// database: leases keep any item with one of them at a time.
//
// Together with the durable mark each decision writes, it makes the
// promise of the library hold: a decision is recorded exactly once;
// the advancer is called at least once for it, and never for a
// decision that did not commit.
type Dispatcher struct {
	engine   *Engine
	interval time.Duration

	mu      sync.Mutex
	stop    context.CancelFunc
	stopped chan struct{}
}

// NewDispatcher returns a dispatcher for e; cfg may be nil. Start it
// with [Dispatcher.Start].
func NewDispatcher(e *Engine, cfg *DispatcherConfig) *Dispatcher {
	if cfg == nil {
		cfg = &DispatcherConfig{}
	}

	d := &Dispatcher{engine: e, interval: cfg.Interval}
	if d.interval <= 0 {
		d.interval = 5 * time.Second
	}

	return d
}

// ErrDispatcherRunning means Start was called on a running dispatcher.
var ErrDispatcherRunning = errors.New("dispatcher already running")

// Start runs passes in a goroutine of its own until ctx ends or Stop
// is called. It returns ErrDispatcherRunning if it runs already.
func (d *Dispatcher) Start(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()

	if d.stop != nil {
		return ErrDispatcherRunning
	}

	ctx, d.stop = context.WithCancel(ctx)
	d.stopped = make(chan struct{})

	go d.run(ctx, d.stopped)

	return nil
}

// Stop ends the dispatcher and waits for its goroutine to return,
// which cancels the advancer call in flight, if any. It returns
// ctx.Err() if ctx ends first; the goroutine still returns soon after.
// Stopping a dispatcher that is not running does nothing. A stopped
// dispatcher may be started again.
func (d *Dispatcher) Stop(ctx context.Context) error {
	d.mu.Lock()
	stop, stopped := d.stop, d.stopped
	d.stop, d.stopped = nil, nil
	d.mu.Unlock()

	if stop == nil {
		return nil
	}
	stop()

	select {
	case <-stopped:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (d *Dispatcher) run(ctx context.Context, stopped chan struct{}) {
	defer close(stopped)

	log := d.engine.log.With(zap.String("instance_id", d.engine.instance))
	timer := time.NewTimer(0)
	defer timer.Stop()

	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}

		n, err := d.engine.AdvanceDue(ctx)
		if err != nil && ctx.Err() == nil {
			log.Error("advance pass", zap.Error(err))
		}

		if n > 0 {
			log.Debug("advanced work items", zap.Int("count", n))
		}

		timer.Reset(jitter(d.interval))
	}
}

// jitter returns d plus up to a fifth of d at random.
func jitter(d time.Duration) time.Duration {
	return d + rand.N(d/5+1)
}
