package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// writeGate lets the writers of one SQLite store try for the
// database's write lock one at a time. SQLite itself lets one writer
// in and leaves the others to poll, and so does lockWait: a writer
// that just missed the lock sleeps for up to 50 ms while the lock may
// have been free for most of it. Behind the gate, each writer goes as
// soon as the one before it is done.
// Writers of other stores and other processes still meet at SQLite's
// lock, where lockWait waits for them.
//
// A writer waits at the gate for no longer than the busy timeout and
// then goes on to the lock all the same. So a write begun inside
// another one of the same store, as a TxAdvancer might, fails on the
// busy lock as it would without the gate instead of waiting for its
// context.
type writeGate struct {
	turn chan struct{}
}

func newWriteGate() *writeGate {
	return &writeGate{turn: make(chan struct{}, 1)}
}

// enter waits for the gate's turn, for timeout milliseconds at most,
// and returns the function that hands the turn on. When the timeout
// passes first, it returns a function that does nothing. It returns
// ctx's error when ctx ends first.
func (g *writeGate) enter(ctx context.Context, timeout int64) (func(), error) {
	select {
	case g.turn <- struct{}{}:
		return g.leave, nil
	default:
	}

	if timeout == 0 {
		return func() {}, nil
	}

	t := time.NewTimer(time.Duration(timeout) * time.Millisecond)
	defer t.Stop()

	select {
	case g.turn <- struct{}{}:
		return g.leave, nil
	case <-t.C:
		return func() {}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (g *writeGate) leave() {
	<-g.turn
}

// enterWrite waits at the gate of a SQLite store before a write on
// conn, for as long as conn's busy timeout at most, and returns the
// function that ends the write's turn. On the other dialects it has
// nothing to wait for.
func (s *Store) enterWrite(ctx context.Context, conn *sql.Conn) (func(), error) {
	if s.gate == nil {
		return func() {}, nil
	}

	timeout, err := s.busyTimeoutOf(ctx, conn)
	if err != nil {
		return nil, err
	}

	leave, err := s.gate.enter(ctx, timeout)
	if err != nil {
		return nil, fmt.Errorf("wait for the write lock: %w", err)
	}

	return leave, nil
}
