package network

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/saxsdog/saxs/internal/saxsdogcli"
)

// vsFrames returns the frame count of BenchmarkServerVsBatch: 2000, or
// SAXS_BENCH_FRAMES.
func vsFrames(b *testing.B) int {
	if v := os.Getenv("SAXS_BENCH_FRAMES"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(b, err, "SAXS_BENCH_FRAMES")
		return n
	}
	return 2000
}

// vsThreads is the thread count of both sides of BenchmarkServerVsBatch.
const vsThreads = 2

// round is what one round of BenchmarkServerVsBatch measured.
type round struct {
	fixed       time.Duration // the fixed part: wall time
	fixedCPU    cpuTime       // and CPU time
	rate        float64       // frames/s from the 10% to the 100% mark
	cpuPerFrame cpuTime       // CPU time of the rest over the frames
}

// cpuTime is a process's user and system CPU time.
type cpuTime struct{ user, sys time.Duration }

func (c cpuTime) sub(d cpuTime) cpuTime { return cpuTime{c.user - d.user, c.sys - d.sys} }

func (c cpuTime) total() time.Duration { return c.user + c.sys }

func (c cpuTime) per(n int) cpuTime {
	return cpuTime{c.user / time.Duration(n), c.sys / time.Duration(n)}
}

// processCPU returns the user and system CPU time of this process.
func processCPU(b *testing.B) cpuTime {
	var ru syscall.Rusage
	require.NoError(b, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return cpuTime{time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())}
}

// threadCPU returns the CPU time of the calling OS thread (the caller has
// locked its goroutine to it).
func threadCPU(b *testing.B) cpuTime {
	var ru syscall.Rusage
	require.NoError(b, syscall.Getrusage(syscall.RUSAGE_THREAD, &ru))
	return cpuTime{time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())}
}

// benchDir returns a new folder for frames and outputs: below
// SAXS_BENCH_DIR when set (/dev/shm takes the disk's noise out of the
// comparison), else the benchmark's temporary folder.
func benchDir(b *testing.B) string {
	base := os.Getenv("SAXS_BENCH_DIR")
	if base == "" {
		return b.TempDir()
	}
	d, err := os.MkdirTemp(base, "saxsbench")
	require.NoError(b, err)
	b.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// marks records when a count first reaches the 10% mark and the end.
type marks struct {
	n                int
	mu               sync.Mutex
	tMark, tEnd      time.Time
	nMark            int
	markDone, endHit bool
}

func (m *marks) see(done int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	if !m.markDone && done >= m.n/10 {
		m.tMark, m.nMark, m.markDone = now, done, true
	}
	if !m.endHit && done >= m.n {
		m.tEnd, m.endHit = now, true
	}
}

func (m *marks) rate(b *testing.B) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	require.True(b, m.markDone && m.endHit, "the marks were not reached")
	return float64(m.n-m.nMark) / m.tEnd.Sub(m.tMark).Seconds()
}

// progressWriter feeds the "done=N" of saxsdog -S's progress lines (one
// every 100 frames) to marks.
type progressWriter struct{ m *marks }

var doneRE = regexp.MustCompile(`\bdone=(\d+)`)

func (w progressWriter) Write(p []byte) (int, error) {
	for _, l := range bytes.Split(p, []byte("\n")) {
		if s := doneRE.FindSubmatch(l); s != nil {
			n, _ := strconv.Atoi(string(s[1]))
			w.m.see(n)
		}
	}
	return len(p), nil
}

// vsCase is a set of frames of BenchmarkServerVsBatch and the 2.0
// calibration that integrates them (its masks beside it).
type vsCase struct {
	name   string
	cal    string // path of the calibration
	frames string // glob of the frames
}

// vsCases are the frames of BenchmarkServerVsBatch: the bundled sample
// (128×160 pixels, 82 KB, two curves), and a real Pilatus 1M frame
// (981×1043, 4 MB, one curve) and the calibration of ../shared, as a
// beamline's frames are.
var vsCases = []vsCase{
	{"sample", filepath.Join(sampleDir, "cal2.json"), filepath.Join(sampleDir, "frames", "*", "*.tif")},
	{"pilatus1M", filepath.Join(referenceDir, "cal2.json"), filepath.Join(referenceDir, "buf1_00000.tif")},
}

// benchSources copies the frames of vc into dir (so that hard links stay
// on one file system) and returns them.
func benchSources(b *testing.B, vc vsCase, dir string) []string {
	frames, err := filepath.Glob(vc.frames)
	require.NoError(b, err)
	if len(frames) == 0 {
		b.Skipf("no frames %s (../shared is needed for %s)", vc.frames, vc.name)
	}
	var out []string
	for i, f := range frames {
		data, err := os.ReadFile(f)
		require.NoError(b, err)
		p := filepath.Join(dir, fmt.Sprintf("s%d.tif", i))
		require.NoError(b, os.WriteFile(p, data, 0o644))
		out = append(out, p)
	}
	return out
}

// linkN hard-links n frames of src into dir, named b_NNNNN.tif.
func linkN(b *testing.B, src []string, dir string, n int) {
	require.NoError(b, os.MkdirAll(dir, 0o755))
	for i := range n {
		require.NoError(b, os.Link(src[i%len(src)], filepath.Join(dir, fmt.Sprintf("b_%05d.tif", i))))
	}
}

// batchRound runs the saxsdog command (in this process) once on an empty
// folder, the fixed part, and once on n frames.
func batchRound(b *testing.B, cal string, src []string, n int, out string) round {
	root := benchDir(b)
	empty := filepath.Join(root, "empty", "run1")
	require.NoError(b, os.MkdirAll(empty, 0o755))
	args := func(out, dir string) []string {
		return []string{"-c", cal, "--no-cache", "-S", "-t", strconv.Itoa(vsThreads), "-o", out, dir}
	}
	cpu0, t0 := processCPU(b), time.Now()
	require.Equal(b, 0, saxsdogcli.Main(args(benchDir(b), empty), io.Discard, io.Discard))
	r := round{fixed: time.Since(t0), fixedCPU: processCPU(b).sub(cpu0)}

	dir := filepath.Join(root, "data", "run1")
	linkN(b, src, dir, n)
	m := &marks{n: n}
	cpu0 = processCPU(b)
	require.Equal(b, 0, saxsdogcli.Main(args(out, dir), io.Discard, progressWriter{m}))
	r.cpuPerFrame = processCPU(b).sub(cpu0).sub(r.fixedCPU).per(n)
	r.rate = m.rate(b)
	return r
}

// serverRound starts a server and a feeder in this process, both as
// saxsdogserver and saxsfeeder run them (default watch settings, logs at
// Info, no operator cache, as batchRound's --no-cache), sends new (the
// fixed part) and links n frames into the queue folder, the feeder
// announcing each.
func serverRound(b *testing.B, vc vsCase, src []string, n int, out string) round {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := benchDir(b)
	run := filepath.Join(dir, "run1")
	require.NoError(b, os.MkdirAll(run, 0o755))

	pub, err := ListenPub(ctx, "tcp://127.0.0.1:0", log)
	require.NoError(b, err)
	defer pub.Close()
	watching := make(chan struct{})
	feederDone := make(chan error, 1)
	go pprof.Do(ctx, pprof.Labels("side", "feeder"), func(ctx context.Context) {
		feederDone <- RunFeeder(ctx, pub, FeederConfig{Dir: run, Logger: log, Watching: func() { close(watching) }})
	})
	<-watching

	s, err := NewServer(ServerConfig{Dir: dir, NetConf: &NetConf{Path: "bench", Entries: []Entry{{Server: "tcp://127.0.0.1:1",
		Feeder: pub.Endpoint(), Secret: testSecret}}}, Bind: "tcp://127.0.0.1:0", Threads: vsThreads, OutDir: out, Logger: log})
	require.NoError(b, err)
	sctx, stop := context.WithCancel(ctx)
	require.NoError(b, s.Listen(sctx))
	served := make(chan error, 1)
	go func() { served <- s.Serve(sctx) }()
	c := &Client{Addr: s.Endpoint(), Secret: testSecret, Timeout: time.Minute}
	cal, atts, err := LoadNew(vc.cal)
	require.NoError(b, err)
	cal["Directory"] = toAny([]string{"run1"})
	arg := Obj{"calibration": cal, "data": Obj{}}

	cpu0, t0 := processCPU(b), time.Now()
	rep, err := c.Do(ctx, "new", arg, atts)
	require.NoError(b, err)
	require.Equal(b, ResultNewQueue, rep.Result, string(rep.Raw))
	r := round{fixed: time.Since(t0), fixedCPU: processCPU(b).sub(cpu0)}
	// Give the queue's subscriber time to connect to the feeder (outside
	// the measurement), so that every frame is also announced.
	time.Sleep(300 * time.Millisecond)

	m := &marks{n: n}
	linkCPU := make(chan cpuTime, 1)
	cpu0 = processCPU(b)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		c0 := threadCPU(b)
		linkN(b, src, run, n)
		linkCPU <- threadCPU(b).sub(c0)
	}()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		done := s.processed()
		m.see(done)
		if done >= n {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d frames converted after 5 minutes", done, n)
		}
		time.Sleep(2 * time.Millisecond)
	}
	r.cpuPerFrame = processCPU(b).sub(cpu0).sub(<-linkCPU).per(n)
	r.rate = m.rate(b)
	stop()
	require.NoError(b, <-served)
	cancel()
	require.NoError(b, <-feederDone)
	return r
}

// chiByName maps the .chi files below root by their base names.
func chiByName(b *testing.B, root string) map[string][]byte {
	m := map[string][]byte{}
	require.NoError(b, filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) != ".chi" {
			return err
		}
		data, err := os.ReadFile(p)
		m[d.Name()] = data
		return err
	}))
	return m
}

// runCal writes the calibration of vc with Directory [dir] (what the
// server's new gets, so that the .chi headers agree) and its masks into a
// temporary folder and returns its path and number of masks (of .chi
// files per frame).
func runCal(b *testing.B, vc vsCase, dir string) (string, int) {
	data, err := os.ReadFile(vc.cal)
	require.NoError(b, err)
	old := "\"Directory\": [\n        \".\"\n    ]"
	require.True(b, bytes.Contains(data, []byte(old)), "%s has no %q", vc.cal, old)
	var doc struct{ Masks []struct{ MaskFile string } }
	require.NoError(b, json.Unmarshal(data, &doc), vc.cal)
	data = bytes.Replace(data, []byte(old), []byte(`"Directory": ["`+dir+`"]`), 1)
	caldir := b.TempDir()
	p := filepath.Join(caldir, "cal.json")
	require.NoError(b, os.WriteFile(p, data, 0o644))
	for _, m := range doc.Masks {
		mask, err := os.ReadFile(filepath.Join(filepath.Dir(vc.cal), m.MaskFile))
		require.NoError(b, err)
		require.NoError(b, os.WriteFile(filepath.Join(caldir, m.MaskFile), mask, 0o644))
	}
	return p, len(doc.Masks)
}

// BenchmarkServerVsBatch compares, side by side in one run, the server
// (Server with a feeder, RunFeeder, in this process; frames hard-linked
// into its queue folder after new) with the saxsdog command (saxsdogcli,
// in this process) on the same SAXS_BENCH_FRAMES (default 2000) frames,
// both with 2 threads: the sample frames (sub-benchmark sample) and a
// Pilatus 1M frame of ../shared with its calibration and fit2d mask
// (pilatus1M, skipped without ../shared). Each of the b.N iterations is
// one batch round followed by one server round, so that the rounds alternate and
// the noise of a shared machine falls on both alike; the metrics are the
// medians over the rounds:
//
//   - frames/s of each (from the 10% to the 100% mark: saxsdog's progress
//     lines, the queue's images processed) and their ratio server/batch
//     (the median of the ratios of the pairs);
//   - CPU µs per frame, and its user part (getrusage of the process,
//     without the fixed part and without the benchmark's own links);
//   - the fixed costs in ms: saxsdog on an empty folder (start, operator
//     build), the server's new round trip (operator build, queue start).
//
// The frames and outputs go below SAXS_BENCH_DIR when set (/dev/shm: no
// disk, whose cost both sides share and which varies most on a shared
// machine). The .chi files of the first pair are compared byte for byte. Run with
// -benchtime 3x (three pairs); add -cpuprofile to profile both paths
// (the samples are labelled side=batch, side=server and, for the server's
// feeder, side=feeder).
func BenchmarkServerVsBatch(b *testing.B) {
	for _, vc := range vsCases {
		b.Run(vc.name, func(b *testing.B) { benchServerVsBatch(b, vc) })
	}
}

func benchServerVsBatch(b *testing.B, vc vsCase) {
	n := vsFrames(b)
	src := benchSources(b, vc, benchDir(b))
	cal, curves := runCal(b, vc, "run1")
	var bat, srv []round
	var ratios []float64
	for i := range b.N {
		bout, sout := benchDir(b), benchDir(b)
		// The labels tell the rounds apart in a profile (go tool pprof
		// -tagfocus side=server): goroutines inherit them.
		var br, sr round
		pprof.Do(context.Background(), pprof.Labels("side", "batch"), func(context.Context) {
			br = batchRound(b, cal, src, n, bout)
		})
		pprof.Do(context.Background(), pprof.Labels("side", "server"), func(context.Context) {
			sr = serverRound(b, vc, src, n, sout)
		})
		bat, srv = append(bat, br), append(srv, sr)
		ratios = append(ratios, sr.rate/br.rate)
		b.Logf("pair %d: batch %.0f frames/s, CPU/frame %.1f µs (user %.1f), fixed %.1f ms; server %.0f frames/s, CPU/frame %.1f µs (user %.1f), fixed %.1f ms; ratio %.3f",
			i, br.rate, us(br.cpuPerFrame.total()), us(br.cpuPerFrame.user), ms(br.fixed),
			sr.rate, us(sr.cpuPerFrame.total()), us(sr.cpuPerFrame.user), ms(sr.fixed), sr.rate/br.rate)
		if i == 0 {
			bc, sc := chiByName(b, bout), chiByName(b, sout)
			require.Equal(b, curves*n, len(bc), "saxsdog's .chi files")
			require.Equal(b, curves*n, len(sc), "the server's .chi files")
			for name, data := range bc {
				if !bytes.Equal(data, sc[name]) {
					b.Fatalf("%s: the server's .chi differs from saxsdog's", name)
				}
			}
		}
	}
	med := func(f func(round) float64, rs []round) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		return median(v)
	}
	rate := func(r round) float64 { return r.rate }
	cpu := func(r round) float64 { return us(r.cpuPerFrame.total()) }
	user := func(r round) float64 { return us(r.cpuPerFrame.user) }
	fixed := func(r round) float64 { return ms(r.fixed) }
	fixedCPU := func(r round) float64 { return ms(r.fixedCPU.total()) }
	b.ReportMetric(med(rate, bat), "batch-frames/s")
	b.ReportMetric(med(rate, srv), "server-frames/s")
	b.ReportMetric(median(ratios), "ratio")
	b.ReportMetric(med(cpu, bat), "batch-cpu-µs/frame")
	b.ReportMetric(med(cpu, srv), "server-cpu-µs/frame")
	b.ReportMetric(med(user, bat), "batch-user-µs/frame")
	b.ReportMetric(med(user, srv), "server-user-µs/frame")
	b.ReportMetric(med(fixed, bat), "batch-fixed-ms")
	b.ReportMetric(med(fixed, srv), "server-fixed-ms")
	b.ReportMetric(med(fixedCPU, bat), "batch-fixed-cpu-ms")
	b.ReportMetric(med(fixedCPU, srv), "server-fixed-cpu-ms")
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
