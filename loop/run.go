package loop

import (
	"context"
	"fmt"
	"runtime"
)

// Run drives the loop until Stop or until ctx ends. A loop that blocks
// (WaitBlock, and every pinned loop) runs on a locked OS thread, pinned to
// Config.CPU unless that is NoPin; a parking loop (WaitPark, the default when
// unpinned) is an ordinary goroutine. A pinned Run never unlocks its thread: when
// the goroutine that called Run exits, Go ends the pinned thread instead of
// reusing it, so start Run in a goroutine of its own (go l.Run(ctx)). Run returns nil after
// Stop, ctx.Err() when ctx ended, ErrRunning if already running and ErrClosed after
// Close. Tasks submitted before Stop have run when Run returns. Safe from any
// goroutine (the one that calls it becomes the loop goroutine).
func (l *Loop) Run(ctx context.Context) error {
	if !l.runMu.TryLock() {
		return ErrRunning
	}
	defer l.runMu.Unlock()
	if l.closed {
		return ErrClosed
	}
	switch {
	case l.cfg.CPU >= 0:
		runtime.LockOSThread()
		if err := pinThread(l.cfg.CPU); err != nil {
			runtime.UnlockOSThread()
			return fmt.Errorf("loop %d: pin to CPU %d: %w", l.cfg.ID, l.cfg.CPU, err)
		}
		// No UnlockOSThread: see the doc comment.
	case l.cfg.Wait == WaitBlock:
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
	}
	l.owner.Store(goroutineID())
	defer l.owner.Store(0)
	l.running.Store(true)
	defer l.running.Store(false)
	stopOnCancel := context.AfterFunc(ctx, l.Stop)
	defer stopOnCancel()

	err := Iterate(l, &Vars{Timeout: -1, Count: -1, Before: l.stopHook})
	l.drainAtExit()
	if err == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// drainAtExit runs, as one last round would, the tasks Submit accepted before Stop
// and the round-end calls they (or the last round) asked for.
func (l *Loop) drainAtExit() {
	l.runTasks()
	l.runRoundEnd()
	l.runRoundEnd() // those queued by the first pass
	l.stats.publishBytes()
}

func (l *Loop) stopHook(*Vars) error {
	if l.stopping.Load() {
		return ErrStop
	}
	return nil
}

// Stop makes Run return after the current round and makes Submit return ErrClosed.
// Safe from any goroutine; calling it again does nothing.
func (l *Loop) Stop() {
	if l.stopping.Swap(true) {
		return
	}
	l.tasks.close(func() { l.p.Wake() })
}

// Close stops the loop, waits for Run to return, runs the tasks still queued, gives
// every target still registered to its Finalize (with ErrClosed) or closes its fd,
// and releases the poller. Safe from any goroutine except the loop goroutine inside
// a round; calling it again returns ErrClosed.
func (l *Loop) Close() error {
	l.Stop()
	l.runMu.Lock()
	defer l.runMu.Unlock()
	if l.closed {
		return ErrClosed
	}
	l.closed = true
	l.isClosed.Store(true)
	l.owner.Store(goroutineID()) // the closing goroutine now acts as the loop goroutine
	defer l.owner.Store(0)
	l.drainAtExit()
	for _, r := range l.fdIndex {
		if r == nil {
			continue
		}
		if f, ok := r.t.(Finalizer); ok {
			l.runGuarded(r.t, func() { f.Finalize(ErrClosed) })
		}
		if r.flags&registered != 0 {
			r.Release()
		}
	}
	for _, t := range l.timers {
		t.index = -1 // so a later Stop or Reset finds it not pending
	}
	l.timers = nil
	l.stats.timers.Store(0)
	var err error
	l.tasks.locked(func() { err = l.p.Close() })
	return err
}
