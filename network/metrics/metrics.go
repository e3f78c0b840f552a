// Package metrics exposes the counters of a saxsdog server or worker in
// the Prometheus text format: frames done and failed, per-stage latency
// histograms (read, integrate, write), job latency, queue length,
// redeliveries, operator builds and stream frames received and dropped.
//
// A Metrics has its own registry (nothing global), and every method is a
// no-op on a nil *Metrics, so code that reports takes a *Metrics that is
// nil when no --metrics-addr was given.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The stages of one frame, the label values of the stage histogram.
const (
	StageRead      = "read"
	StageIntegrate = "integrate"
	StageWrite     = "write"
)

// Namespace prefixes every metric name.
const Namespace = "saxs"

// stageBuckets span 50 µs to about 3 s: a Pilatus 1M frame integrates in
// under a millisecond, a gzip HDF5 frame decodes in tens of milliseconds
// and a write to a slow network file system may take a second.
var stageBuckets = prometheus.ExponentialBuckets(50e-6, 2, 17)

// jobBuckets span 1 ms to about 65 s: from announcement to written file,
// through a queue that may be long.
var jobBuckets = prometheus.ExponentialBuckets(1e-3, 2, 17)

// Metrics holds the metrics of one process.
type Metrics struct {
	reg          *prometheus.Registry
	framesDone   prometheus.Counter
	framesFailed prometheus.Counter
	stage        *prometheus.HistogramVec
	jobLatency   prometheus.Histogram
	redelivered  prometheus.Counter
	builds       prometheus.Counter
	streamFrames prometheus.Counter
	streamDrops  prometheus.Counter
	queueLen     atomic.Pointer[func() float64]
}

// New returns the metrics of a process in the given role ("server" or
// "worker"), which every metric carries as the constant label role.
func New(role string) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	labels := prometheus.Labels{"role": role}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help, ConstLabels: labels})
	}
	m.framesDone = counter("frames_done_total", "Frames integrated and written.")
	m.framesFailed = counter("frames_failed_total", "Frames that could not be converted.")
	m.redelivered = counter("jobs_redelivered_total", "Jobs delivered more than once (a worker died or was too slow).")
	m.builds = counter("operator_builds_total", "Integration operators built or loaded from the cache.")
	m.streamFrames = counter("stream_frames_total", "Detector stream frames received.")
	m.streamDrops = counter("stream_frames_dropped_total", "Detector stream frames missing (gaps in the frame numbers).")
	m.stage = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "stage_seconds",
		Help: "Time per frame in each stage: read, integrate, write.", ConstLabels: labels, Buckets: stageBuckets}, []string{"stage"})
	m.jobLatency = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Name: "job_latency_seconds",
		Help: "Time from a frame's announcement to its written outputs.", ConstLabels: labels, Buckets: jobBuckets})
	queue := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: Namespace, Name: "queue_length",
		Help: "Frames found or announced and not yet finished.", ConstLabels: labels}, m.queueLength)
	m.reg.MustRegister(m.framesDone, m.framesFailed, m.redelivered, m.builds, m.streamFrames, m.streamDrops,
		m.stage, m.jobLatency, queue,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, s := range []string{StageRead, StageIntegrate, StageWrite} {
		m.stage.WithLabelValues(s) // present at 0 before the first frame
	}
	return m
}

func (m *Metrics) queueLength() float64 {
	if f := m.queueLen.Load(); f != nil {
		return (*f)()
	}
	return 0
}

// FrameDone counts a frame integrated and written.
func (m *Metrics) FrameDone() {
	if m != nil {
		m.framesDone.Inc()
	}
}

// FrameFailed counts a frame that could not be converted.
func (m *Metrics) FrameFailed() {
	if m != nil {
		m.framesFailed.Inc()
	}
}

// ObserveStage records the time one frame spent in stage (StageRead,
// StageIntegrate or StageWrite).
func (m *Metrics) ObserveStage(stage string, d time.Duration) {
	if m != nil {
		m.stage.WithLabelValues(stage).Observe(d.Seconds())
	}
}

// ObserveJobLatency records the time from a frame's announcement (its job
// published) to its written outputs.
func (m *Metrics) ObserveJobLatency(d time.Duration) {
	if m != nil {
		m.jobLatency.Observe(d.Seconds())
	}
}

// Redelivered counts a job delivered more than once.
func (m *Metrics) Redelivered() {
	if m != nil {
		m.redelivered.Inc()
	}
}

// OperatorBuilt counts an integration operator built or loaded.
func (m *Metrics) OperatorBuilt() {
	if m != nil {
		m.builds.Inc()
	}
}

// StreamFrame counts a detector stream frame received.
func (m *Metrics) StreamFrame() {
	if m != nil {
		m.streamFrames.Inc()
	}
}

// StreamDropped counts n stream frames missing.
func (m *Metrics) StreamDropped(n int) {
	if m != nil && n > 0 {
		m.streamDrops.Add(float64(n))
	}
}

// SetQueueLength makes the queue-length gauge read f at each scrape; f
// must be safe for concurrent use. nil sets it back to 0.
func (m *Metrics) SetQueueLength(f func() float64) {
	if m == nil {
		return
	}
	if f == nil {
		m.queueLen.Store(nil)
		return
	}
	m.queueLen.Store(&f)
}

// Handler returns the handler of /metrics: the Prometheus text format
// (or OpenMetrics when the scraper asks for it). On a nil Metrics it
// answers 404.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{EnableOpenMetrics: true, Timeout: 10 * time.Second})
}

// Serve serves h at /metrics on addr (host:port; port 0 picks one) until
// ctx ends, in a goroutine that ends with ctx. It returns the bound
// address.
func Serve(ctx context.Context, addr string, h http.Handler, log *slog.Logger) (string, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return "", fmt.Errorf("metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", h)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "error", err)
		}
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-done
	}()
	bound := ln.Addr().String()
	log.Info("metrics", "address", "http://"+bound+"/metrics")
	return bound, nil
}
