package network

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// announcedServer starts a server whose queue folder SERVERDIR/run1 is fed
// by announcements on a Publisher of the test; it returns the server, a
// client, the publisher and the queue folder.
func announcedServer(t testing.TB, ctx context.Context) (*Server, *Client, *Publisher, string) {
	t.Helper()
	pub, err := ListenPub(ctx, "tcp://127.0.0.1:0", nil)
	require.NoError(t, err)
	t.Cleanup(func() { pub.Close() })
	dir := t.TempDir()
	cfg := ServerConfig{Dir: dir, NetConf: &NetConf{Path: "test", Entries: []Entry{{Server: "tcp://127.0.0.1:1",
		Feeder: pub.Endpoint(), Secret: testSecret}}}, Bind: "tcp://127.0.0.1:0", Threads: 2, OutDir: t.TempDir()}
	s, err := NewServer(cfg)
	require.NoError(t, err)
	sctx, cancel := context.WithCancel(ctx)
	require.NoError(t, s.Listen(sctx))
	done := make(chan error, 1)
	go func() { done <- s.Serve(sctx) }()
	t.Cleanup(func() { cancel(); <-done })
	c := &Client{Addr: s.Endpoint(), Secret: testSecret, Timeout: time.Minute}
	run := filepath.Join(dir, "run1")
	require.NoError(t, os.MkdirAll(run, 0o755))
	arg, atts := newRequest(t, []string{"run1"})
	r, err := c.Do(ctx, "new", arg, atts)
	require.NoError(t, err)
	require.Equal(t, ResultNewQueue, r.Result, string(r.Raw))
	return s, c, pub, run
}

// loadDuration is how long TestServerUnderLoad polls: 3 s, or
// SAXS_LOAD_SECONDS.
func loadDuration(t *testing.T) time.Duration {
	if v := os.Getenv("SAXS_LOAD_SECONDS"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err, "SAXS_LOAD_SECONDS")
		return time.Duration(n) * time.Second
	}
	return 3 * time.Second
}

// 20 clients poll stat and plot, each on its own, while frames are
// announced and converted. Every request is answered (the client timeout
// is a minute: an unanswered request fails the test, a slow one does
// not), every frame is converted and written exactly once. The latencies
// are logged (p50, p99, max). SAXS_LOAD_SECONDS=30 runs the 30 s.
func TestServerUnderLoad(t *testing.T) {
	const clients = 20
	frames, err := filepath.Glob(filepath.Join(sampleDir, "frames", "run1", "*.tif"))
	require.NoError(t, err)
	ctx := context.Background()
	s, c, pub, run := announcedServer(t, ctx)
	d := loadDuration(t)

	// The subscriber connects in the background: announce a first frame
	// until it is converted.
	p0 := filepath.Join(run, "first.tif")
	copyFile(t, frames[0], p0)
	waitFor(t, "the first announced frame", func() bool {
		require.NoError(t, pub.Publish(p0))
		return s.processed() == 1
	})

	stop := make(chan struct{})
	var wg sync.WaitGroup
	lat := make([][]time.Duration, clients)
	errs := make([][]string, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := &Client{Addr: c.Addr, Secret: testSecret, Timeout: time.Minute}
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				cmd := []string{"stat", "plot"}[k%2]
				t0 := time.Now()
				r, err := cl.Do(ctx, cmd, nil, nil)
				lat[i] = append(lat[i], time.Since(t0))
				switch {
				case err != nil:
					errs[i] = append(errs[i], fmt.Sprintf("%s: %v", cmd, err))
				case r.Result != cmd:
					errs[i] = append(errs[i], fmt.Sprintf("%s: result %q", cmd, r.Result))
				}
			}
		}()
	}
	// Frames at about 100 per second, as fast as a lab detector.
	produced := 1
	tick := time.NewTicker(10 * time.Millisecond)
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		<-tick.C
		p := filepath.Join(run, fmt.Sprintf("f_%06d.tif", produced))
		require.NoError(t, os.Link(frames[produced%len(frames)], p))
		require.NoError(t, pub.Publish(p))
		produced++
	}
	tick.Stop()
	close(stop)
	wg.Wait()
	waitFor(t, "every announced frame converted", func() bool { return s.processed() >= produced })

	var all []time.Duration
	for i := range clients {
		all = append(all, lat[i]...)
		assert.Empty(t, errs[i], "client %d", i)
	}
	slices.Sort(all)
	require.NotEmpty(t, all)
	t.Logf("%v, %d clients: %d stat/plot requests, p50 %v, p99 %v, max %v; %d frames converted",
		d, clients, len(all), all[len(all)/2], all[len(all)*99/100], all[len(all)-1], produced)

	r, err := c.Do(ctx, "fileslist", nil, nil)
	require.NoError(t, err)
	fl, _ := r.Map()["fileslist"].(map[string]any)
	for _, key := range []string{"Radial0", "Radial1"} {
		l, err := StringList(fl[key])
		require.NoError(t, err)
		assert.Len(t, l, produced, "%s: each frame written once", key)
		assert.Len(t, slices.Compact(slices.Sorted(slices.Values(l))), produced, "%s: no frame twice", key)
	}
	assert.Equal(t, produced, s.processed(), "no frame converted twice")
	var chis []string
	require.NoError(t, filepath.WalkDir(s.cfg.OutDir, func(p string, e os.DirEntry, err error) error {
		if err == nil && filepath.Ext(p) == ".chi" {
			chis = append(chis, p)
		}
		return err
	}))
	assert.Len(t, chis, 2*produced, ".chi files")
}

// Two clients that send the same command at the same instant send the
// same bytes; the server rejects the second as a replay, unexecuted, and
// the client sends it again at a later time.
func TestClientResendsReplayedRequest(t *testing.T) {
	_, c, _ := testServer(t, nil)
	at := time.Now()
	fixed := func() time.Time { return at }
	for i := range 3 {
		cl := &Client{Addr: c.Addr, Secret: testSecret, Timeout: time.Minute, Now: fixed}
		r, err := cl.Do(context.Background(), "stat", nil, nil)
		require.NoError(t, err)
		assert.Equal(t, ResultStat, r.Result, "client %d at the same instant", i)
	}
	raw := signedFrame(t, Obj{"command": "stat", "argument": Obj{"data": additions("stat")}}, testSecret, at)
	r := rawRequest(t, c.Addr, raw)
	assert.Equal(t, ReasonReplayed, r.ErrorText(), "the server did see the same bytes again")
}
