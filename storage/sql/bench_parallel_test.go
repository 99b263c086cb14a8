package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/otpki/workitems/approval"
)

// BenchmarkParallelApprove approves distinct fresh work items from 1,
// 8 and 64 goroutines at once, each approval below the threshold, on
// a pool of as many connections. An operation is one approval; it
// reports their throughput ("ops/s") and the median and 99th
// percentile of their latency.
func BenchmarkParallelApprove(b *testing.B) {
	forEachDB(b, func(b *testing.B, d benchDB) {
		b.Helper()

		for _, g := range []int{1, 8, 64} {
			b.Run(fmt.Sprintf("goroutines=%d", g), func(b *testing.B) {
				compareVariants(b, d, g, plain, func(_ *testing.B, s subject) func(*testing.B) {
					p := &itemPool{s: s, required: 3, before: 1}

					return func(b *testing.B) {
						b.Helper()

						runParallel(b, g, false, p, func(ctx context.Context, id string, _ int) error {
							return s.approve(ctx, id, 1)
						})
					}
				})
			})
		}
	})
}

// BenchmarkContention has 16 goroutines approve the same work items at
// once, each as a user of its own: every item takes 16 approvals, and
// the last one decides it. An operation is one item, so 16 approvals;
// it reports the throughput of approvals ("ops/s") and the 99th
// percentile of their latency. Any error but the domain's own fails
// it.
func BenchmarkContention(b *testing.B) {
	const g = 16

	forEachDB(b, func(b *testing.B, d benchDB) {
		b.Helper()

		b.Run(fmt.Sprintf("goroutines=%d", g), func(b *testing.B) {
			compareVariants(b, d, g, plain, func(_ *testing.B, s subject) func(*testing.B) {
				p := &itemPool{s: s, required: g}

				return func(b *testing.B) {
					b.Helper()

					runParallel(b, g, true, p, func(ctx context.Context, id string, w int) error {
						err := s.approve(ctx, id, w)
						if errors.Is(err, approval.ErrNotPending) ||
							errors.Is(err, approval.ErrAlreadyApproved) {
							return nil
						}

						return err
					})
				}
			})
		})
	})
}

// runParallel feeds the items of p to g goroutines that run op. Each
// item goes to one goroutine, or to all of them with all set. Before
// the pool loads more items, the goroutines finish what they hold, so
// that loading is neither timed nor counted.
func runParallel(b *testing.B, g int, all bool, p *itemPool,
	op func(ctx context.Context, id string, worker int) error,
) {
	b.Helper()

	ctx := b.Context()

	var (
		running, inflight sync.WaitGroup
		mu                sync.Mutex
		failure           error
	)

	lat := make([][]time.Duration, g)
	queues := make([]chan string, g)
	shared := make(chan string)
	for w := range g {
		queues[w] = shared
		if all {
			queues[w] = make(chan string, 4)
		}

		running.Add(1)
		go func() {
			defer running.Done()

			for id := range queues[w] {
				start := time.Now()
				err := op(ctx, id, w)
				lat[w] = append(lat[w], time.Since(start))

				if err != nil {
					mu.Lock()
					failure = errors.Join(failure, err)
					mu.Unlock()
				}
				inflight.Done()
			}
		}()
	}

	var active time.Duration
	started := time.Now()

	b.ReportAllocs()
	for b.Loop() {
		if len(p.ids) == 0 {
			inflight.Wait()
			active += time.Since(started)
			p.refill(b)
			started = time.Now()
		}

		id := p.next(b)
		if !all {
			inflight.Add(1)
			shared <- id
			continue
		}

		inflight.Add(g)
		for _, q := range queues {
			q <- id
		}
	}

	// The loop stopped the timer with the last items still in
	// flight; they count too.
	b.StartTimer()
	inflight.Wait()
	b.StopTimer()
	active += time.Since(started)

	if all {
		for _, q := range queues {
			close(q)
		}
	} else {
		close(shared)
	}
	running.Wait()

	if failure != nil {
		b.Fatal(failure)
	}

	reportLatency(b, active, slices.Concat(lat...))
}

// reportLatency reports the throughput of ops done in active time and
// the median and 99th percentile of their latencies.
func reportLatency(b *testing.B, active time.Duration, lat []time.Duration) {
	b.Helper()

	if len(lat) == 0 || active <= 0 {
		return
	}
	slices.Sort(lat)

	at := func(q float64) float64 {
		return float64(lat[int(q*float64(len(lat)-1))].Nanoseconds())
	}

	b.ReportMetric(float64(len(lat))/active.Seconds(), "ops/s")
	b.ReportMetric(at(0.50), "p50-ns")
	b.ReportMetric(at(0.99), "p99-ns")
}
