package network

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saxsdog/saxs/internal/filelist"
	"github.com/saxsdog/saxs/internal/testframes"
	"github.com/saxsdog/saxs/network/cluster"
)

// forkRequest is newRequest with the py3 fork's root keys set (nil
// removes one).
func forkRequest(t *testing.T, dir []string, keys map[string]any) (Obj, [][]byte) {
	t.Helper()
	arg, atts := newRequest(t, dir)
	cal := arg["calibration"].(map[string]any)
	for k, v := range keys {
		if v == nil {
			delete(cal, k)
		} else {
			cal[k] = v
		}
	}
	return arg, atts
}

// globChi returns the .chi files in dir, sorted.
func globChi(t *testing.T, dir string) []string {
	t.Helper()
	l, err := filepath.Glob(filepath.Join(dir, "*.chi"))
	require.NoError(t, err)
	slices.Sort(l)
	return l
}

// follower reads a growing file like tail -f in a goroutine until stop is
// called, and counts the lines it saw whole and those that did not parse.
type follower struct {
	lines, torn, reads, partial atomic.Int64
	stop                        func()
}

func follow(path string) *follower {
	f := &follower{}
	done := make(chan struct{})
	quit := make(chan struct{})
	go func() {
		defer close(done)
		var file *os.File
		var pending []byte
		buf := make([]byte, 1<<16)
		for {
			var last bool
			select {
			case <-quit:
				last = true
			default:
			}
			if file == nil {
				file, _ = os.Open(path)
			}
			if file != nil {
				if n, _ := file.Read(buf); n > 0 {
					f.reads.Add(1)
					pending = append(pending, buf[:n]...)
					end := bytes.LastIndexByte(pending, '\n') + 1
					if end != len(pending) {
						f.partial.Add(1)
					}
					for _, l := range strings.SplitAfter(string(pending[:end]), "\n") {
						if l == "" {
							continue
						}
						f.lines.Add(1)
						if _, err := filelist.ParseLine(l); err != nil {
							f.torn.Add(1)
						}
					}
					pending = pending[end:]
					continue
				}
			}
			if last {
				if file != nil {
					file.Close()
				}
				return
			}
			time.Sleep(time.Millisecond)
			runtime.Gosched()
		}
	}()
	f.stop = func() { close(quit); <-done }
	return f
}

// The fork's keys in the server: Live-Filelisting lists each .chi file of
// the queue in SERVERDIR/exp/results/filelist_setup1.txt (followed while
// it is written); OverwriteFiles false makes readdir skip the frames
// whose outputs exist, leaving them untouched, counted as skipped (stat,
// on request) and not listed; true converts them again.
func TestServerOverwriteFilesAndLiveList(t *testing.T) {
	_, c, dir := testServer(t, nil)
	ctx := context.Background()
	setup := filepath.Join(dir, "exp", "setup1")
	require.NoError(t, os.MkdirAll(setup, 0o755))
	work := filepath.Join(dir, "exp", "work")
	list := filepath.Join(dir, "exp", "results", "filelist_setup1.txt")
	qRange := func(string) (float64, float64) { return 0.2, 2.0 }
	stat := func() *Reply {
		r, err := c.Do(ctx, "stat", nil, nil)
		require.NoError(t, err)
		return r
	}

	arg, atts := forkRequest(t, []string{"exp", "setup1"}, map[string]any{"Live-Filelisting": true})
	r, err := c.Do(ctx, "new", arg, atts)
	require.NoError(t, err)
	require.Equal(t, ResultNewQueue, r.Result, string(r.Raw))
	fol := follow(list)
	src, err := filepath.Glob(filepath.Join(sampleDir, "frames", "*", "*.tif"))
	require.NoError(t, err)
	var frames []string
	for _, f := range src {
		p := filepath.Join(setup, filepath.Base(filepath.Dir(f))+"_"+filepath.Base(f))
		copyFile(t, f, p)
		frames = append(frames, p)
	}
	waitFor(t, "all frames converted", func() bool { return statNumber(t, stat(), "images processed") == len(frames) })
	chis := globChi(t, work)
	require.Len(t, chis, 2*len(frames))
	waitFor(t, "the list complete", func() bool {
		data, _ := os.ReadFile(list)
		return bytes.Count(data, []byte("\n")) >= len(chis)
	})
	fol.stop()
	testframes.CheckLiveList(t, list, chis, qRange)
	assert.Equal(t, int64(len(chis)), fol.lines.Load(), "the follower saw every line")
	assert.Zero(t, fol.torn.Load(), "torn lines seen while the list was written")
	t.Logf("follower: %d reads, %d lines, %d torn, %d reads ending inside a line", fol.reads.Load(), fol.lines.Load(), fol.torn.Load(), fol.partial.Load())
	listed, err := os.ReadFile(list)
	require.NoError(t, err)

	// OverwriteFiles false: readdir finds the frames, skips them all.
	before, fl := skipPhase(t, c, stat, frames, chis, list, listed)
	assert.Len(t, fl["Radial0"], len(frames), "the skipped frames' outputs are result files")
	// An original client (no additions asked for) gets no new member.
	plain := *c
	plain.Plain = true
	r, err = plain.Do(ctx, "stat", nil, nil)
	require.NoError(t, err)
	assert.NotContains(t, r.Map()["stat"], StatSkipped)

	// OverwriteFiles true: converted again, rewritten, listed again.
	rewritePhase(t, c, stat, frames, chis, list, before, qRange)
	assert.Zero(t, statNumber(t, stat(), StatSkipped))
}

// skipPhase asks a new queue of exp/setup1 with OverwriteFiles false to
// convert the frames, whose outputs chis exist and are listed in list
// (its content listed): every frame is skipped, no file is touched and
// the list stays as it was. It returns the outputs' states before and the
// fileslist reply.
func skipPhase(t *testing.T, c *Client, stat func() *Reply, frames, chis []string, list string, listed []byte) (map[string]testframes.FileState, map[string]any) {
	t.Helper()
	ctx := context.Background()
	testframes.AgeFiles(t, frames, chis)
	before := testframes.FileStates(t, chis)
	arg, atts := forkRequest(t, []string{"exp", "setup1"}, map[string]any{"Live-Filelisting": true, "OverwriteFiles": false})
	r, err := c.Do(ctx, "new", arg, atts)
	require.NoError(t, err)
	require.Equal(t, ResultNewQueue, r.Result, string(r.Raw))
	r, err = c.Do(ctx, "readdir", nil, nil)
	require.NoError(t, err)
	require.Equal(t, ResultRestarted, r.Result, string(r.Raw))
	waitFor(t, "all frames skipped", func() bool { return statNumber(t, stat(), StatSkipped) == len(frames) })
	st := stat()
	assert.Zero(t, statNumber(t, st, "images processed"))
	assert.Zero(t, statNumber(t, st, "queue length"), "skipped frames are not waiting")
	for p, s := range testframes.FileStates(t, chis) {
		assert.True(t, s.Same(before[p]), "%s touched although OverwriteFiles is false", p)
	}
	now, err := os.ReadFile(list)
	require.NoError(t, err)
	assert.Equal(t, string(listed), string(now), "skipped frames listed")
	r, err = c.Do(ctx, "fileslist", nil, nil)
	require.NoError(t, err)
	fl := r.Map()["fileslist"].(map[string]any)
	assert.Empty(t, fl["Failed"], "a skipped frame is no failure")
	return before, fl
}

// rewritePhase removes list and asks a new queue of exp/setup1 with
// OverwriteFiles true to convert the frames again: every output is
// rewritten (newer than before) and listed again.
func rewritePhase(t *testing.T, c *Client, stat func() *Reply, frames, chis []string, list string, before map[string]testframes.FileState, qRange func(string) (float64, float64)) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, os.Remove(list))
	arg, atts := forkRequest(t, []string{"exp", "setup1"}, map[string]any{"Live-Filelisting": true, "OverwriteFiles": true})
	r, err := c.Do(ctx, "new", arg, atts)
	require.NoError(t, err)
	require.Equal(t, ResultNewQueue, r.Result, string(r.Raw))
	_, err = c.Do(ctx, "readdir", nil, nil)
	require.NoError(t, err)
	waitFor(t, "all frames converted again", func() bool { return statNumber(t, stat(), "images processed") == len(frames) })
	for p, s := range testframes.FileStates(t, chis) {
		assert.True(t, s.MTime.After(before[p].MTime), "%s not rewritten with OverwriteFiles true", p)
	}
	waitFor(t, "the list complete", func() bool {
		data, _ := os.ReadFile(list)
		return bytes.Count(data, []byte("\n")) >= len(chis)
	})
	testframes.CheckLiveList(t, list, chis, qRange)
}

// Without the keys the server writes no list and converts every frame
// (readdir converts frames whose outputs exist again).
func TestServerWithoutForkKeys(t *testing.T) {
	_, c, dir := testServer(t, nil)
	ctx := context.Background()
	frames := startSample(t, c, dir)
	chis := globChi(t, filepath.Join(dir, "work"))
	require.Len(t, chis, 2*len(frames))
	_, err := os.Stat(filepath.Join(dir, "results"))
	assert.True(t, os.IsNotExist(err), "a results folder without Live-Filelisting: %v", err)
	var run []string
	for _, f := range frames {
		run = append(run, filepath.Join(dir, "run1", filepath.Base(f)))
	}
	testframes.AgeFiles(t, run, chis)
	before := testframes.FileStates(t, chis)
	_, err = c.Do(ctx, "readdir", nil, nil)
	require.NoError(t, err)
	waitFor(t, "the frames converted again", func() bool {
		r, err := c.Do(ctx, "stat", nil, nil)
		require.NoError(t, err)
		return statNumber(t, r, "images processed") == len(frames)
	})
	for p, s := range testframes.FileStates(t, chis) {
		assert.True(t, s.MTime.After(before[p].MTime), "%s not rewritten", p)
		assert.True(t, bytes.Equal(s.Data, before[p].Data), "%s: other bytes", p)
	}
}

// startInProcessWorker runs a cluster worker on SERVERDIR dir in this
// process until the test ends.
func startInProcessWorker(t *testing.T, url, dir string) {
	t.Helper()
	nc, err := cluster.Connect(cluster.ConnectOptions{URL: url})
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	w, err := cluster.NewWorker(nc, cluster.WorkerConfig{ServerDir: dir, Threads: 2, RetryDelay: 20 * time.Millisecond})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		assert.NoError(t, <-done)
	})
}

// In the cluster the head writes the live list from the workers' results,
// once per frame: a result delivered twice (a worker that published it and
// died before its acknowledgement, so that the job went again) is listed
// once. The workers skip frames whose outputs exist with OverwriteFiles
// false (untouched, counted as skipped, not listed) and convert them again
// with true.
func TestClusterOverwriteFilesAndLiveList(t *testing.T) {
	head, url := clusterHead(t, cluster.Settings{AckWait: 5 * time.Second, MaxDeliver: 3})
	_, c, dir := testServer(t, func(cfg *ServerConfig) { cfg.Cluster = head })
	ctx := context.Background()
	startInProcessWorker(t, url, dir)
	setup := filepath.Join(dir, "exp", "setup1")
	require.NoError(t, os.MkdirAll(setup, 0o755))
	work := filepath.Join(dir, "exp", "work")
	list := filepath.Join(dir, "exp", "results", "filelist_setup1.txt")
	qRange := func(string) (float64, float64) { return 0.2, 2.0 }
	stat := func() *Reply {
		r, err := c.Do(ctx, "stat", nil, nil)
		require.NoError(t, err)
		return r
	}
	src, err := filepath.Glob(filepath.Join(sampleDir, "frames", "*", "*.tif"))
	require.NoError(t, err)
	require.NotEmpty(t, src)

	arg, atts := forkRequest(t, []string{"exp", "setup1"}, map[string]any{"Live-Filelisting": true})
	r, err := c.Do(ctx, "new", arg, atts)
	require.NoError(t, err)
	require.Equal(t, ResultNewQueue, r.Result, string(r.Raw))
	var frames []string
	for _, f := range src {
		p := filepath.Join(setup, filepath.Base(filepath.Dir(f))+"_"+filepath.Base(f))
		copyFile(t, f, p)
		frames = append(frames, p)
	}
	waitFor(t, "all frames converted", func() bool { return statNumber(t, stat(), "images processed") == len(frames) })

	// Every result once more on its subject, as a job delivered again
	// after its result was published; then one more frame, whose result
	// comes after them in the ordered results consumer.
	js := head.JetStream()
	rs, err := js.Stream(ctx, cluster.ResultsStream)
	require.NoError(t, err)
	info, err := rs.Info(ctx)
	require.NoError(t, err)
	dups := 0
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := rs.GetMsg(ctx, seq)
		if err != nil || !strings.HasPrefix(m.Subject, cluster.ResultsPrefix) {
			continue
		}
		_, err = js.Publish(ctx, m.Subject, m.Data)
		require.NoError(t, err)
		dups++
	}
	require.Equal(t, len(frames), dups, "one result per frame to deliver again")
	extra := filepath.Join(setup, "late_00001.tif")
	copyFile(t, src[0], extra)
	frames = append(frames, extra)
	waitFor(t, "the late frame converted", func() bool { return statNumber(t, stat(), "images processed") == len(frames) })
	chis := globChi(t, work)
	require.Len(t, chis, 2*len(frames))
	testframes.CheckLiveList(t, list, chis, qRange)
	listed, err := os.ReadFile(list)
	require.NoError(t, err)

	// OverwriteFiles false: the workers skip every frame of readdir.
	before, _ := skipPhase(t, c, stat, frames, chis, list, listed)

	// OverwriteFiles true: converted again.
	rewritePhase(t, c, stat, frames, chis, list, before, qRange)
}
