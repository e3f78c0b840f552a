package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Head is the head's side of a cluster: it publishes the jobs of its
// queues and reads their results.
type Head struct {
	js  jetstream.JetStream
	kv  jetstream.KeyValue
	log *slog.Logger
	now func() time.Time
	sub *nats.Subscription // the max-deliveries advisories
}

// maxDeliveriesSubject is where JetStream reports a job that reached the
// consumer's MaxDeliver without being acknowledged or terminated (its
// workers died or went silent each time).
const maxDeliveriesSubject = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + JobsStream + "." + WorkersConsumer

// NewHead sets up the streams, bucket and consumer on the connection
// (see Setup) and returns the head.
func NewHead(ctx context.Context, nc *nats.Conn, s Settings, log *slog.Logger) (*Head, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("cluster: jetstream: %w", err)
	}
	if err := Setup(ctx, js, s); err != nil {
		return nil, err
	}
	kv, err := js.KeyValue(ctx, CalBucket)
	if err != nil {
		return nil, fmt.Errorf("cluster: calibration bucket: %w", err)
	}
	h := &Head{js: js, kv: kv, log: log, now: time.Now}
	if h.sub, err = nc.Subscribe(maxDeliveriesSubject, h.onMaxDeliveries); err != nil {
		return nil, fmt.Errorf("cluster: advisories: %w", err)
	}
	return h, nil
}

// Close stops handling the advisories (the connection is the caller's).
func (h *Head) Close() error { return h.sub.Unsubscribe() }

// onMaxDeliveries gives up a job that no worker finished in MaxDeliver
// deliveries: its dead letter goes to saxs.dead.<queue id> and the job
// leaves the stream.
func (h *Head) onMaxDeliveries(m *nats.Msg) {
	var adv struct {
		StreamSeq  uint64 `json:"stream_seq"`
		Deliveries uint64 `json:"deliveries"`
	}
	if err := json.Unmarshal(m.Data, &adv); err != nil || adv.StreamSeq == 0 {
		h.log.Warn("bad max-deliveries advisory", "error", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := h.js.Stream(ctx, JobsStream)
	if err != nil {
		h.log.Warn("max deliveries", "error", err)
		return
	}
	raw, err := s.GetMsg(ctx, adv.StreamSeq)
	if err != nil {
		h.log.Debug("max deliveries: job gone", "seq", adv.StreamSeq, "error", err)
		return
	}
	d := DeadLetter{Reason: fmt.Sprintf("no worker finished it in %d deliveries (workers died or went silent)", adv.Deliveries),
		Deliveries: adv.Deliveries, Worker: "head"}
	var j Job
	if err := json.Unmarshal(raw.Data, &j); err == nil {
		d.Job = &j
	} else {
		d.Raw = string(raw.Data)
	}
	data, err := json.Marshal(d)
	if err == nil {
		_, err = h.js.Publish(ctx, DeadPrefix+queueOfSubject(raw.Subject), data)
	}
	if err != nil {
		h.log.Warn("max deliveries: dead letter not published", "error", err)
		return
	}
	if err := s.DeleteMsg(ctx, adv.StreamSeq); err != nil {
		h.log.Warn("max deliveries: job not removed", "seq", adv.StreamSeq, "error", err)
	}
}

// JetStream returns the head's JetStream context (for tests and tools).
func (h *Head) JetStream() jetstream.JetStream { return h.js }

// Handlers receive the outcomes of a queue's jobs, each job once, one
// call at a time.
type Handlers struct {
	// Result receives each job's result.
	Result func(Result)
	// Dead receives each job given up.
	Dead func(DeadLetter)
}

// HeadQueue is one queue of the head: its id, the calibration version its
// jobs name, and the reader of its results.
type HeadQueue struct {
	h       *Head
	id      string
	key     string
	version uint64
	cc      jetstream.ConsumeContext

	mu   sync.Mutex
	seen map[string]bool
}

// StartQueue stores spec as the new version of the calibration key (one
// per server of the head), and starts reading the results of the new
// queue. spec.Queue is set to a fresh queue id.
func (h *Head) StartQueue(ctx context.Context, key string, spec QueueSpec, hd Handlers) (*HeadQueue, error) {
	if !validToken(key) {
		return nil, fmt.Errorf("cluster: invalid calibration key %q", key)
	}
	spec.Queue = key + "-" + NewID()
	data, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("cluster: queue spec: %w", err)
	}
	rev, err := h.kv.Put(ctx, key, data)
	if err != nil {
		return nil, fmt.Errorf("cluster: storing the calibration: %w", err)
	}
	q := &HeadQueue{h: h, id: spec.Queue, key: key, version: rev, seen: map[string]bool{}}
	cons, err := h.js.OrderedConsumer(ctx, ResultsStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{ResultsPrefix + q.id, DeadPrefix + q.id}, DeliverPolicy: jetstream.DeliverAllPolicy})
	if err != nil {
		return nil, fmt.Errorf("cluster: results consumer: %w", err)
	}
	q.cc, err = cons.Consume(func(m jetstream.Msg) { q.handle(m, hd) })
	if err != nil {
		return nil, fmt.Errorf("cluster: results consumer: %w", err)
	}
	h.log.Info("cluster queue", "queue", q.id, "calibration", key, "version", rev)
	return q, nil
}

// handle passes a result or dead letter on, once per job.
func (q *HeadQueue) handle(m jetstream.Msg, hd Handlers) {
	subj := m.Subject()
	var id string
	var res Result
	var dead DeadLetter
	isDead := len(subj) > len(DeadPrefix) && subj[:len(DeadPrefix)] == DeadPrefix
	if isDead {
		if err := json.Unmarshal(m.Data(), &dead); err != nil {
			q.h.log.Warn("bad dead letter", "error", err)
			return
		}
		if dead.Job != nil {
			id = dead.Job.ID
		}
	} else {
		if err := json.Unmarshal(m.Data(), &res); err != nil {
			q.h.log.Warn("bad result", "error", err)
			return
		}
		id = res.Job
	}
	q.mu.Lock()
	dup := id != "" && q.seen[id]
	if id != "" {
		q.seen[id] = true
	}
	q.mu.Unlock()
	if dup {
		q.h.log.Debug("result of a job counted before", "job", id)
		return
	}
	if isDead {
		if hd.Dead != nil {
			hd.Dead(dead)
		}
	} else if hd.Result != nil {
		hd.Result(res)
	}
}

// ID returns the queue id.
func (q *HeadQueue) ID() string { return q.id }

// Version returns the calibration version the queue's jobs name.
func (q *HeadQueue) Version() uint64 { return q.version }

// Publish puts the job of a frame (slash-separated, relative to
// SERVERDIR) on the queue's subject and waits until JetStream stored it.
func (q *HeadQueue) Publish(ctx context.Context, frame string, outputs []string) (Job, error) {
	j := Job{ID: NewID(), Queue: q.id, Key: q.key, Version: q.version, Frame: frame, Outputs: outputs,
		Announced: q.h.now()}
	data, err := json.Marshal(j)
	if err != nil {
		return j, fmt.Errorf("cluster: job: %w", err)
	}
	if _, err := q.h.js.Publish(ctx, JobsPrefix+q.id, data, jetstream.WithMsgID(j.ID)); err != nil {
		return j, fmt.Errorf("cluster: publishing the job of %s: %w", frame, err)
	}
	return j, nil
}

// Pending returns the number of the queue's jobs in the stream (waiting
// or being worked on).
func (q *HeadQueue) Pending(ctx context.Context) (uint64, error) {
	s, err := q.h.js.Stream(ctx, JobsStream)
	if err != nil {
		return 0, fmt.Errorf("cluster: jobs stream: %w", err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(JobsPrefix+q.id))
	if err != nil {
		return 0, fmt.Errorf("cluster: jobs stream: %w", err)
	}
	return info.State.Subjects[JobsPrefix+q.id], nil
}

// Stop stops reading results and drops the queue's jobs that no worker
// has finished (a worker finishes the ones it already holds) and its
// results; its dead letters stay for ResultsMaxAge.
func (q *HeadQueue) Stop(ctx context.Context) error {
	q.cc.Stop()
	s, err := q.h.js.Stream(ctx, JobsStream)
	if err != nil {
		return fmt.Errorf("cluster: jobs stream: %w", err)
	}
	if err := s.Purge(ctx, jetstream.WithPurgeSubject(JobsPrefix+q.id)); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("cluster: dropping the jobs of %s: %w", q.id, err)
	}
	rs, err := q.h.js.Stream(ctx, ResultsStream)
	if err == nil {
		err = rs.Purge(ctx, jetstream.WithPurgeSubject(ResultsPrefix+q.id))
	}
	if err != nil {
		return fmt.Errorf("cluster: dropping the results of %s: %w", q.id, err)
	}
	return nil
}
