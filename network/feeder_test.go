package network

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saxsdog/saxs/internal/batch"
)

// collector gathers the paths a subscriber receives.
type collector struct {
	mu    sync.Mutex
	paths []string
}

func (c *collector) add(p string) {
	c.mu.Lock()
	c.paths = append(c.paths, p)
	c.mu.Unlock()
}

func (c *collector) list() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.paths...)
}

func (c *collector) count(p string) int {
	n := 0
	for _, x := range c.list() {
		if x == p {
			n++
		}
	}
	return n
}

// connected publishes a probe until the subscriber has seen one, so that
// no later message is lost to the connection set-up.
func connected(t *testing.T, pub *Publisher, c *collector) {
	t.Helper()
	waitFor(t, "the subscriber to connect", func() bool {
		require.NoError(t, pub.Publish("probe"))
		return c.count("probe") > 0
	})
}

// writeInChunks writes the file src to dst in two parts with a pause.
func writeInChunks(t *testing.T, src, dst string, pause time.Duration) {
	t.Helper()
	b, err := os.ReadFile(src)
	require.NoError(t, err)
	f, err := os.Create(dst)
	require.NoError(t, err)
	_, err = f.Write(b[:len(b)/2])
	require.NoError(t, err)
	time.Sleep(pause)
	_, err = f.Write(b[len(b)/2:])
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

func TestFeederAnnouncesCompleteFramesOnce(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	pub, err := ListenPub(ctx, "tcp://127.0.0.1:0", nil)
	require.NoError(t, err)
	var got collector
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		assert.NoError(t, Subscribe(ctx, pub.Endpoint(), got.add, nil))
	}()
	connected(t, pub, &got)
	watching := make(chan struct{})
	go func() {
		defer wg.Done()
		assert.NoError(t, RunFeeder(ctx, pub, FeederConfig{Dir: dir,
			Watch:    batch.Watch{Settle: 50 * time.Millisecond, Timeout: 5 * time.Second},
			Watching: func() { close(watching) }}))
	}()
	defer func() {
		cancel()
		wg.Wait()
		pub.Close()
	}()
	<-watching
	frames, err := filepath.Glob(filepath.Join(sampleDir, "frames", "run1", "*.tif"))
	require.NoError(t, err)
	var want []string
	for i, f := range frames {
		dst := filepath.Join(dir, filepath.Base(f))
		if i%2 == 0 {
			writeInChunks(t, f, dst, 200*time.Millisecond)
		} else {
			copyFile(t, f, dst)
		}
		want = append(want, dst)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a frame"), 0o644))
	for _, p := range want {
		waitFor(t, "announcement of "+p, func() bool { return got.count(p) > 0 })
	}
	// A late rewrite is announced again; the others are not.
	copyFile(t, frames[0], want[0]+".new")
	require.NoError(t, os.Rename(want[0]+".new", want[0]))
	waitFor(t, "second announcement", func() bool { return got.count(want[0]) == 2 })
	for _, p := range want[1:] {
		assert.Equal(t, 1, got.count(p), p)
	}
	for _, p := range got.list() {
		assert.NotContains(t, p, "notes.txt")
	}
}

func TestServerWithFeederConvertsEachFrameOnce(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pub, err := ListenPub(ctx, "tcp://127.0.0.1:0", nil)
	require.NoError(t, err)
	defer pub.Close()
	// Poll every hour: after its first scan the server's watch sees
	// nothing, so frames only arrive through the feeder.
	_, c, dir := testServer(t, func(cfg *ServerConfig) {
		cfg.Feeder = pub.Endpoint()
		cfg.Watch.Poll = time.Hour
	})
	run := filepath.Join(dir, "run1")
	require.NoError(t, os.MkdirAll(run, 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "run10"), 0o755))
	arg, atts := newRequest(t, []string{"run1"})
	r, err := c.Do(ctx, "new", arg, atts)
	require.NoError(t, err)
	require.Equal(t, ResultNewQueue, r.Result)

	frames, err := filepath.Glob(filepath.Join(sampleDir, "frames", "run1", "*.tif"))
	require.NoError(t, err)
	processed := func() int {
		r, err := c.Do(ctx, "stat", nil, nil)
		require.NoError(t, err)
		return statNumber(t, r, "images processed")
	}
	// Announce each frame repeatedly (relative and absolute paths), as the
	// subscriber may still be connecting: it is converted once.
	for i, f := range frames {
		name := filepath.Base(f)
		copyFile(t, f, filepath.Join(run, name))
		copyFile(t, f, filepath.Join(dir, "run10", name))
		waitFor(t, "conversion of "+name, func() bool {
			require.NoError(t, pub.Publish("run10/"+name)) // another folder: ignored
			if i%2 == 0 {
				require.NoError(t, pub.Publish("run1/"+name))
			} else {
				require.NoError(t, pub.Publish(filepath.Join(run, name)))
			}
			return processed() == i+1
		})
	}
	for range 5 { // more announcements of converted frames change nothing
		for _, f := range frames {
			require.NoError(t, pub.Publish("run1/"+filepath.Base(f)))
		}
	}
	r, err = c.Do(ctx, "fileslist", nil, nil)
	require.NoError(t, err)
	fl := r.Map()["fileslist"].(map[string]any)
	assert.Len(t, fl["Radial0"], len(frames), "each frame once: %v", fl["Radial0"])
	_, err = os.Stat(filepath.Join(dir, "work"))
	require.NoError(t, err)
	ents, err := os.ReadDir(filepath.Join(dir, "work"))
	require.NoError(t, err)
	assert.Len(t, ents, 2*len(frames), "no output from run10")

	// The feeder restarts on the same port: frames announced after it is
	// back are converted.
	port := pub.Addr().String()
	pub.Close()
	pub2, err := ListenPub(ctx, "tcp://"+port, nil)
	require.NoError(t, err)
	defer pub2.Close()
	copyFile(t, frames[0], filepath.Join(run, "after_restart.tif"))
	waitFor(t, "conversion after the feeder restart", func() bool {
		require.NoError(t, pub2.Publish("run1/after_restart.tif"))
		return processed() == len(frames)+1
	})
}

func TestFeederReplay(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pub, err := ListenPub(ctx, "tcp://127.0.0.1:0", nil)
	require.NoError(t, err)
	var got collector
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		assert.NoError(t, Subscribe(ctx, pub.Endpoint(), got.add, nil))
	}()
	connected(t, pub, &got)
	dir, err := filepath.Abs(filepath.Join(sampleDir, "frames"))
	require.NoError(t, err)
	go func() {
		defer wg.Done()
		assert.NoError(t, RunFeeder(ctx, pub, FeederConfig{Dir: dir, Replay: true, ReplayEvery: 20 * time.Millisecond}))
	}()
	defer func() {
		cancel()
		wg.Wait()
		pub.Close()
	}()
	frames, err := filepath.Glob(filepath.Join(dir, "*", "*.tif"))
	require.NoError(t, err)
	for _, f := range frames {
		waitFor(t, "repeated announcements of "+f, func() bool { return got.count(f) >= 2 })
	}
}
