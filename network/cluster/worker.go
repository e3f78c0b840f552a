package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Observer receives the worker's measurements; *metrics.Metrics of
// network/metrics is one. Its methods must be safe for concurrent use.
type Observer interface {
	FrameDone()
	FrameFailed()
	ObserveStage(stage string, d time.Duration)
	ObserveJobLatency(d time.Duration)
	Redelivered()
	OperatorBuilt()
}

type noObserver struct{}

func (noObserver) FrameDone()                         {}
func (noObserver) FrameFailed()                       {}
func (noObserver) ObserveStage(string, time.Duration) {}
func (noObserver) ObserveJobLatency(time.Duration)    {}
func (noObserver) Redelivered()                       {}
func (noObserver) OperatorBuilt()                     {}

// DefaultRetryDelay is how long a failed job waits before its next
// delivery.
const DefaultRetryDelay = time.Second

// WorkerConfig configures a Worker.
type WorkerConfig struct {
	// ServerDir is this machine's SERVERDIR: job and queue paths are
	// relative to it.
	ServerDir string
	// Threads is the number of frames integrated at once; 0 means the
	// number of CPUs.
	Threads int
	// CacheDir keeps built integration operators; "" disables the cache.
	CacheDir string
	// Name names the worker in results and dead letters (default
	// host:pid).
	Name string
	// RetryDelay is the delay before a failed job is delivered again
	// (default DefaultRetryDelay).
	RetryDelay time.Duration
	// Observer receives the measurements; nil discards them.
	Observer Observer
	Logger   *slog.Logger
}

// Worker takes jobs from the workers' consumer and integrates them.
type Worker struct {
	cfg  WorkerConfig
	dir  string
	nc   *nats.Conn
	js   jetstream.JetStream
	obs  Observer
	log  *slog.Logger
	sets Settings

	slots chan struct{} // one per job held (fetched and not yet answered)

	mu   sync.Mutex
	revs map[string]uint64 // latest revision of each calibration key
}

// NewWorker prepares a worker on the connection.
func NewWorker(nc *nats.Conn, cfg WorkerConfig) (*Worker, error) {
	dir, err := filepath.Abs(cfg.ServerDir)
	if err != nil {
		return nil, fmt.Errorf("cluster: server folder: %w", err)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("cluster: server folder %s is not a folder: %w", dir, errors.Join(err, errors.ErrUnsupported))
	}
	if cfg.Threads <= 0 {
		cfg.Threads = runtime.NumCPU()
	}
	if cfg.RetryDelay <= 0 {
		cfg.RetryDelay = DefaultRetryDelay
	}
	if cfg.Name == "" {
		h, _ := os.Hostname()
		cfg.Name = fmt.Sprintf("%s:%d", h, os.Getpid())
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	obs := cfg.Observer
	if obs == nil {
		obs = noObserver{}
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("cluster: jetstream: %w", err)
	}
	return &Worker{cfg: cfg, dir: dir, nc: nc, js: js, obs: obs, log: log.With("worker", cfg.Name),
		slots: make(chan struct{}, 4*cfg.Threads), revs: map[string]uint64{}}, nil
}

// Run takes jobs until ctx ends, then finishes the frames being
// integrated, hands the others back (they go to other workers at once)
// and returns. It waits for the head's consumer when there is none yet.
func (w *Worker) Run(ctx context.Context) error {
	cons, err := w.consumer(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	info := cons.CachedInfo()
	w.sets = Settings{AckWait: info.Config.AckWait, MaxDeliver: info.Config.MaxDeliver}.withDefaults()
	kv, err := w.js.KeyValue(ctx, CalBucket)
	if err != nil {
		return fmt.Errorf("cluster: calibration bucket: %w", err)
	}
	watcher, err := kv.WatchAll(ctx, jetstream.MetaOnly())
	if err != nil {
		return fmt.Errorf("cluster: watching the calibrations: %w", err)
	}
	note := func(e jetstream.KeyValueEntry) {
		w.mu.Lock()
		defer w.mu.Unlock()
		if e.Revision() > w.revs[e.Key()] {
			w.revs[e.Key()] = e.Revision()
		}
	}
	for e := range watcher.Updates() { // the current values, then nil
		if e == nil {
			break
		}
		note(e)
	}
	var bg sync.WaitGroup
	bg.Add(1)
	go func() { // ends when ctx ends (the watcher's updates channel closes)
		defer bg.Done()
		for e := range watcher.Updates() {
			if e != nil {
				note(e)
			}
		}
	}()
	pipes := map[string]*pipeline{}
	w.log.Info("worker ready", "threads", w.cfg.Threads, "ack wait", w.sets.AckWait, "max deliver", w.sets.MaxDeliver)
	for ctx.Err() == nil {
		select {
		case w.slots <- struct{}{}: // wait for room for at least one job
			<-w.slots
		case <-ctx.Done():
			continue
		}
		n := cap(w.slots) - len(w.slots)
		if n <= 0 {
			continue
		}
		// Not ctx: a pull cancelled midway can leave jobs delivered to an
		// inbox no one reads, held until AckWait; this one ends within
		// a second and what it brings is handed back.
		fctx, fcancel := context.WithTimeout(context.Background(), time.Second)
		b, err := cons.Fetch(n, jetstream.FetchContext(fctx))
		if err != nil {
			fcancel()
			if ctx.Err() != nil {
				break
			}
			w.log.Warn("fetch", "error", err)
			sleep(ctx, time.Second)
			continue
		}
		for m := range b.Messages() {
			w.slots <- struct{}{}
			w.dispatch(ctx, kv, pipes, m)
		}
		fcancel()
		if err := b.Error(); err != nil && ctx.Err() == nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) {
			w.log.Debug("fetch", "error", err)
		}
	}
	for _, p := range pipes {
		p.stop()
	}
	_ = watcher.Stop()
	bg.Wait()
	if err := w.nc.Flush(); err != nil { // the jobs handed back are with the server
		w.log.Warn("flush", "error", err)
	}
	w.log.Info("worker stopped")
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// consumer waits for the jobs consumer.
func (w *Worker) consumer(ctx context.Context) (jetstream.Consumer, error) {
	logged := false
	for {
		cons, err := w.js.Consumer(ctx, JobsStream, WorkersConsumer)
		if err == nil {
			return cons, nil
		}
		if !errors.Is(err, jetstream.ErrConsumerNotFound) && !errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil, fmt.Errorf("cluster: jobs consumer: %w", err)
		}
		if !logged {
			w.log.Info("waiting for the head", "reason", ErrNotSetUp)
			logged = true
		}
		sleep(ctx, time.Second)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
}

func (w *Worker) release() { <-w.slots }

// latest returns the latest known revision of a calibration key.
func (w *Worker) latest(key string) uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.revs[key]
}

// dispatch hands a job to the pipeline of its calibration version, or
// answers it at once (bad JSON, stale version).
func (w *Worker) dispatch(ctx context.Context, kv jetstream.KeyValue, pipes map[string]*pipeline, m jetstream.Msg) {
	delivered := uint64(1)
	if md, err := m.Metadata(); err == nil {
		delivered = md.NumDelivered
	}
	if delivered > 1 {
		w.obs.Redelivered()
		w.log.Info("job delivered again", "subject", m.Subject(), "delivery", delivered)
	}
	if ctx.Err() != nil { // stopping: back at once, for another worker
		_ = m.Nak()
		w.release()
		return
	}
	var j Job
	err := json.Unmarshal(m.Data(), &j)
	j.Queue = queueOfSubject(m.Subject()) // the subject, not what the job says
	if err != nil || j.Frame == "" || !validToken(j.Key) {
		if err == nil {
			err = errors.New("no frame or calibration key")
		}
		w.giveUp(m, DeadLetter{Raw: string(m.Data()), Reason: "bad job: " + err.Error(), Deliveries: delivered}, j.Queue)
		return
	}
	if rev := w.latest(j.Key); rev > j.Version {
		w.log.Info("stale job skipped", "frame", j.Frame, "version", j.Version, "latest", rev)
		_ = m.Term()
		w.release()
		return
	}
	p := pipes[j.Key]
	if p != nil && p.version > j.Version {
		w.log.Info("stale job skipped", "frame", j.Frame, "version", j.Version, "latest", p.version)
		_ = m.Term()
		w.release()
		return
	}
	if p != nil && p.version < j.Version {
		p.stop()
		delete(pipes, j.Key)
		p = nil
	}
	if p == nil {
		var err error
		stopBeat := w.heartbeat(m) // building the operator may take longer than AckWait
		p, err = w.startPipeline(ctx, kv, j.Key, j.Version)
		stopBeat()
		if err != nil {
			w.fail(m, &j, delivered, err)
			return
		}
		pipes[j.Key] = p
	}
	if err := p.add(&j, m, delivered); err != nil {
		w.giveUp(m, DeadLetter{Job: &j, Reason: err.Error(), Deliveries: delivered}, j.Queue) // never better
	}
}

// heartbeat sends progress for m every AckWait/3 until the returned
// function is called.
func (w *Worker) heartbeat(m jetstream.Msg) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // ends when stop is called
		defer wg.Done()
		t := time.NewTicker(max(w.sets.AckWait/3, 10*time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-t.C:
				_ = m.InProgress()
			case <-done:
				return
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}

// fail answers a failed job: delivered again later, or given up with a
// dead letter after the last delivery.
func (w *Worker) fail(m jetstream.Msg, j *Job, delivered uint64, err error) {
	if delivered >= uint64(w.sets.MaxDeliver) {
		w.giveUp(m, DeadLetter{Job: j, Reason: err.Error(), Deliveries: delivered}, j.Queue)
		return
	}
	w.log.Warn("job failed, to be retried", "frame", j.Frame, "delivery", delivered, "error", err)
	_ = m.NakWithDelay(w.cfg.RetryDelay)
	w.release()
}

// giveUp publishes a dead letter and terminates the job (a frame failed,
// for the metrics; failed deliveries that are tried again are not).
func (w *Worker) giveUp(m jetstream.Msg, d DeadLetter, queue string) {
	w.obs.FrameFailed()
	d.Worker = w.cfg.Name
	w.log.Warn("job given up", "frame", d.Path(), "deliveries", d.Deliveries, "reason", d.Reason)
	defer w.release()
	data, err := json.Marshal(d)
	if err == nil && !validToken(queue) {
		err = fmt.Errorf("no queue in the subject")
	}
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err = w.js.Publish(ctx, DeadPrefix+queue, data)
		cancel()
	}
	if err != nil {
		w.log.Error("dead letter not published", "error", err)
		_ = m.Nak()
		return
	}
	_ = m.TermWithReason(d.Reason)
}

// rel returns p relative to the worker's SERVERDIR when below it.
func (w *Worker) rel(p string) string {
	if r, err := filepath.Rel(w.dir, p); err == nil && r != ".." && !strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return filepath.ToSlash(r)
	}
	return p
}

// below resolves a slash-separated path relative to SERVERDIR, refusing
// one that leaves it.
func (w *Worker) below(rel string) (string, error) {
	if filepath.IsAbs(filepath.FromSlash(rel)) || !filepath.IsLocal(filepath.FromSlash(rel)) {
		return "", fmt.Errorf("%q is not a path below SERVERDIR", rel)
	}
	return filepath.Join(w.dir, filepath.FromSlash(rel)), nil
}
