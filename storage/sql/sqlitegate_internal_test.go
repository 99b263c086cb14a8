package sqlstore

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWriteGate(t *testing.T) {
	t.Parallel()

	t.Run("OneWriterAtATime", func(t *testing.T) {
		t.Parallel()
		g := newWriteGate()

		var (
			inside, most atomic.Int32
			wg           sync.WaitGroup
		)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()

				for range 200 {
					leave, err := g.enter(t.Context(), 60_000)
					if err != nil {
						t.Error(err)
						return
					}

					n := inside.Add(1)
					for m := most.Load(); n > m && !most.CompareAndSwap(m, n); {
						m = most.Load()
					}
					inside.Add(-1)
					leave()
				}
			}()
		}
		wg.Wait()

		require.Equal(t, int32(1), most.Load())
		require.Empty(t, g.turn, "every turn was handed on")
	})

	t.Run("WaitEndsWithContext", func(t *testing.T) {
		t.Parallel()
		g := newWriteGate()

		leave, err := g.enter(t.Context(), 60_000)
		require.NoError(t, err)

		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err = g.enter(ctx, 60_000)
		require.ErrorIs(t, err, context.Canceled)

		leave()
		require.Empty(t, g.turn)
	})

	t.Run("TimeoutLetsTheWriterOn", func(t *testing.T) {
		t.Parallel()
		g := newWriteGate()

		leave, err := g.enter(t.Context(), 60_000)
		require.NoError(t, err)

		// Past the timeout, or with none, the writer goes on to
		// SQLite's lock without the turn, and leaving takes nothing
		// from the writer that holds it.
		for _, timeout := range []int64{1, 0} {
			other, err := g.enter(t.Context(), timeout)
			require.NoError(t, err)
			other()
			require.Len(t, g.turn, 1, "timeout %d", timeout)
		}

		leave()
		require.Empty(t, g.turn)
	})
}
