package network

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/saxsdog/saxs"
	"github.com/saxsdog/saxs/internal/batch"
	"github.com/saxsdog/saxs/network/metrics"
	"github.com/saxsdog/saxs/network/stream"
)

// StreamStats counts what the stream receiver (ServerConfig.Stream) has
// seen since the server started.
type StreamStats struct {
	Messages   int64 // messages received
	Bad        int64 // messages that could not be decoded (logged, skipped)
	Series     int64 // series headers
	Frames     int64 // images received
	Integrated int64 // images integrated and written
	Failed     int64 // images that could not be decoded, integrated or written
	NoQueue    int64 // images received while no queue was running (not integrated)
	Dropped    int64 // frames missing: gaps in the frame numbers, and frames announced but not received by the series end
	Late       int64 // images out of order (below the next expected number)
	Stray      int64 // images and ends of no announced series
}

// streamState is the receiver's state shared with its workers.
type streamState struct {
	mu sync.Mutex
	st StreamStats
}

func (s *streamState) add(f func(*StreamStats)) {
	s.mu.Lock()
	f(&s.st)
	s.mu.Unlock()
}

// StreamStats returns the counts of the stream receiver.
func (s *Server) StreamStats() StreamStats {
	s.stream.mu.Lock()
	defer s.stream.mu.Unlock()
	return s.stream.st
}

// StreamName returns the base name of the files of frame frame of series
// series: <series>_<frame, 6 digits> (issue 12), e.g. 5_000017.
func StreamName(series uint64, frame int64) string {
	return fmt.Sprintf("%d_%06d", series, frame)
}

// streamJob is one image to integrate with the queue that was active
// when it arrived.
type streamJob struct {
	q  *queue
	h  *stream.Header
	im *stream.Image
}

// serveStream receives the detector stream at addr (the single PULL
// consumer: it connects to the detector's PUSH socket, and connects again
// when the connection is lost) until ctx ends, integrating its images with
// the active queue in workers of its own.
func (s *Server) serveStream(ctx context.Context, addr string) {
	workers := s.cfg.Threads
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	jobs := make(chan streamJob, 2*workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var w streamWorker
			for j := range jobs {
				s.streamFrame(ctx, &w, j)
			}
		}()
	}
	defer wg.Wait()
	defer close(jobs)
	var tr stream.Tracker
	for ctx.Err() == nil {
		err := s.pullOnce(ctx, addr, func(parts [][]byte) { s.streamMessage(ctx, &tr, parts, jobs) })
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("stream connection lost, connecting again", "stream", addr, "error", err)
		select {
		case <-ctx.Done():
		case <-time.After(reconnectDelay):
		}
	}
}

// pullOnce connects a PULL socket to addr and hands each message to fn
// until the socket fails or ctx ends (which closes the socket and ends
// the read).
func (s *Server) pullOnce(ctx context.Context, addr string, fn func([][]byte)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	gaddr, err := guarded(addr)
	if err != nil {
		return err
	}
	pull := zmq4.NewPull(ctx, zmq4.WithDialerRetry(reconnectDelay), zmq4.WithDialerMaxRetries(-1),
		zmq4.WithLogger(discardLogger()))
	defer pull.Close()
	if err := pull.Dial(gaddr); err != nil {
		return fmt.Errorf("stream %s: %w", addr, err)
	}
	s.log.Info("connected to the detector stream", "stream", addr)
	for {
		msg, err := pull.Recv()
		if err != nil {
			return err
		}
		fn(msg.Frames)
	}
}

// streamMessage decodes one message, tracks the series and queues its
// image for the workers. A bad message is logged and counted, never
// fatal.
func (s *Server) streamMessage(ctx context.Context, tr *stream.Tracker, parts [][]byte, jobs chan<- streamJob) {
	s.stream.add(func(st *StreamStats) { st.Messages++ })
	defer func() {
		if r := recover(); r != nil { // a decoder bug must not stop the server
			s.stream.add(func(st *StreamStats) { st.Bad++ })
			s.log.Error("stream message skipped: decoder panic", "panic", fmt.Sprint(r))
		}
	}()
	m, err := stream.Decode(parts, stream.Limits{})
	if err != nil {
		s.stream.add(func(st *StreamStats) { st.Bad++ })
		s.log.Warn("stream message skipped", "error", err)
		return
	}
	ev := tr.Add(m)
	switch m.Kind {
	case stream.KindHeader:
		h := m.Header
		s.stream.add(func(st *StreamStats) { st.Series++ })
		masked := 0
		if h.PixelMask != nil {
			masked = h.PixelMask.Count()
		}
		s.log.Info("stream series started", "series", h.Series, "version", int(h.Version), "expected frames", h.Expected(),
			"size", fmt.Sprintf("%d×%d", h.Cols, h.Rows), "pixel mask", masked, "count cutoff", h.CountCutoff)
		if q := s.queue(); q != nil {
			for _, d := range h.FrameInfo().Disagreements(q.spec.cal) {
				s.log.Warn("stream header disagrees with the calibration (the calibration is used)", "series", h.Series, "disagreement", d)
			}
		}
	case stream.KindImage:
		im := m.Image
		if ev.Stray {
			s.stream.add(func(st *StreamStats) { st.Stray++ })
			s.log.Warn("stream image of no announced series skipped", "series", im.Series, "frame", im.Frame)
			return
		}
		s.cfg.Metrics.StreamFrame()
		s.cfg.Metrics.StreamDropped(int(ev.Gap))
		s.stream.add(func(st *StreamStats) {
			st.Frames++
			st.Dropped += ev.Gap
			if ev.Late {
				st.Late++
				if st.Dropped > 0 {
					st.Dropped--
				}
			}
		})
		if ev.Gap > 0 {
			s.log.Warn("stream frames missing", "series", im.Series, "first missing", im.Frame-ev.Gap, "missing", ev.Gap)
		}
		if ev.Late {
			s.log.Warn("stream frame out of order", "series", im.Series, "frame", im.Frame)
		}
		q := s.queue()
		if q == nil {
			n := int64(0)
			s.stream.add(func(st *StreamStats) { st.NoQueue++; n = st.NoQueue })
			if n == 1 || n%1000 == 0 {
				s.log.Warn("stream frames received with no queue running: not integrated (start one with new)", "frames without a queue", n)
			}
			return
		}
		select {
		case jobs <- streamJob{q: q, h: ev.Header, im: im}:
		case <-ctx.Done():
		}
	case stream.KindEnd:
		if ev.Stray {
			s.stream.add(func(st *StreamStats) { st.Stray++ })
			s.log.Warn("stream end of no announced series", "series", m.End.Series)
			return
		}
		sum := ev.Summary
		s.stream.add(func(st *StreamStats) { st.Dropped += sum.MissingAtEnd })
		s.cfg.Metrics.StreamDropped(int(sum.MissingAtEnd))
		args := []any{"series", sum.Series, "received", sum.Received, "expected", sum.Expected, "dropped", sum.Dropped, "out of order", sum.Late}
		if sum.Expected > 0 && sum.Received != sum.Expected || sum.Dropped > 0 || sum.Late > 0 {
			s.log.Warn("stream series ended incomplete", args...)
		} else {
			s.log.Info("stream series ended", args...)
		}
	}
}

// streamWorker holds a worker's buffers.
type streamWorker struct {
	dec  stream.FrameDecoder
	img  saxs.Image
	res  *saxs.Result                      // of the last frame, made by ig
	ig   *saxs.Integrator                  // of the last frame
	ress map[*saxs.Integrator]*saxs.Result // a result per integrator used
}

// result returns the worker's result for ig.
func (w *streamWorker) result(ig *saxs.Integrator) *saxs.Result {
	if r, ok := w.ress[ig]; ok {
		return r
	}
	if w.ress == nil || len(w.ress) >= maxStreamIntegrators+1 {
		w.ress = map[*saxs.Integrator]*saxs.Result{}
	}
	r := ig.NewResult()
	w.ress[ig] = r
	return r
}

// streamFrame decodes, integrates and writes one image and records it in
// its queue.
func (s *Server) streamFrame(ctx context.Context, w *streamWorker, j streamJob) {
	name := StreamName(j.im.Series, j.im.Frame)
	defer func() {
		if r := recover(); r != nil { // a bug must not stop the server
			s.stream.add(func(st *StreamStats) { st.Failed++ })
			s.log.Error("stream frame failed: panic", "series", j.im.Series, "frame", j.im.Frame, "panic", fmt.Sprint(r))
			*w = streamWorker{}
		}
	}()
	err := j.q.streamFrame(ctx, w, j.h, j.im, name)
	if err != nil {
		s.stream.add(func(st *StreamStats) { st.Failed++ })
		return
	}
	s.stream.add(func(st *StreamStats) { st.Integrated++ })
}

// streamFrame integrates one stream image with the queue's calibration,
// its masks combined with the series' pixel mask and the image's
// saturated pixels, writes its curves below the queue's stream folder and
// records the frame as the watch's frames are recorded.
func (q *queue) streamFrame(ctx context.Context, w *streamWorker, h *stream.Header, im *stream.Image, name string) error {
	base := filepath.Join(q.streamDir, name)
	q.mu.Lock()
	q.found++
	q.mu.Unlock()
	err := q.streamIntegrate(ctx, w, h, im, base)
	if err != nil {
		q.metrics.FrameFailed()
		q.mu.Lock()
		q.streamFailures++
		n := q.streamFailures
		if n <= maxStreamFailures {
			q.failed = append(q.failed, batch.Failure{Path: base, Err: err}.String())
		} else {
			q.found-- // not listed: not counted in the queue length either
		}
		q.mu.Unlock()
		if n <= 10 || n%1000 == 0 {
			q.log.Warn("stream frame failed", "series", im.Series, "frame", im.Frame, "error", err, "stream frames failed", n)
		}
		return err
	}
	chis := w.ig.ChiPaths(base + ".chi")
	q.mu.Lock()
	q.convertedLocked(append(slices.Clone(chis), w.ig.SlicePaths(base+".chi")...)) // the slices' files too
	q.mu.Unlock()
	return q.Write(&batch.Frame{Path: base, ChiPaths: chis, Image: &w.img, Result: w.res, Source: name})
}

func (q *queue) streamIntegrate(ctx context.Context, w *streamWorker, h *stream.Header, im *stream.Image, base string) error {
	t0 := time.Now()
	if err := w.dec.Decode(im, &w.img); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	t1 := time.Now()
	q.metrics.ObserveStage(metrics.StageRead, t1.Sub(t0))
	ig, err := q.streamIntegrator(ctx, h, im, &w.img)
	if err != nil {
		return err
	}
	w.ig, w.res = ig, w.result(ig)
	t1 = time.Now()
	if err := ig.IntegrateFrameTo(w.res, &w.img, base); err != nil {
		return fmt.Errorf("integrate: %w", err)
	}
	t2 := time.Now()
	q.metrics.ObserveStage(metrics.StageIntegrate, t2.Sub(t1))
	defer func() { q.metrics.ObserveStage(metrics.StageWrite, time.Since(t2)) }()
	if err := os.MkdirAll(q.streamDir, 0o755); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	chi := base + ".chi"
	if err := ig.WriteChi(w.res, chi); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	cal := ig.Calibration()
	if q.streamDat {
		for i, p := range ig.ChiPaths(chi) {
			if p == "" {
				continue
			}
			if err := saxs.WriteDatFile(strings.TrimSuffix(p, ".chi")+".dat", cal, &w.res.Curves[i], filepath.Base(base)); err != nil {
				return fmt.Errorf("write: %w", err)
			}
		}
	}
	if q.streamNX {
		var curves []*saxs.Curve
		for i, p := range ig.ChiPaths(chi) {
			if p != "" {
				curves = append(curves, &w.res.Curves[i])
			}
		}
		if err := saxs.WriteNXcanSASFile(base+batch.NXcanSASSuffix, cal, filepath.Base(base), curves); err != nil {
			return fmt.Errorf("write: %w", err)
		}
	}
	return nil
}

// maxStreamFailures bounds the failed stream frames a queue lists (a
// detector that sends frames the calibration does not fit would fail 100
// frames a second); the ones after are counted and logged now and then.
const maxStreamFailures = 1000

// maxStreamIntegrators bounds the integrators a queue keeps for the
// pixel masks of series and the saturated pixels of frames.
const maxStreamIntegrators = 8

// streamIgs caches the integrators of a queue's stream frames by the
// content of the mask added to the calibration's masks.
type streamIgs struct {
	mu    sync.Mutex
	cover map[*stream.Header]*saxs.Mask // per series: pixels every curve excludes
	igs   map[[32]byte]*streamIg
}

type streamIg struct {
	ready chan struct{}
	ig    *saxs.Integrator
	err   error
}

// streamIntegrator returns the integrator for img of series h: the
// queue's own when the series has no pixel mask and img no saturated pixel
// that the masks let through, else one built for the calibration's masks
// each combined with the pixel mask and the saturated pixels.
func (q *queue) streamIntegrator(ctx context.Context, h *stream.Header, im *stream.Image, img *saxs.Image) (*saxs.Integrator, error) {
	pm := h.PixelMask
	if pm != nil && (pm.Rows != img.Rows || pm.Cols != img.Cols) {
		return nil, fmt.Errorf("the series' pixel mask is %d×%d, the frame %d×%d", pm.Cols, pm.Rows, img.Cols, img.Rows)
	}
	if pm != nil && pm.Count() == 0 {
		pm = nil
	}
	cover := q.streamCover(h, pm, img)
	extra := pm
	if sat := stream.Saturated(img, im.ElemSize, im.Signed, h.CountCutoff, cover); sat != nil {
		var err error
		if extra, err = saxs.CombineMasks(pm, sat); err != nil {
			return nil, err
		}
	}
	if extra == nil {
		return q.spec.ig, nil
	}
	return q.maskedIntegrator(ctx, extra)
}

// streamCover returns the pixels that every curve of the queue excludes
// once pm is added (saturated pixels there change nothing), computed once
// per series.
func (q *queue) streamCover(h *stream.Header, pm *saxs.Mask, img *saxs.Image) *saxs.Mask {
	c := &q.streamCache
	c.mu.Lock()
	defer c.mu.Unlock()
	if m, ok := c.cover[h]; ok {
		return m
	}
	if c.cover == nil || len(c.cover) > 16 {
		c.cover = map[*stream.Header]*saxs.Mask{}
	}
	n := img.Rows * img.Cols
	cover := &saxs.Mask{Rows: img.Rows, Cols: img.Cols, Masked: make([]bool, n)}
	for i := range cover.Masked {
		all := len(q.spec.masks) > 0
		for _, m := range q.spec.masks {
			if m == nil || len(m.Masked) != n || !m.Masked[i] {
				all = false
				break
			}
		}
		cover.Masked[i] = all || pm != nil && pm.Masked[i]
	}
	c.cover[h] = cover
	return cover
}

// maskedIntegrator returns the integrator for the queue's calibration
// with extra added to each of its masks, built on first use.
func (q *queue) maskedIntegrator(ctx context.Context, extra *saxs.Mask) (*saxs.Integrator, error) {
	key := batch.MaskKey(extra)
	c := &q.streamCache
	c.mu.Lock()
	if c.igs == nil {
		c.igs = map[[32]byte]*streamIg{}
	}
	e, ok := c.igs[key]
	if !ok {
		for k, old := range c.igs {
			if len(c.igs) < maxStreamIntegrators {
				break
			}
			select {
			case <-old.ready:
				delete(c.igs, k)
			default:
			}
		}
		e = &streamIg{ready: make(chan struct{})}
		c.igs[key] = e
	}
	c.mu.Unlock()
	if ok {
		select {
		case <-e.ready:
			return e.ig, e.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	defer close(e.ready)
	cal := q.spec.ig.Calibration()
	if len(q.spec.masks) != len(cal.Masks) {
		e.err = fmt.Errorf("stream pixel mask: %d masks for %d calibration masks", len(q.spec.masks), len(cal.Masks))
		return nil, e.err
	}
	masks := make([]*saxs.Mask, len(cal.Masks))
	for i := range masks {
		var err error
		if masks[i], err = saxs.CombineMasks(q.spec.masks[i], extra); err != nil {
			e.err = fmt.Errorf("stream pixel mask: %w", err)
			return nil, e.err
		}
	}
	q.log.Info("stream frame masks: building an integrator with the pixel mask and saturated pixels", "masked pixels", extra.Count())
	e.ig, e.err = saxs.NewContext(ctx, cal, saxs.Options{Masks: masks, Workers: q.spec.workers, CacheDir: q.cacheDir, Logger: q.log})
	if e.err == nil {
		q.metrics.OperatorBuilt()
	}
	if e.err != nil {
		e.err = fmt.Errorf("integrator for the stream's masks: %w", e.err)
	}
	return e.ig, e.err
}
