package sqlstore_test

import (
	"fmt"
	"os"
	"testing"
)

// The benchmarks run each operation on every database twice in one
// process: "library", through the public approval API on the store,
// and "bare", the least work the same database needs for the same
// effect with the same durability (see bare). Decisions also run
// "bare-marked", the floor of an advance recorded after the decision
// commits, and approvals by an engine that remembers nothing run
// "bare-read", the floor of an approval that reads the item first.
// Compare them within one run, never across runs.
//
// Each reports "roundtrips/op": the statements, prepares and
// transaction begins and ends sent per operation, each one network
// round trip on a server and one call into the library on SQLite.
// Set WORKITEMS_BENCH_LARGE=1 to add the one-million-item listings.

// benchVariant is one side of a comparison.
type benchVariant struct {
	name   string
	lib    bool
	inTx   bool
	marked bool
	read   bool

	// forget turns the engine's memory off.
	forget bool
}

// sides says which variants a comparison runs.
type sides int

const (
	// plain runs the library and the baseline.
	plain sides = iota

	// decision also runs the baseline that records advances in a
	// write of their own.
	decision

	// txAdvanced runs the library with a store that advances each
	// decision in its transaction, and the baseline.
	txAdvanced

	// unremembered runs the library with an engine that remembers
	// nothing, the baseline, and the baseline that reads each item
	// before it approves it.
	unremembered
)

// open returns the variant's subject on a new pool of d with at most
// conns connections.
func (v benchVariant) open(b *testing.B, d benchDB, conns int) subject {
	b.Helper()

	if v.lib {
		return newLib(b, d, conns, v.inTx, v.forget)
	}

	return newBare(b, d, conns, v)
}

// compareVariants runs one sub-benchmark per variant of which on d,
// one after the other, each on a subject of its own that is closed
// before the next one starts. prepare sets the subject up once for
// every count of the sub-benchmark and returns its body.
func compareVariants(b *testing.B, d benchDB, conns int, which sides,
	prepare func(b *testing.B, s subject) func(b *testing.B),
) {
	b.Helper()

	vs := []benchVariant{
		{
			name: "library", lib: true,
			inTx: which == txAdvanced, forget: which == unremembered,
		},
		{name: "bare"},
	}
	switch which {
	case decision:
		vs = append(vs, benchVariant{name: "bare-marked", marked: true})
	case unremembered:
		vs = append(vs, benchVariant{name: "bare-read", read: true})
	}

	for _, v := range vs {
		s := v.open(b, d, conns)
		run := prepare(b, s)

		b.Run(v.name, func(b *testing.B) {
			start := s.trips().count()
			run(b)
			reportTrips(b, s.trips().count()-start)
		})

		s.close()
	}
}

// reportTrips reports the round trips the benchmark counted per
// operation.
func reportTrips(b *testing.B, trips int64) {
	b.Helper()

	if b.N > 0 {
		b.ReportMetric(float64(trips)/float64(b.N), "roundtrips/op")
	}
}

// itemPool hands out fresh work items, loading more with the timer
// and the round-trip counter stopped.
type itemPool struct {
	s                subject
	required, before int
	batch            int
	ids              []string

	// seen shows each batch to the subject once it is loaded.
	seen bool
}

func (p *itemPool) next(b *testing.B) string {
	b.Helper()

	if len(p.ids) == 0 {
		p.refill(b)
	}

	id := p.ids[0]
	p.ids = p.ids[1:]

	return id
}

// refill loads the next batch, twice as large as the last up to a
// bound, so that short runs load little and long ones seldom stop.
func (p *itemPool) refill(b *testing.B) {
	b.Helper()

	p.batch = min(max(2*p.batch, 64), 2048)
	pauseSetup(b, p.s.trips(), func() {
		ids := p.s.fresh(b, p.batch, p.required, p.before)
		if p.seen {
			p.s.see(b, ids)
		}
		p.ids = append(p.ids, ids...)
	})
}

func BenchmarkCreate(b *testing.B) {
	forEachDB(b, func(b *testing.B, d benchDB) {
		b.Helper()

		compareVariants(b, d, 4, plain, func(_ *testing.B, s subject) func(*testing.B) {
			return func(b *testing.B) {
				b.Helper()

				b.ReportAllocs()
				for b.Loop() {
					if err := s.create(b.Context()); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	})
}

// benchApprove approves fresh items that require 3 approvals after
// before of them. With seen, the subject has seen each item before, as
// an approver's inbox shows it; without, the items are new to it.
func benchApprove(b *testing.B, d benchDB, which sides, before int, seen bool) {
	b.Helper()

	compareVariants(b, d, 4, which, func(_ *testing.B, s subject) func(*testing.B) {
		p := &itemPool{s: s, required: 3, before: before, seen: seen}

		return func(b *testing.B) {
			b.Helper()

			b.ReportAllocs()
			for b.Loop() {
				if err := s.approve(b.Context(), p.next(b), before); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

func BenchmarkApprove(b *testing.B) {
	forEachDB(b, func(b *testing.B, d benchDB) {
		b.Helper()

		// Items the engine has not seen, of a profile it knows.
		b.Run("BelowThreshold", func(b *testing.B) {
			benchApprove(b, d, plain, 1, false)

			// The same by an engine that remembers nothing, and so
			// reads each item first.
			b.Run("Unremembered", func(b *testing.B) {
				benchApprove(b, d, unremembered, 1, false)
			})

			// The same on a store that advances decisions in their
			// transaction.
			b.Run("TxAdvancer", func(b *testing.B) {
				benchApprove(b, d, txAdvanced, 1, false)
			})
		})

		b.Run("ReachingThreshold", func(b *testing.B) {
			benchApprove(b, d, decision, 2, false)

			// The same with a store that advances in the decision's
			// transaction, so that one write records both.
			b.Run("TxAdvancer", func(b *testing.B) {
				benchApprove(b, d, txAdvanced, 2, false)
			})
		})

		// The usual course: the approver saw the item in an inbox or
		// a get on the same engine first.
		b.Run("SeenBelowThreshold", func(b *testing.B) {
			benchApprove(b, d, plain, 1, true)

			// An approval that leaves the item Pending, on a store
			// that advances decisions in their transaction.
			b.Run("TxAdvancer", func(b *testing.B) {
				benchApprove(b, d, txAdvanced, 1, true)
			})
		})

		b.Run("SeenReachingThreshold", func(b *testing.B) {
			benchApprove(b, d, decision, 2, true)
		})
	})
}

func benchReject(b *testing.B, d benchDB, which sides) {
	b.Helper()

	compareVariants(b, d, 4, which, func(_ *testing.B, s subject) func(*testing.B) {
		p := &itemPool{s: s, required: 3}

		return func(b *testing.B) {
			b.Helper()

			b.ReportAllocs()
			for b.Loop() {
				if err := s.reject(b.Context(), p.next(b), 0); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

func BenchmarkReject(b *testing.B) {
	forEachDB(b, func(b *testing.B, d benchDB) {
		b.Helper()

		benchReject(b, d, decision)
		b.Run("TxAdvancer", func(b *testing.B) { benchReject(b, d, txAdvanced) })
	})
}

func BenchmarkGet(b *testing.B) {
	forEachDB(b, func(b *testing.B, d benchDB) {
		b.Helper()

		compareVariants(b, d, 4, plain, func(b *testing.B, s subject) func(*testing.B) {
			b.Helper()

			ids := s.fresh(b, 1000, 3, 1)

			return func(b *testing.B) {
				b.Helper()

				b.ReportAllocs()
				i := 0
				for b.Loop() {
					i++
					if err := s.get(b.Context(), ids[i%len(ids)]); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	})
}

func listSizes() []int {
	sizes := []int{10_000, 100_000}
	if os.Getenv("WORKITEMS_BENCH_LARGE") != "" {
		sizes = append(sizes, 1_000_000)
	}

	return sizes
}

// benchList runs list on stores of each size whose newest tenth is
// Pending, and checks that it returns a full page of 50.
func benchList(b *testing.B, list func(s subject) func(*testing.B) error) {
	b.Helper()

	forEachDB(b, func(b *testing.B, d benchDB) {
		b.Helper()

		for _, size := range listSizes() {
			b.Run(fmt.Sprintf("items=%d", size), func(b *testing.B) {
				compareVariants(b, d, 4, plain, func(b *testing.B, s subject) func(*testing.B) {
					b.Helper()

					s.fill(b, size)
					run := list(s)

					return func(b *testing.B) {
						b.Helper()

						b.ReportAllocs()
						for b.Loop() {
							if err := run(b); err != nil {
								b.Fatal(err)
							}
						}
					}
				})
			})
		}
	})
}

// fullPage turns a listing's length and error into an error unless it
// is a full page of 50.
func fullPage(n int, err error) error {
	switch {
	case err != nil:
		return err
	case n != 50:
		return fmt.Errorf("%w: %d items", errNotFull, n)
	}

	return nil
}

// BenchmarkListPending lists the first page of 50 Pending items.
func BenchmarkListPending(b *testing.B) {
	benchList(b, func(s subject) func(*testing.B) error {
		return func(b *testing.B) error {
			b.Helper()

			return fullPage(s.listPending(b.Context()))
		}
	})
}

// BenchmarkInbox lists the first page of an approver's inbox: the
// Pending items of the two profiles of four that list the approver.
func BenchmarkInbox(b *testing.B) {
	benchList(b, func(s subject) func(*testing.B) error {
		return func(b *testing.B) error {
			b.Helper()

			return fullPage(s.inbox(b.Context()))
		}
	})
}
