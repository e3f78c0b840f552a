package batch

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Defaults of Watch.
const (
	DefaultSettle  = 250 * time.Millisecond
	DefaultTimeout = 30 * time.Second
)

// Watch configures watch mode (Config.Watch): after the walk (or without
// it, with NoWalk) the folder roots are watched recursively, including
// folders created later, and new or rewritten frames are converted until
// the run's context is cancelled.
//
// A frame is converted once it is complete: its size and modification
// time have not changed, and no write event has been seen for it, for
// Settle, and it then reads as a TIFF. On Linux (with file-system events)
// a frame a writer has open is not read until the writer closes it
// (inotify's close-after-write event), so a frame preallocated and filled
// in chunks, with pauses longer than Settle, is converted once, from its
// final content; a writer that keeps a frame open without writing for
// Timeout is taken as done. A frame that reads whole but has the wrong
// size is complete: it is reported as failed at once. A frame that is
// stable but cannot be read (truncated, not a TIFF) is read again with
// back-off (Settle, doubling, at most 2 s) and reported as failed, with
// the last read error, when it still cannot be read Timeout after its
// last change; it is tried again if it changes later. A frame that keeps
// changing is not given up. Every read error is treated alike, even a bad
// TIFF signature: a writer may preallocate a file (zeros) or pause before
// the header, so no error proves that a file will not complete. An entry
// named like a frame that is not a regular file (a FIFO, a folder, a
// symbolic link that cannot be followed) is reported when it appears and
// never opened.
//
// Events for one file are merged (the pending set is keyed by path), a
// frame is converted again only when its size or modification time
// changed since it was converted, and never by two workers at once.
// Frames found by the walk that cannot be read yet are retried the same
// way. When the run is cancelled, the frames still incomplete are
// reported as failed ("incomplete at exit: <last error>").
//
// The output folder is not watched when it lies inside a root, and only
// .tif/.tiff names are considered, so the run does not react to its own
// outputs, temporary files or errors log. Roots that are single frames are
// not watched. With fsnotify, a lost-events overflow triggers a rescan of
// the roots for frames changed since watching started whose outputs are
// not up to date.
type Watch struct {
	// Settle is how long a frame must stay unchanged before it is read;
	// 0 means DefaultSettle.
	Settle time.Duration
	// Timeout is how long after its last change a frame that cannot be
	// read is given up; 0 means DefaultTimeout.
	Timeout time.Duration
	// Poll, when positive, rescans the folders at this interval instead
	// of using file-system events (fsnotify), for network file systems
	// where the events of remote writers are not seen.
	Poll time.Duration
}

// withDefaults checks w and fills in the defaults.
func (w Watch) withDefaults() (Watch, error) {
	if w.Settle < 0 || w.Timeout < 0 || w.Poll < 0 {
		return w, errors.New("batch: watch durations must not be negative")
	}
	if w.Settle == 0 {
		w.Settle = DefaultSettle
	}
	if w.Timeout == 0 {
		w.Timeout = DefaultTimeout
	}
	return w, nil
}

// fileOp is what a close-after-write file event says about a file.
type fileOp int

const (
	opWrite    fileOp = iota + 1 // written: a writer has it open
	opDone                       // closed after writing, or moved in: complete
	opOverflow                   // events were lost (no path): rescan
	opCreate                     // created (or hard-linked), not written yet: settle and decode
	opDir                        // a folder created or moved in: watch and scan it
)

// watchSource supplies frame events to a tracker until ctx is done.
type watchSource interface {
	run(ctx context.Context) error
	close()
}

// watcher is watch mode in a run: the tracker, its source of events and
// the feeder that hands stable frames to the workers.
type watcher struct {
	c   *Converter
	r   *run
	t   *tracker
	src watchSource
}

// startWatch sets up watch mode before the walk starts, so that no frame
// written during the walk is missed: it adds the fsnotify watches (or
// takes the first poll snapshot) of the folder roots.
func (c *Converter) startWatch(r *run) (*watcher, error) {
	w := &watcher{c: c, r: r, t: newTracker(r, &c.watch)}
	var err error
	if c.watch.Poll > 0 {
		w.src = newPoller(c, w.t, c.watch.Poll)
	} else {
		w.src, err = newFSWatch(c, w.t)
	}
	if err != nil {
		return nil, err
	}
	mode := "file-system events"
	if c.watch.Poll > 0 {
		mode = "polling every " + c.watch.Poll.String()
	}
	c.log.Info("watching", "folders", len(c.dirRoots()), "mode", mode, "settle", c.watch.Settle, "timeout", c.watch.Timeout)
	return w, nil
}

// run watches until ctx is done or the source fails, sending stable frames
// with send; at the end it reports the frames still incomplete.
func (w *watcher) run(ctx context.Context, send func(job) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var srcErr error
	wg.Add(3)
	go func() {
		defer wg.Done()
		defer cancel() // a failed source ends the watch
		srcErr = w.src.run(ctx)
	}()
	go func() {
		defer wg.Done()
		w.t.schedule(ctx)
	}()
	go func() {
		defer wg.Done()
		w.feed(ctx, send)
	}()
	wg.Wait()
	w.src.close()
	w.t.close()
	return srcErr
}

// feed hands the stable frames to the workers.
func (w *watcher) feed(ctx context.Context, send func(job) error) {
	for {
		f, ok := w.t.nextReady(ctx)
		if !ok {
			return
		}
		path := f.path
		j, ok := w.r.prepare(path, -1)
		if !ok { // reported by prepare (an output collision)
			st, _ := statFrame(path)
			w.t.jobDone(path, st)
			continue
		}
		// The worker stats the frame again just before its read (not the
		// stamp of the check that found it stable: a frame written after
		// that check, e.g. created empty and found stable before its data
		// came, would be recorded with the old stamp and converted again).
		j.tracked, j.rescan = true, f.rescan
		if send(j) != nil {
			return
		}
	}
}

// dirRoots returns the roots that are folders.
func (c *Converter) dirRoots() []root {
	var list []root
	for _, rt := range c.roots {
		if rt.isDir {
			list = append(list, rt)
		}
	}
	return list
}

// outputsUpToDate reports whether the outputs of the frame at path exist,
// are complete and not older than it (as for Resume).
func (c *Converter) outputsUpToDate(path string) bool {
	base, err := c.chiPath(path, -1)
	if err != nil {
		return false
	}
	outs := c.chiPaths(base)
	if outs == nil {
		return false
	}
	return upToDate(path, append(outs, c.slicePaths(base)...), c.extraPaths(outs))
}

// scanTree walks the folder dir (not following symbolic links to folders,
// skipping the output folder), calling onDir for each folder and onFrame
// for each frame. An error of onDir on dir itself ends the scan and is
// returned; other errors go to onErr.
func (c *Converter) scanTree(ctx context.Context, dir string, onDir func(p string) error,
	onFrame func(p string, d fs.DirEntry), onErr func(p string, err error)) error {
	top := filepath.Clean(dir)
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if ctx.Err() != nil {
			return fs.SkipAll
		}
		if err != nil {
			if filepath.Clean(p) == top {
				return err
			}
			onErr(p, unwrapPath(err, p))
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			isTop := filepath.Clean(p) == top
			if !isTop && c.absOut != "" && c.isOutDir(p) {
				return fs.SkipDir
			}
			if onDir != nil {
				if err := onDir(p); err != nil {
					if isTop {
						return err
					}
					onErr(p, err)
					return fs.SkipDir
				}
			}
			return nil
		}
		if onFrame != nil && isFrameName(d.Name()) {
			onFrame(p, d) // a frame, or named like one (reported by the tracker)
		}
		return nil
	})
}

// fsWatch is the file-system event source: one watch per folder. On
// Linux the events come from fe, an inotify instance of its own, which
// also reports when a writer closes a file (see fileEvents) and reports
// new folders, so that no second instance sees every event; elsewhere,
// or when fe cannot be had, from fsnotify (w), settle-and-decode only.
type fsWatch struct {
	c  *Converter
	t  *tracker
	w  *fsnotify.Watcher // nil when fe is set
	fe *fileEvents       // nil: events from fsnotify

	overflow chan struct{} // fe lost events: rescan
	dirs     chan string   // fe: folders created or moved in, for loop
}

// eventBuffer is the size of the fsnotify event channel: it absorbs bursts
// while a new folder is scanned.
const eventBuffer = 4096

// newFSWatch watches the folder roots and their subfolders. Any error is
// fatal here: a folder that cannot be watched would silently miss frames.
func newFSWatch(c *Converter, t *tracker) (*fsWatch, error) {
	fw := &fsWatch{c: c, t: t, overflow: make(chan struct{}, 1), dirs: make(chan string, 64)}
	if closeWriteSupported {
		fe, err := newFileEvents()
		if err != nil {
			c.log.Warn("watch: no close-after-write events; frames are read once they settle", "error", err)
		} else {
			fw.fe = fe
		}
	}
	if fw.fe == nil {
		w, err := fsnotify.NewBufferedWatcher(eventBuffer)
		if err != nil {
			return nil, fmt.Errorf("batch: watch: %w", err)
		}
		fw.w = w
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var first error
	fail := func(err error) {
		if first == nil {
			first = err
			cancel() // stop at the first folder that cannot be watched
		}
	}
	for _, rt := range c.dirRoots() {
		err := c.scanTree(ctx, rt.walk, func(p string) error {
			if err := fw.add(p); err != nil {
				fail(err)
			}
			return nil
		}, nil, func(p string, err error) {
			if c.cfg.NoWalk { // otherwise the walk reports it
				fail(fmt.Errorf("%s: %w", p, err))
			}
		})
		if err != nil {
			fail(err)
		}
	}
	if first != nil {
		fw.close()
		return nil, fmt.Errorf("batch: watch: %w", first)
	}
	return fw, nil
}

// add watches the folder p.
func (fw *fsWatch) add(p string) error {
	var err error
	if fw.fe != nil {
		err = fw.fe.add(p)
	} else {
		err = fw.w.Add(p)
	}
	if err != nil {
		if errors.Is(err, errNoSpace) {
			return fmt.Errorf("cannot watch %s: %w (too many folders: raise fs.inotify.max_user_watches or use --poll)", p, err)
		}
		return fmt.Errorf("cannot watch %s: %w", p, err)
	}
	return nil
}

func (fw *fsWatch) close() {
	if fw.w != nil {
		fw.w.Close()
	}
	if fw.fe != nil {
		fw.fe.close()
	}
}

// run handles the events until ctx is done.
func (fw *fsWatch) run(ctx context.Context) error {
	if fw.fe == nil {
		return fw.loop(ctx)
	}
	// The file events are read until ctx is done; closing fe ends the read.
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var readErr error
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		readErr = fw.fe.read(func(p string, op fileOp) {
			switch op {
			case opOverflow:
				poke(fw.overflow)
				return
			case opDir:
				select { // the loop watches and scans it
				case fw.dirs <- p:
				case <-lctx.Done():
				}
				return
			}
			if isFrameName(filepath.Base(p)) && !fw.t.r.isOutput(p) {
				fw.t.fileEvent(p, op)
			}
		})
		cancel() // a failed read ends the watch
	}()
	err := fw.loop(lctx)
	cancel()
	fw.fe.close()
	<-readDone
	if err == nil && ctx.Err() == nil {
		err = readErr
	}
	return err
}

// loop handles the new folders and lost events of fe, or the fsnotify
// events, until ctx is done.
func (fw *fsWatch) loop(ctx context.Context) error {
	var events <-chan fsnotify.Event // nil channels (with fe) never fire
	var errs <-chan error
	if fw.w != nil {
		events, errs = fw.w.Events, fw.w.Errors
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-fw.overflow:
			fw.c.log.Warn("watch: file events lost; rescanning")
			fw.rescan(ctx)
		case p := <-fw.dirs:
			fw.folder(ctx, p)
		case ev, ok := <-events:
			if !ok {
				return errors.New("watch: fsnotify stopped")
			}
			fw.handle(ctx, ev)
		case err, ok := <-errs:
			if !ok {
				return errors.New("watch: fsnotify stopped")
			}
			fw.c.log.Warn("watch", "error", err)
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				fw.rescan(ctx)
			}
		}
	}
}

// handle handles one fsnotify event: a new folder is watched and scanned
// at once (folder), a created or written frame is passed to the tracker.
func (fw *fsWatch) handle(ctx context.Context, ev fsnotify.Event) {
	p := filepath.Clean(ev.Name)
	if ev.Has(fsnotify.Create) {
		if fi, err := os.Lstat(p); err == nil && fi.IsDir() {
			fw.folder(ctx, p)
			return
		}
	}
	if !ev.Has(fsnotify.Create) && !ev.Has(fsnotify.Write) {
		return
	}
	if isFrameName(filepath.Base(p)) && !fw.t.r.isOutput(p) {
		fw.t.event(p, false)
	}
}

// folder watches and scans a new folder p at once (frames written before
// its watch was added are found by the scan, later ones by events; the
// tracker merges both), unless it is the output folder.
func (fw *fsWatch) folder(ctx context.Context, p string) {
	if fw.c.absOut != "" && fw.c.isOutDir(p) {
		return
	}
	if isFrameName(filepath.Base(p)) {
		fw.t.r.notFrame(p, errFolderNamedLikeFrame)
	}
	fw.addTree(ctx, p)
}

// addTree watches a new folder and its subfolders and passes their frames
// to the tracker. Folders that cannot be watched are reported as failures.
func (fw *fsWatch) addTree(ctx context.Context, dir string) {
	err := fw.c.scanTree(ctx, dir, fw.add, func(p string, _ fs.DirEntry) {
		if !fw.t.r.isOutput(p) {
			fw.t.event(p, false)
		}
	}, fw.failFolder)
	if err != nil && !errors.Is(err, fs.ErrNotExist) { // a folder removed at once is no loss
		fw.failFolder(dir, err)
	}
}

// failFolder reports a folder that cannot be watched or read.
func (fw *fsWatch) failFolder(p string, err error) {
	r := fw.t.r
	r.addFound(1)
	r.finish(FileResult{Path: p, Status: Failed, Err: fmt.Errorf("%s: %w", p, err)})
}

// rescan looks for frames changed since watching started after events
// were lost; those whose outputs are up to date are skipped.
func (fw *fsWatch) rescan(ctx context.Context) {
	since := fw.t.since.Add(-time.Second) // coarse time stamps
	for _, rt := range fw.c.dirRoots() {
		fw.c.scanTree(ctx, rt.walk, fw.add, func(p string, d fs.DirEntry) {
			if st, err := statFrame(p); err == nil && time.Unix(0, st.mtime).After(since) {
				fw.t.event(p, true)
			}
		}, func(string, error) {})
	}
}

// poller is the polling source: it rescans the roots at an interval and
// passes new or changed frames (by size and modification time) to the
// tracker.
type poller struct {
	c     *Converter
	t     *tracker
	every time.Duration
	known map[string]stamp
}

// newPoller takes the first snapshot: the frames present now are not
// events (the walk converts them).
func newPoller(c *Converter, t *tracker, every time.Duration) *poller {
	p := &poller{c: c, t: t, every: every, known: map[string]stamp{}}
	p.scan(context.Background(), false)
	return p
}

func (p *poller) close() {}

// run rescans every interval (measured from the end of a scan) until ctx
// is done.
func (p *poller) run(ctx context.Context) error {
	timer := time.NewTimer(p.every)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
			p.scan(ctx, true)
			timer.Reset(p.every)
		}
	}
}

// scan compares the frames below the roots with the last snapshot; with
// emit, new and changed ones go to the tracker.
func (p *poller) scan(ctx context.Context, emit bool) {
	seen := make(map[string]bool, len(p.known))
	for _, rt := range p.c.dirRoots() {
		top := filepath.Clean(rt.walk)
		onDir := func(path string) error {
			if filepath.Clean(path) == top || !isFrameName(filepath.Base(path)) {
				return nil
			}
			seen[path] = true
			if _, ok := p.known[path]; !ok { // a folder named like a frame: reported once
				p.known[path] = stamp{size: -2}
				if emit {
					p.t.r.notFrame(path, errFolderNamedLikeFrame)
				}
			}
			return nil
		}
		p.c.scanTree(ctx, rt.walk, onDir, func(path string, d fs.DirEntry) {
			st, err := statFrame(path)
			var nf *notFrameError
			switch {
			case errors.As(err, &nf):
				st = stamp{size: -1} // reported once, while it stays
			case err != nil:
				return
			}
			seen[path] = true
			if old, ok := p.known[path]; ok && old == st {
				return
			}
			p.known[path] = st
			if emit && !p.t.r.isOutput(path) {
				p.t.event(path, false)
			}
		}, func(string, error) {})
	}
	if ctx.Err() != nil {
		return // incomplete scan: keep the snapshot
	}
	for path := range p.known {
		if !seen[path] {
			delete(p.known, path)
		}
	}
}

// errNoSpace is the error of inotify_add_watch when the watch limit is
// reached.
var errNoSpace error = syscall.ENOSPC
