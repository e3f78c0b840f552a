package network

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/saxsdog/saxs"
	"github.com/saxsdog/saxs/internal/batch"
	"github.com/saxsdog/saxs/internal/pyjson"
	"github.com/saxsdog/saxs/network/cluster"
	"github.com/saxsdog/saxs/network/metrics"
)

// DefaultCollisionTimeout bounds each get sent to the other configured
// servers for the directory collision check of new.
const DefaultCollisionTimeout = 2 * time.Second

// ServerConfig configures a Server: one queue served on one REP socket.
type ServerConfig struct {
	// Dir is SERVERDIR: queue folders and listdir paths resolve below it.
	Dir string
	// NetConf and Index select the configuration entry served (secret,
	// ports) and the other servers for the collision check.
	NetConf *NetConf
	Index   int
	// Bind is the address the REP socket binds; empty means tcp://*:port
	// of the entry's Server (or Port).
	Bind string
	// Port overrides the port of the entry's Server address when > 0.
	Port int
	// Feeder is the address the queue's subscriber connects to; empty
	// means the entry's Feeder address. "-" disables the subscriber.
	Feeder string
	// Threads is the number of frames converted at once when the
	// calibration gives no Threads; 0 means the number of CPUs.
	Threads int
	// RelPath (default ../work) or OutDir: where the .chi files go. Below
	// OutDir each frame's file has the path of the frame below Dir
	// (OutDir/run1/x.chi for Dir/run1/x.tif).
	RelPath, OutDir string
	// Strict requires attachment digests.
	Strict bool
	// Watch sets the completion rules of the queue's watch.
	Watch batch.Watch
	// CollisionTimeout bounds the get of the collision check (default
	// DefaultCollisionTimeout).
	CollisionTimeout time.Duration
	// Verifier checks the signatures; nil means a new one for the
	// entry's secret. Servers of one process that share a secret should
	// share it, so that a request accepted by one cannot be replayed to
	// another.
	Verifier *Verifier
	// CacheDir keeps built integration operators; "" disables the cache.
	CacheDir string
	Logger   *slog.Logger
	// Dat and NXcanSAS add the .dat and NXcanSAS outputs (batch.Config's
	// fields of the same names; saxsdogserver --format).
	Dat, NXcanSAS bool
	// Cluster, when set, makes the server a cluster head: the frames its
	// queue finds complete become jobs for saxsdogworker processes
	// (network/cluster) instead of being integrated here; stat, plot and
	// fileslist report the workers' results. nil: no NATS at all.
	Cluster *cluster.Head
	// Metrics, when set, receives the frames done and failed, the stage
	// times and the operator builds of the server's queues (the process's
	// /metrics; saxsdogserver --metrics-addr).
	Metrics *metrics.Metrics
	// Stream is the address (tcp://DCU:PORT) of a detector's stream
	// interface (DECTRIS stream v1 or v2) that the server receives, as
	// its single PULL consumer, and integrates with the active queue;
	// "" for none (streamserver.go).
	Stream string
}

// Server is one saxsdog server: a REP socket and at most one queue.
type Server struct {
	cfg      ServerConfig
	entry    Entry
	dir      string // resolved SERVERDIR
	verifier *Verifier
	log      *slog.Logger
	rep      *RepServer
	now      func() time.Time

	// build makes the integration operator of a new (saxs.NewContext;
	// tests replace it to hold a build).
	build func(context.Context, *saxs.Calibration, saxs.Options) (*saxs.Integrator, error)

	// life serialises what starts and stops queues (the switch of new,
	// abort, readdir, the end of Serve); it is never held while an
	// operator builds.
	life sync.Mutex

	mu      sync.Mutex // guards q and pending; held only briefly
	q       *queue
	pending *pendingNew // the new whose operator is building, nil if none

	stream streamState
	merge  mergeState // data consolidation (mergedata.go)
}

// NewServer checks cfg and prepares a Server.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.NetConf == nil {
		return nil, errors.New("server: no network configuration")
	}
	e, err := cfg.NetConf.Entry(cfg.Index)
	if err != nil {
		return nil, err
	}
	dir, err := realDir(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("server folder: %w", err)
	}
	if cfg.RelPath != "" && cfg.OutDir != "" {
		return nil, errors.New("server: -R and -o exclude each other")
	}
	if cfg.OutDir != "" {
		if cfg.OutDir, err = filepath.Abs(cfg.OutDir); err != nil {
			return nil, err
		}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	name := e.Name
	if name == "" {
		name = fmt.Sprintf("server %d", cfg.Index)
	}
	v := cfg.Verifier
	if v == nil {
		v = NewVerifier(e.Secret)
	} else if v.secret != e.Secret {
		return nil, errors.New("server: the verifier is for another secret")
	}
	return &Server{cfg: cfg, entry: e, dir: dir, verifier: v,
		log: log.With("server", name), now: time.Now, build: saxs.NewContext}, nil
}

// Listen binds the REP socket; the socket lives until ctx ends.
func (s *Server) Listen(ctx context.Context) error {
	addr := s.cfg.Bind
	if addr == "" {
		var err error
		if addr, err = BindAddr(s.entry.Server, s.cfg.Port); err != nil {
			return err
		}
	}
	rep, err := ListenRep(ctx, addr, s.Handle, s.log)
	if err != nil {
		return err
	}
	s.rep = rep
	s.log.Info("listening", "address", addr, "folder", s.dir)
	return nil
}

// Endpoint returns the loopback address of the bound socket.
func (s *Server) Endpoint() string { return s.rep.Endpoint() }

// Serve answers requests until ctx ends, then stops the queue, finishing
// the frames in flight.
func (s *Server) Serve(ctx context.Context) error {
	if s.rep == nil {
		if err := s.Listen(ctx); err != nil {
			return err
		}
	}
	var wg sync.WaitGroup
	sctx, stopStream := context.WithCancel(ctx)
	if s.cfg.Stream != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.serveStream(sctx, s.cfg.Stream)
		}()
	}
	err := s.rep.Serve(ctx) // waits for the handlers, which see ctx end
	stopStream()
	wg.Wait()
	s.merge.wg.Wait()
	s.life.Lock()
	s.stopQueue()
	s.life.Unlock()
	return err
}

// stopQueue stops the running queue, if any, and returns its last stat.
// Callers hold s.life.
func (s *Server) stopQueue() Obj {
	s.mu.Lock()
	q := s.q
	s.q = nil
	s.mu.Unlock()
	if q == nil {
		return Obj{}
	}
	q.stop()
	return q.stat()
}

// QueueLength returns the frames of the running queue found or announced
// and not yet finished (stat's "queue length"), 0 without a queue.
func (s *Server) QueueLength() int {
	q := s.queue()
	if q == nil {
		return 0
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.queueLengthLocked()
}

func (s *Server) queue() *queue {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.q
}

// Handle answers one request (frame 0 and attachments) with a reply frame.
func (s *Server) Handle(ctx context.Context, frames [][]byte) []byte {
	return mustReply(s.handle(ctx, frames))
}

func (s *Server) handle(ctx context.Context, frames [][]byte) Obj {
	req, err := ParseRequest(frames)
	if err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			return ErrorReply(ResultValidation, ve.Msg)
		}
		return ErrorReply(ResultValueError, err.Error())
	}
	if err := s.verifier.Verify(req.Raw, s.now()); err != nil {
		var ae *AuthError
		if errors.As(err, &ae) {
			s.log.Warn("request rejected", "command", req.Command, "reason", ae.Reason)
			return ErrorReply(ResultAuthError, ae.Reason)
		}
		return ErrorReply(ResultAuthError, err.Error())
	}
	if err := req.CheckDigests(s.cfg.Strict); err != nil {
		return ErrorReply(ResultAuthError, err.Error())
	}
	if len(req.Frames) > 0 && req.Command != "new" && req.Command != "mergedata" {
		return ErrorReply(ResultValueError, fmt.Sprintf("%s takes no attachments, got %d", req.Command, len(req.Frames)))
	}
	s.log.Debug("request", "command", req.Command)
	stat := func(st Obj) Obj { return statFor(req, st) }
	switch req.Command {
	case "new":
		return s.cmdNew(ctx, req)
	case "abort":
		s.life.Lock()
		defer s.life.Unlock()
		s.cancelPending(errAborted)
		return NewReply(ResultAborted, Obj{"stat": stat(s.stopQueue())})
	case "close":
		q := s.queue()
		if q == nil {
			return NewReply(ResultClosed, Obj{"stat": Obj{}})
		}
		q.closeFeed()
		return NewReply(ResultClosed, Obj{"stat": stat(q.stat())})
	case "readdir":
		return s.cmdReaddir(ctx, req)
	case "stat":
		q := s.queue()
		if q == nil {
			return NewReply(ResultStat, Obj{"stat": Obj{}})
		}
		st := stat(q.stat())
		if n, ok := s.merge.mergeCount(); ok {
			st[StatMergeCount] = n
		}
		return NewReply(ResultStat, Obj{"stat": st})
	case "plot":
		q := s.queue()
		if q == nil {
			return NewReply(ResultNoQueue, nil)
		}
		p := q.plot()
		if p == nil {
			return NewReply(ResultEmpty, Obj{"stat": stat(q.stat())})
		}
		if st, ok := p["stat"].(Obj); ok {
			p["stat"] = stat(st)
		}
		return NewReply(ResultPlot, p)
	case "get":
		q := s.queue()
		if q == nil {
			return NewReply(ResultNoQueue, nil)
		}
		d := Obj{"cal": q.spec.calJSON, "attachments": q.spec.attachments}
		if q.spec.flat { // what a 0.3.0 client reads
			d["directory"] = toAny(q.spec.directory)
			if a, ok := q.spec.attachments[0].(map[string]any); ok {
				d["mask"] = Obj{"data": a["data"]}
			}
			if !req.Wants(AttachmentsKey) { // not in the 0.3.0 result schema
				delete(d, "attachments")
			}
		}
		return NewReply(ResultCal, d)
	case "listdir":
		return s.cmdListdir(req)
	case "fileslist":
		q := s.queue()
		if q == nil {
			return NewReply(ResultNoQueue, nil)
		}
		fl := q.fileslist()
		if !req.Wants(FailedKey) {
			delete(fl, FailedList)
		}
		return NewReply(ResultFileslist, Obj{"fileslist": fl})
	case "mergedata":
		return s.cmdMergedata(ctx, req)
	case "getmergedata":
		return s.merge.lastResult()
	}
	// plotdata (in the request schema but never handled by the original;
	// its CLI sends plot for it) is not implemented.
	return ErrorReply(ResultNotImplemented, req.Command+" not implemented")
}

// cmdNew starts a queue (spec §9.7 new; also the 0.3.0 form).
func (s *Server) cmdNew(ctx context.Context, req *Request) Obj {
	calv, ok := req.Argument["calibration"].(map[string]any)
	if !ok {
		return ErrorReply(ResultValueError, "new needs argument.calibration (an object)")
	}
	calBytes, err := pyjson.Marshal(calv)
	if err != nil {
		return ErrorReply(ResultValueError, err.Error())
	}
	cal, err := saxs.ParseCalibration(calBytes, "calibration")
	if err != nil {
		return ErrorReply(ResultValueError, err.Error())
	}
	spec := queueSpec{cal: cal, calJSON: calv, calBytes: calBytes}
	if cal.Generation() == saxs.Flat {
		spec.flat = true
		if spec.directory, err = StringList(req.Argument["directory"]); err != nil {
			return ErrorReply(ResultValueError, err.Error())
		}
	} else {
		spec.directory = cal.Directory
	}
	if len(spec.directory) == 0 {
		return ErrorReply(ResultValueError, "new: no Directory given")
	}
	atts, err := req.Attachments()
	if err != nil {
		return ErrorReply(ResultValueError, err.Error())
	}
	if len(atts) != len(cal.Masks) {
		return ErrorReply(ResultValueError, fmt.Sprintf("new: %d mask attachments for %d masks", len(atts), len(cal.Masks)))
	}
	masks := make([]*saxs.Mask, len(atts))
	for i, a := range atts {
		name := a.Filename
		if name == "" {
			name = cal.Masks[i].MaskFile
		}
		if masks[i], err = decodeMask(a.Data, name); err != nil {
			return ErrorReply(ResultValueError, fmt.Sprintf("mask %d: %v", i, err))
		}
		spec.attachments = append(spec.attachments, a.Raw)
		spec.maskFiles = append(spec.maskFiles, cluster.Mask{Name: name, Data: a.Data})
	}
	spec.dir, spec.directory, err = resolveUnder(s.dir, spec.directory)
	if err != nil {
		return ErrorReply(ResultError, "queue folder: "+err.Error())
	}
	// From here on a later new (or abort) cancels this one: the
	// collision check and the build stop, and the running queue stays.
	bctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	p := &pendingNew{cancel: cancel}
	s.mu.Lock()
	if s.pending != nil {
		s.pending.cancel(errSuperseded)
	}
	s.pending = p
	s.mu.Unlock()
	defer s.clearPending(p)
	if msg := s.collision(bctx, spec.directory); msg != "" {
		return ErrorReply(ResultError, msg)
	}
	workers := cal.Threads
	if workers <= 0 {
		workers = s.cfg.Threads
	}
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	spec.masks = masks
	// The operator builds on this request's goroutine while the socket
	// answers the other clients (RepServer handles requests
	// concurrently) and the old queue goes on converting.
	spec.ig, err = s.build(newYieldContext(bctx, workers), cal, saxs.Options{Masks: masks, Workers: workers, CacheDir: s.cfg.CacheDir, Logger: s.log})
	if cause := context.Cause(bctx); cause != nil {
		return s.cancelled(cause)
	}
	if err != nil {
		return ErrorReply(ResultValueError, err.Error())
	}
	s.cfg.Metrics.OperatorBuilt()
	spec.workers = workers
	s.life.Lock()
	defer s.life.Unlock()
	if cause := context.Cause(bctx); cause != nil { // superseded while waiting for the switch
		return s.cancelled(cause)
	}
	old := s.stopQueue()
	if len(old) > 0 {
		s.log.Info("previous queue stopped", "images processed", old["images processed"])
	}
	// The reply waits until the new folder is watched (as the original's
	// reply came after its queue had started), so that no frame written
	// after it is missed.
	if err := s.start(ctx, spec, workers); err != nil {
		return ErrorReply(ResultError, err.Error())
	}
	s.log.Info("new queue", "folder", spec.dir, "masks", len(masks), "workers", workers)
	return NewReply(ResultNewQueue, Obj{"cal": calv})
}

// Why a new stops before its queue starts.
var (
	errSuperseded = errors.New("new: superseded by a later new before its operator was built")
	errAborted    = errors.New("new: aborted before its operator was built")
)

// cancelled is the reply of a new that was cancelled with cause.
func (s *Server) cancelled(cause error) Obj {
	s.log.Info("new cancelled", "reason", cause)
	return ErrorReply(ResultError, cause.Error())
}

// yieldContext is the context of an operator build: the build checks
// Err after every row in each of its workers, and Err yields the
// processor there (runtime.Gosched), so that the goroutines of the socket
// and of the other requests that are ready run within a row's work (under
// a millisecond) instead of waiting for the scheduler's 10 ms time
// slices. With as many build workers as processors that is not enough: a
// goroutine that calls Gosched goes to the global run queue, where the
// other worker's processor finds it before it would poll the network, so
// a reply to a client waits for the runtime's background poll (every
// 10 ms) at each step of its exchange, 60 ms in all for a stat during a
// Pilatus 1M build (TestMeasureRepliesDuringLargeBuild). Then one worker
// in turn also sleeps briefly every yieldGap, which leaves its processor
// idle long enough to poll the network.
type yieldContext struct {
	context.Context
	last *atomic.Int64 // when a worker last slept (UnixNano); nil: no sleeps
}

// yieldGap is how often one of the workers of a build sleeps, for
// yieldSleep (in practice up to a millisecond: the network poll's
// resolution), when they are as many as the processors. For a Pilatus 1M
// operator at Oversampling 4 on two cores this kept the slowest reply of
// a client in the server's process at 11-21 ms instead of 60-78 ms, and
// made the build 7-14 % slower in that process (not measurably in
// saxsdogserver's new; see the README).
const (
	yieldGap   = 2 * time.Millisecond
	yieldSleep = 20 * time.Microsecond
)

// newYieldContext returns the context of a build with workers workers.
func newYieldContext(ctx context.Context, workers int) yieldContext {
	c := yieldContext{Context: ctx}
	if workers >= runtime.GOMAXPROCS(0) {
		c.last = new(atomic.Int64)
	}
	return c
}

// Err yields, then returns the context's error.
func (c yieldContext) Err() error {
	if c.last != nil {
		now := time.Now().UnixNano()
		if last := c.last.Load(); now-last >= int64(yieldGap) && c.last.CompareAndSwap(last, now) {
			time.Sleep(yieldSleep)
			return c.Context.Err()
		}
	}
	runtime.Gosched()
	return c.Context.Err()
}

// pendingNew is a new whose operator is building.
type pendingNew struct{ cancel context.CancelCauseFunc }

// clearPending forgets p as the pending new (unless a later new has
// replaced it).
func (s *Server) clearPending(p *pendingNew) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending == p {
		s.pending = nil
	}
}

// cancelPending cancels the new whose operator is building, if any.
func (s *Server) cancelPending(cause error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending != nil {
		s.pending.cancel(cause)
		s.pending = nil
	}
}

func (s *Server) start(ctx context.Context, spec queueSpec, workers int) error {
	feeder := s.cfg.Feeder
	if feeder == "" {
		feeder = s.entry.Feeder
	}
	if feeder == "-" {
		feeder = ""
	}
	q, err := startQueue(ctx, spec, queueOptions{serverDir: s.dir, feeder: feeder, relPath: s.cfg.RelPath,
		outDir: s.cfg.OutDir, workers: workers, watch: s.cfg.Watch, log: s.log, dat: s.cfg.Dat, nxcansas: s.cfg.NXcanSAS, cacheDir: s.cfg.CacheDir,
		cluster: s.cfg.Cluster, clusterKey: fmt.Sprintf("server%d", s.cfg.Index), metrics: s.cfg.Metrics})
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.q = q
	s.mu.Unlock()
	return nil
}

// statFor returns the stat object st as the request asked for it: the 2.0
// keys, StatFramesPerSec and StatSkipped only on request (FramesPerSecKey,
// SkippedKey).
func statFor(req *Request, st Obj) Obj {
	if !req.Wants(FramesPerSecKey) {
		delete(st, StatFramesPerSec)
	}
	if !req.Wants(SkippedKey) {
		delete(st, StatSkipped)
	}
	return st
}

// cmdReaddir restarts the queue with all the frames in its folder.
func (s *Server) cmdReaddir(ctx context.Context, req *Request) Obj {
	q := s.queue()
	if q == nil {
		return ErrorReply("ValueError", "Start Queue first")
	}
	s.life.Lock()
	defer s.life.Unlock()
	if s.queue() != q { // replaced or aborted meanwhile
		return ErrorReply("ValueError", "Start Queue first")
	}
	spec := q.spec
	spec.walk = true
	s.stopQueue()
	if err := s.start(ctx, spec, q.workers()); err != nil {
		return ErrorReply(ResultError, err.Error())
	}
	return NewReply(ResultRestarted, Obj{"stat": statFor(req, s.queue().stat())})
}

// collision asks the other configured servers for their queue folders
// and reports a clash with dir (one a prefix of the other, by
// components, or either "."), as the 2.0 server did.
func (s *Server) collision(ctx context.Context, dir []string) string {
	timeout := s.cfg.CollisionTimeout
	if timeout <= 0 {
		timeout = DefaultCollisionTimeout
	}
	type answer struct {
		name string
		dir  []string
	}
	var wg sync.WaitGroup
	answers := make([]*answer, len(s.cfg.NetConf.Entries))
	for i, e := range s.cfg.NetConf.Entries {
		if i == s.cfg.Index || e.Server == s.entry.Server {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &Client{Addr: e.Server, Secret: e.Secret, Timeout: timeout, Plain: true}
			r, err := c.Do(ctx, "get", nil, nil)
			if err != nil || r.Result != ResultCal {
				return
			}
			m := r.Map()
			var d []string
			if cal, ok := m["cal"].(map[string]any); ok {
				d, _ = StringList(cal["Directory"])
			}
			if d == nil {
				d, _ = StringList(m["directory"])
			}
			if d != nil {
				answers[i] = &answer{e.Name, d}
			}
		}()
	}
	wg.Wait()
	mine := normComps(dir)
	for _, a := range answers {
		if a == nil {
			continue
		}
		other := normComps(a.dir)
		if len(mine) == 0 || len(other) == 0 || isPrefix(mine, other) || isPrefix(other, mine) {
			return "Directory collides with: " + filepath.Join(a.dir...) + " (" + a.name + ")"
		}
	}
	return ""
}

func normComps(c []string) []string {
	return splitComps(filepath.Clean(filepath.Join(append([]string{"."}, c...)...)))
}

func isPrefix(a, b []string) bool {
	return len(a) <= len(b) && slices.Equal(a, b[:len(a)])
}

// cmdListdir lists a folder below SERVERDIR.
func (s *Server) cmdListdir(req *Request) Obj {
	comps, err := StringList(req.Argument["directory"])
	if err != nil {
		return ErrorReply(ResultOSError, err.Error())
	}
	p, rel, err := resolveUnder(s.dir, comps)
	if err != nil {
		return ErrorReply(ResultOSError, err.Error())
	}
	ents, err := os.ReadDir(p)
	if err != nil {
		return ErrorReply(ResultOSError, err.Error())
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
	list := make([]any, 0, len(ents))
	for _, e := range ents {
		isDir := e.IsDir()
		if e.Type()&os.ModeSymlink != 0 {
			if fi, err := os.Stat(filepath.Join(p, e.Name())); err == nil {
				isDir = fi.IsDir()
			}
		}
		list = append(list, Obj{"isdir": isDir, "path": e.Name()})
	}
	return NewReply(ResultListdir, Obj{"dircontent": list, "directory": toAny(rel)})
}

// subscribe runs the feeder subscriber of the queue: announced frames
// below the queue folder are handed to add.
func (q *queue) subscribe(ctx context.Context, addr string, add func(string) error) error {
	var dirs dirCache // the messages come one at a time
	return Subscribe(ctx, addr, func(path string) {
		p := dirs.feederPath(q.serverDir, path, time.Now())
		if !within(p, q.spec.dir) || !isFrameName(p) {
			q.log.Debug("feeder path outside the queue folder", "path", path)
			return
		}
		_ = add(p)
	}, q.log)
}

// workers returns the worker count the queue was started with.
func (q *queue) workers() int { return q.spec.workers }

// decodeMask decodes a mask attachment in memory (the name tells the
// format).
func decodeMask(data []byte, name string) (*saxs.Mask, error) {
	return saxs.DecodeMask(data, name)
}
