package batch

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/saxsdog/saxs/internal/cli"
)

// This file holds the tracker of watch mode: the set of frames that may
// have changed, keyed by path, and the rules that decide when a frame is
// complete, when it is retried and when it is given up (see Watch).
//
// A tracked frame is in one of four states:
//
//	waiting  its next check is due at a time (heap); events only set a flag
//	ready    stable: queued for the feeder, which hands it to the workers
//	busy     a worker has it (handed over by the feeder or by the walk)
//	done     converted, skipped or given up at a known stamp; the entry is
//	         kept for a while so that late events of an unchanged file do
//	         not convert it again
//
// The workers read the frame: a read failure (truncated, not a TIFF, wrong
// size) gives the frame back to the tracker, which retries it with back-off
// until Timeout has passed since the file last changed.

// stamp identifies a version of a file: its size and modification time.
type stamp struct {
	size  int64
	mtime int64 // UnixNano
}

func stampOf(fi fs.FileInfo) stamp {
	return stamp{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
}

// statFrame returns the stamp of the file at path (following symbolic
// links). A path that is named like a frame but is not one (a FIFO, a
// folder, a symbolic link that cannot be followed) reports a
// *notFrameError; a path that does not exist, fs.ErrNotExist.
func statFrame(path string) (stamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		if lfi, lerr := os.Lstat(path); lerr == nil && lfi.Mode()&fs.ModeSymlink != 0 {
			return stamp{}, &notFrameError{path: path, err: fmt.Errorf("symbolic link cannot be followed: %w", unwrapPath(err, path))}
		}
		return stamp{}, err
	}
	if !fi.Mode().IsRegular() {
		return stamp{}, &notFrameError{path: path, err: fmt.Errorf("%s, not a frame (not opened)", cli.FileKind(fi.Mode()))}
	}
	return stampOf(fi), nil
}

// notFrameError reports a path named like a frame that is not a regular
// file: "path: reason".
type notFrameError struct {
	path string
	err  error
}

func (e *notFrameError) Error() string { return e.path + ": " + e.err.Error() }

func (e *notFrameError) Unwrap() error { return e.err }

type entryState int

const (
	stateWaiting entryState = iota
	stateReady
	stateBusy
	stateDone
)

// entry is the tracker's record of one frame.
type entry struct {
	path  string
	state entryState
	seq   uint64 // a heap item is live only while its seq matches

	seen    bool      // stamp holds an observation
	stamp   stamp     // last observed stamp
	changed time.Time // when stamp (or an event) was last seen to change
	event   bool      // an event arrived since the last check (or while ready/busy)
	rescan  bool      // found by a rescan: skip it when its outputs are up to date

	writing bool // a writer has it open: written since its last close (Linux)

	lastErr error // last read error
	tries   int   // failed reads since the last change

	handled      bool  // converted (or given up) at handledStamp
	handledStamp stamp // the stamp a worker saw before reading
}

// dueItem is a scheduled check (waiting) or expiry (done) of an entry.
type dueItem struct {
	at  time.Time
	seq uint64
	e   *entry
}

type dueHeap []dueItem

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h dueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)        { *h = append(*h, x.(dueItem)) }
func (h *dueHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = dueItem{}
	*h = old[:len(old)-1]
	return it
}

// maxBackoff bounds the delay between two reads of a frame that cannot be
// read yet.
const maxBackoff = 2 * time.Second

// backoff returns the delay before the next read after tries failed reads:
// settle, 2·settle, 4·settle, ... up to maxBackoff (or settle, if longer).
func backoff(settle time.Duration, tries int) time.Duration {
	d := settle
	for i := 1; i < tries && d < maxBackoff; i++ {
		d *= 2
	}
	return max(min(d, maxBackoff), settle)
}

// tracker is the pending set of watch mode. Its methods are safe for
// concurrent use; event and the job callbacks never block on file I/O.
type tracker struct {
	r       *run
	settle  time.Duration
	timeout time.Duration
	keep    time.Duration    // how long a done entry is kept
	since   time.Time        // when watching started
	now     func() time.Time // the clock: time.Now, a fake one in tests

	mu     sync.Mutex
	files  map[string]*entry
	due    dueHeap
	ready  []*entry
	closed bool

	wake      chan struct{} // the schedule changed
	readyWake chan struct{} // ready is not empty
	failWake  chan struct{} // a frame failed: rewrite the errors log
}

func newTracker(r *run, w *Watch) *tracker {
	return &tracker{
		r: r, settle: w.Settle, timeout: w.Timeout, since: time.Now(), now: time.Now,
		keep:      max(time.Minute, 2*w.Timeout),
		files:     map[string]*entry{},
		wake:      make(chan struct{}, 1),
		readyWake: make(chan struct{}, 1),
		failWake:  make(chan struct{}, 1),
	}
}

func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// at schedules the next check (or expiry) of e. Callers hold t.mu.
func (t *tracker) at(e *entry, when time.Time) {
	e.seq++
	heap.Push(&t.due, dueItem{at: when, seq: e.seq, e: e})
	poke(t.wake)
}

// rest marks e done and schedules its expiry. Callers hold t.mu.
func (t *tracker) rest(e *entry, now time.Time) {
	e.state = stateDone
	e.event, e.rescan, e.lastErr, e.tries = false, false, nil, 0
	t.at(e, now.Add(t.keep))
}

// event notes that the frame at path was created or written. rescan marks
// a frame found by a rescan after lost events: it is skipped when its
// outputs are up to date.
func (t *tracker) event(path string, rescan bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.eventLocked(path, rescan)
}

// fileEvent notes an event of the close-after-write source: op opWrite
// means a writer has the file open (it is not read until it is closed or
// Timeout has passed), opDone that it was closed after writing or moved
// in.
func (t *tracker) fileEvent(path string, op fileOp) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.eventLocked(path, false); e != nil {
		e.writing = op == opWrite
	}
}

// eventLocked is event with t.mu held; it returns the entry (nil when the
// tracker is closed).
func (t *tracker) eventLocked(path string, rescan bool) *entry {
	if t.closed {
		return nil
	}
	e := t.files[path]
	if e != nil && rescan {
		e.writing = false // events were lost: settle and decode
	}
	switch {
	case e == nil:
		e = &entry{path: path, rescan: rescan}
		t.files[path] = e
		t.at(e, t.now())
	case e.state == stateDone:
		e.state, e.event = stateWaiting, true
		t.at(e, t.now())
	default:
		e.event = true // waiting: seen at the next check; ready, busy: checked again after the job
	}
	return e
}

// announce notes a frame announced as complete by another program (a
// feeder): it is checked like a frame found by a rescan (skipped when its
// outputs are up to date), but unlike an event the announcement is not a
// change, so repeated announcements do not delay it.
func (t *tracker) announce(path string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	e := t.files[path]
	switch {
	case e == nil:
		e = &entry{path: path, rescan: true}
		t.files[path] = e
		t.at(e, t.now())
	case e.state == stateDone:
		e.state, e.rescan = stateWaiting, true
		t.at(e, t.now())
	}
}

// claim registers a frame found by the walk, which hands it to the workers
// itself. It returns false when the tracker already has the frame.
func (t *tracker) claim(path string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.files[path] != nil {
		return false
	}
	t.files[path] = &entry{path: path, state: stateBusy}
	return true
}

// jobDone records the end of a worker's job on a frame that was read:
// converted, skipped or failed after reading; st is the stamp the worker
// saw before reading.
func (t *tracker) jobDone(path string, st stamp) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.files[path]
	if e == nil || e.state != stateBusy {
		return
	}
	e.handled, e.handledStamp = true, st
	now := t.now()
	if e.event && !t.closed {
		// Written to while converting: check it again.
		e.state, e.lastErr, e.tries = stateWaiting, nil, 0
		t.at(e, now)
		return
	}
	t.rest(e, now)
}

// jobFailed takes back a frame whose read failed (err), to retry it. When
// the tracker is closed it returns false and the error to report instead.
func (t *tracker) jobFailed(path string, err error) (bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.files[path]
	if t.closed || e == nil || e.state != stateBusy {
		return false, &watchError{path: path, what: "incomplete at exit", err: err}
	}
	now := t.now()
	e.state, e.lastErr = stateWaiting, err
	e.tries++
	when := now.Add(backoff(t.settle, e.tries))
	if e.seen {
		when = minTime(when, e.changed.Add(t.timeout))
	}
	if e.event {
		when = now
	}
	t.at(e, when)
	return true, nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// readyFrame is a stable frame handed to the workers: its path, and
// whether it came by a rescan or an announcement rather than by an event
// of its own.
type readyFrame struct {
	path   string
	rescan bool
}

// nextReady returns the next stable frame for the workers and marks it
// busy; it waits until there is one or ctx is done.
func (t *tracker) nextReady(ctx context.Context) (readyFrame, bool) {
	for {
		t.mu.Lock()
		for len(t.ready) > 0 {
			e := t.ready[0]
			t.ready[0] = nil
			t.ready = t.ready[1:]
			if e.state != stateReady {
				continue
			}
			if e.event { // written to since it was found stable
				e.state = stateWaiting
				t.at(e, t.now())
				continue
			}
			e.state = stateBusy
			e.seq++
			f := readyFrame{path: e.path, rescan: e.rescan}
			t.mu.Unlock()
			return f, true
		}
		t.ready = nil
		t.mu.Unlock()
		select {
		case <-ctx.Done():
			return readyFrame{}, false
		case <-t.readyWake:
		}
	}
}

// schedule runs the due checks until ctx is done. It also rewrites the
// errors log after failures.
func (t *tracker) schedule(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if next, ok := t.runDue(t.now()); ok {
			timer.Reset(time.Until(next))
		} else {
			timer.Stop()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.wake:
		case <-timer.C:
		case <-t.failWake:
			t.writeErrorLog()
		}
	}
}

// writeErrorLog writes the failures so far to the errors log.
func (t *tracker) writeErrorLog() {
	c := t.r.c
	if _, err := c.writeErrorLog(t.r.summary().Failures); err != nil {
		c.log.Warn("errors log", "error", err)
	}
}

// runDue runs the checks due at now and returns the time of the next one.
// The files are examined without holding the lock.
func (t *tracker) runDue(now time.Time) (time.Time, bool) {
	type dueCheck struct {
		dueItem
		rescan bool
	}
	t.mu.Lock()
	var checks []dueCheck
	for len(t.due) > 0 && !t.due[0].at.After(now) {
		it := heap.Pop(&t.due).(dueItem)
		if it.seq != it.e.seq {
			continue // rescheduled since
		}
		switch it.e.state {
		case stateDone:
			if t.files[it.e.path] == it.e {
				delete(t.files, it.e.path)
			}
		case stateWaiting:
			checks = append(checks, dueCheck{it, it.e.rescan})
		}
	}
	t.mu.Unlock()

	var fails []Failure
	for _, it := range checks {
		st, err := statFrame(it.e.path)
		var upToDate func() bool
		if it.rescan {
			upToDate = func() bool { return t.r.c.outputsUpToDate(it.e.path) }
		}
		t.mu.Lock()
		if it.seq == it.e.seq && it.e.state == stateWaiting && !t.closed {
			if f := t.check(it.e, st, err, t.now(), upToDate); f != nil {
				fails = append(fails, *f)
			}
		}
		t.mu.Unlock()
	}
	t.report(fails)

	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.due) == 0 {
		return time.Time{}, false
	}
	return t.due[0].at, true
}

// check applies one observation (st or statErr at now) to a waiting entry
// and moves it on: rescheduled while it changes or settles, ready once
// stable, done when unchanged since it was handled, given up (returned)
// when it could not be read for Timeout since its last change. Callers
// hold t.mu.
func (t *tracker) check(e *entry, st stamp, statErr error, now time.Time, upToDate func() bool) *Failure {
	var nf *notFrameError
	switch {
	case errors.As(statErr, &nf):
		// Not a frame (a FIFO, a dangling link): reported at once, and
		// again only after a new event.
		e.handled, e.handledStamp = true, stamp{}
		t.rest(e, now)
		return &Failure{Path: e.path, Err: statErr}
	case errors.Is(statErr, fs.ErrNotExist):
		delete(t.files, e.path) // removed (or renamed) before it was converted
		e.seq++
		return nil
	case statErr != nil:
		if !e.seen {
			e.seen, e.changed = true, now
		}
		e.lastErr = statErr
		e.tries++
		if now.Sub(e.changed) >= t.timeout {
			return t.giveUp(e, now)
		}
		t.at(e, minTime(now.Add(backoff(t.settle, e.tries)), e.changed.Add(t.timeout)))
		return nil
	case !e.seen || st != e.stamp || e.event:
		e.seen, e.stamp, e.changed, e.event = true, st, now, false
		e.tries = 0
		t.at(e, now.Add(t.settle))
		return nil
	case now.Sub(e.changed) < t.settle:
		t.at(e, e.changed.Add(t.settle))
		return nil
	case e.writing && now.Sub(e.changed) < t.timeout:
		// Still open for writing (a writer pausing between chunks): wait
		// for its close; a writer idle for Timeout is taken as done.
		t.at(e, minTime(now.Add(t.settle), e.changed.Add(t.timeout)))
		return nil
	case e.handled && st == e.handledStamp:
		t.rest(e, now) // unchanged since it was converted
		return nil
	case e.lastErr != nil && now.Sub(e.changed) >= t.timeout:
		return t.giveUp(e, now)
	case upToDate != nil && !e.handled && upToDate():
		t.rest(e, now)
		return nil
	}
	e.state = stateReady
	e.seq++
	t.ready = append(t.ready, e)
	poke(t.readyWake)
	return nil
}

// giveUp ends the retries of a frame that could not be read. Callers hold
// t.mu.
func (t *tracker) giveUp(e *entry, now time.Time) *Failure {
	err := &watchError{path: e.path, what: fmt.Sprintf("incomplete after %v", t.timeout), err: e.lastErr}
	e.handled, e.handledStamp = e.seen, e.stamp // retried once it changes
	t.rest(e, now)
	return &Failure{Path: e.path, Err: err}
}

// report records failures found by the tracker.
func (t *tracker) report(fails []Failure) {
	for _, f := range fails {
		t.r.addFound(1)
		t.r.finish(FileResult{Path: f.Path, Status: Failed, Err: f.Err})
	}
}

// close stops the tracker at the end of the run and reports the frames
// still incomplete: waiting ones and ready ones whose read failed before.
// Ready frames never read are counted as found but not converted, like
// the frames the workers drop when a run is cancelled.
func (t *tracker) close() {
	t.mu.Lock()
	t.closed = true
	var fails []Failure
	dropped := 0
	for _, e := range t.files {
		switch {
		case e.state == stateWaiting && e.lastErr == nil && unchangedOrGone(e):
		case e.state == stateWaiting || (e.state == stateReady && e.lastErr != nil):
			cause := e.lastErr
			if cause == nil {
				cause = errors.New("still being written")
			}
			fails = append(fails, Failure{Path: e.path, Err: &watchError{path: e.path, what: "incomplete at exit", err: cause}})
		case e.state == stateReady:
			dropped++
		}
	}
	t.ready = nil
	t.mu.Unlock()
	sort.Slice(fails, func(i, j int) bool { return fails[i].Path < fails[j].Path })
	t.report(fails)
	t.r.addFound(dropped)
}

// unchangedOrGone reports whether the file of e no longer exists or is
// unchanged since it was converted (the event was not a change).
func unchangedOrGone(e *entry) bool {
	st, err := statFrame(e.path)
	return errors.Is(err, fs.ErrNotExist) || (err == nil && e.handled && st == e.handledStamp)
}

// watchError is a failure of watch mode: "path: what: reason of err".
type watchError struct {
	path, what string
	err        error
}

func (e *watchError) Error() string {
	return e.path + ": " + e.what + ": " + Failure{Path: e.path, Err: e.err}.Reason()
}

func (e *watchError) Unwrap() error { return e.err }
