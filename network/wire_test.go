package network

import (
	"bytes"
	"context"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saxsdog/saxs/internal/pyjson"
)

// rawRequest sends frames as they are and decodes the reply.
func rawRequest(t *testing.T, addr string, frames ...[]byte) *Reply {
	t.Helper()
	rep, err := RoundTrip(context.Background(), addr, frames, 10*time.Second)
	require.NoError(t, err)
	require.Len(t, rep, 1)
	r, err := ParseReply(rep[0])
	require.NoError(t, err, string(rep[0]))
	return r
}

func signedFrame(t *testing.T, req Obj, secret string, now time.Time) []byte {
	t.Helper()
	require.NoError(t, Sign(req, secret, now))
	b, err := pyjson.Marshal(req)
	require.NoError(t, err)
	return b
}

// TestServerSurvivesMalformedInput sends each malformed request and checks
// that it gets an error reply and that a valid request works after it.
func TestServerSurvivesMalformedInput(t *testing.T) {
	_, c, _ := testServer(t, nil)
	stat := func() []byte {
		return signedFrame(t, Obj{"command": "stat", "argument": Obj{}}, testSecret, time.Now())
	}
	big := bytes.Repeat([]byte("x"), 100<<20)
	cases := []struct {
		name   string
		frames [][]byte
		result string
	}{
		{"not JSON", [][]byte{[]byte("this is not json")}, ResultValueError},
		{"truncated JSON", [][]byte{[]byte(`{"command": "stat"`)}, ResultValueError},
		{"invalid UTF-8", [][]byte{[]byte("{\"command\": \"st\xffat\"}")}, ResultValueError},
		{"not an object", [][]byte{[]byte(`[1, 2, 3]`)}, ResultValidation},
		{"command not a string", [][]byte{[]byte(`{"command": 5}`)}, ResultValidation},
		{"unknown command", [][]byte{[]byte(`{"command": "format disk"}`)}, ResultValidation},
		{"unknown key", [][]byte{[]byte(`{"command": "stat", "extra": 1}`)}, ResultValidation},
		{"argument not an object", [][]byte{[]byte(`{"command": "stat", "argument": []}`)}, ResultValidation},
		{"unsigned", [][]byte{[]byte(`{"command": "stat"}`)}, ResultAuthError},
		{"time not a number", [][]byte{[]byte(`{"command": "stat", "time": "now", "sign": ""}`)}, ResultAuthError},
		{"extra frames", [][]byte{stat(), []byte("surprise")}, ResultValueError},
		{"100 MB frame", [][]byte{big}, ResultValueError},
		{"new without calibration", [][]byte{signedFrame(t, Obj{"command": "new", "argument": Obj{}}, testSecret, time.Now())}, ResultValueError},
		{"new with a bad calibration", [][]byte{signedFrame(t, Obj{"command": "new", "argument": Obj{"calibration": Obj{"Wavelength": "x"}}}, testSecret, time.Now())}, ResultValueError},
		{"mergedata without queue", [][]byte{signedFrame(t, Obj{"command": "mergedata", "argument": Obj{"mergeconf": Obj{}}}, testSecret, time.Now())}, ResultError},
		{"plotdata", [][]byte{signedFrame(t, Obj{"command": "plotdata", "argument": Obj{}}, testSecret, time.Now())}, ResultNotImplemented},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := rawRequest(t, c.Addr, tc.frames...)
			assert.Equal(t, tc.result, r.Result, string(r.Raw))
			assert.NotEmpty(t, r.ErrorText(), "an error reply explains itself")
			ok := rawRequest(t, c.Addr, stat())
			assert.Equal(t, ResultStat, ok.Result)
		})
	}
}

// TestRepServerRecoversFromPanics checks that a panic in a handler is
// answered with a ServerError reply and that the loop goes on.
func TestRepServerRecoversFromPanics(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	rep, err := ListenRep(ctx, "tcp://127.0.0.1:0", func(_ context.Context, frames [][]byte) []byte {
		if string(frames[0]) == "boom" {
			panic("handler exploded")
		}
		return []byte(`{"result": "ok", "data": {}}`)
	}, nil)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- rep.Serve(ctx) }()
	defer func() { cancel(); <-done }()
	r := rawRequest(t, rep.Endpoint(), []byte("boom"))
	assert.Equal(t, ResultServerError, r.Result)
	assert.Contains(t, r.ErrorText(), "handler exploded")
	r = rawRequest(t, rep.Endpoint(), []byte("fine"))
	assert.Equal(t, "ok", r.Result)
}

func TestServerRejectsBadSignatures(t *testing.T) {
	_, c, _ := testServer(t, nil)
	req := func() Obj { return Obj{"command": "stat", "argument": Obj{}} }
	wrong := signedFrame(t, req(), "not the secret, but long enough...", time.Now())
	old := signedFrame(t, req(), testSecret, time.Now().Add(-2*Window))
	good := signedFrame(t, req(), testSecret, time.Now())
	for _, tc := range []struct {
		name   string
		frame  []byte
		reason string
	}{{"wrong secret", wrong, ReasonWrongSig}, {"old", old, ReasonUntimely}} {
		r := rawRequest(t, c.Addr, tc.frame)
		assert.Equal(t, ResultAuthError, r.Result, tc.name)
		assert.Equal(t, tc.reason, r.ErrorText(), tc.name)
	}
	r := rawRequest(t, c.Addr, good)
	assert.Equal(t, ResultStat, r.Result)
	r = rawRequest(t, c.Addr, good)
	assert.Equal(t, ResultAuthError, r.Result, "replay")
	assert.Equal(t, ReasonReplayed, r.ErrorText())
	r, err := c.Do(context.Background(), "stat", nil, nil)
	require.NoError(t, err)
	assert.Equal(t, ResultStat, r.Result, "the server goes on")
}

func TestServerAttachmentDigests(t *testing.T) {
	for _, strict := range []bool{false, true} {
		_, c, dir := testServer(t, func(cfg *ServerConfig) { cfg.Strict = strict })
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "run1"), 0o755))
		arg, atts := newRequest(t, []string{"run1"})
		// A tampered attachment with the digests of the original.
		arg["data"] = Obj{DigestKey: []any{Digest(atts[0]), Digest(atts[1])}}
		bad, err := FileAttachment("mask.msk", []byte("MASK but not the one signed"))
		require.NoError(t, err)
		f0 := signedFrame(t, Obj{"command": "new", "argument": arg}, testSecret, time.Now())
		r := rawRequest(t, c.Addr, f0, bad, atts[1])
		assert.Equal(t, ResultAuthError, r.Result)
		// Without digests: accepted unless strict.
		arg2, atts2 := newRequest(t, []string{"run1"})
		f0 = signedFrame(t, Obj{"command": "new", "argument": arg2}, testSecret, time.Now())
		r = rawRequest(t, c.Addr, append([][]byte{f0}, atts2...)...)
		if strict {
			assert.Equal(t, ResultAuthError, r.Result)
		} else {
			assert.Equal(t, ResultNewQueue, r.Result, string(r.Raw))
		}
	}
}

func TestListdirStaysInServerDir(t *testing.T) {
	_, c, dir := testServer(t, nil)
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a", "x.tif"), nil, 0o644))
	outside := t.TempDir()
	require.NoError(t, os.Symlink(outside, filepath.Join(dir, "a", "out")))
	require.NoError(t, os.Symlink(filepath.Join(dir, "a", "b"), filepath.Join(dir, "a", "in")))
	ctx := context.Background()
	r, err := c.Do(ctx, "listdir", Obj{"directory": []any{"a"}}, nil)
	require.NoError(t, err)
	require.Equal(t, ResultListdir, r.Result, string(r.Raw))
	assert.Equal(t, []any{"a"}, r.Map()["directory"])
	var names []string
	for _, e := range r.Map()["dircontent"].([]any) {
		m := e.(map[string]any)
		names = append(names, m["path"].(string))
		if m["path"] == "b" || m["path"] == "in" {
			assert.Equal(t, true, m["isdir"])
		}
		if m["path"] == "x.tif" {
			assert.Equal(t, false, m["isdir"])
		}
	}
	assert.Equal(t, []string{"b", "in", "out", "x.tif"}, names)
	for _, d := range [][]any{{".."}, {"a", "..", ".."}, {"/etc"}, {"a", "out"}, {outside}} {
		r, err := c.Do(ctx, "listdir", Obj{"directory": d}, nil)
		require.NoError(t, err)
		assert.Equal(t, ResultOSError, r.Result, "%v: %s", d, r.Raw)
	}
	r, err = c.Do(ctx, "listdir", Obj{"directory": []any{"a", "in"}}, nil)
	require.NoError(t, err)
	assert.Equal(t, ResultListdir, r.Result, "a link that stays inside is followed")

	// new refuses the same folders.
	arg, atts := newRequest(t, []string{"a", "out"})
	r, err = c.Do(ctx, "new", arg, atts)
	require.NoError(t, err)
	assert.Equal(t, ResultError, r.Result)
	assert.Contains(t, r.ErrorText(), "leaves the server folder")
	arg, atts = newRequest(t, []string{".."})
	r, err = c.Do(ctx, "new", arg, atts)
	require.NoError(t, err)
	assert.Equal(t, ResultError, r.Result)
}

func TestNewFlatForm(t *testing.T) {
	_, c, dir := testServer(t, nil)
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "u", "e", "s"), 0o755))
	arg, atts, err := LoadNewFlat(filepath.Join(sampleDir, "cal.json"), filepath.Join(sampleDir, "mask.msk"), "u/e/s")
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"calibration", "directory"}, slices.Collect(maps.Keys(arg)), "the 0.3.0 schema allows no more")
	ctx := context.Background()
	c.NoDigests = true
	r, err := c.Do(ctx, "new", arg, atts)
	require.NoError(t, err)
	require.Equal(t, ResultNewQueue, r.Result, string(r.Raw))
	copyFile(t, filepath.Join(sampleDir, "frames", "run1", "sample_00001.tif"), filepath.Join(dir, "u", "e", "s", "f.tif"))
	waitFor(t, "the frame converted", func() bool {
		_, err := os.Stat(filepath.Join(dir, "u", "e", "work", "f.chi"))
		return err == nil
	})
	r, err = c.Do(ctx, "get", nil, nil)
	require.NoError(t, err)
	require.Equal(t, ResultCal, r.Result)
	assert.Equal(t, []any{"u", "e", "s"}, r.Map()["directory"])
	assert.NotEmpty(t, r.Map()["mask"].(map[string]any)["data"], "0.3.0 clients read the mask here")
	assert.Len(t, r.Map()["attachments"], 1)
}

func TestNewWhileRunningStopsTheOldQueue(t *testing.T) {
	_, c, dir := testServer(t, nil)
	ctx := context.Background()
	for _, d := range []string{"run1", "run2"} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	cycle := func() {
		for _, d := range []string{"run1", "run2"} {
			arg, atts := newRequest(t, []string{d})
			r, err := c.Do(ctx, "new", arg, atts)
			require.NoError(t, err)
			require.Equal(t, ResultNewQueue, r.Result, string(r.Raw))
		}
		r, err := c.Do(ctx, "abort", nil, nil)
		require.NoError(t, err)
		require.Equal(t, ResultAborted, r.Result)
	}
	cycle()
	base := settledGoroutines()
	for range 3 {
		cycle()
	}
	// The queues' goroutines (workers, watch, subscriber) all end; only
	// those of the sockets of the requests may linger for a moment.
	assert.LessOrEqual(t, settledGoroutines(), base+2, "goroutines leak across new/abort")
	r, err := c.Do(ctx, "stat", nil, nil)
	require.NoError(t, err)
	assert.Equal(t, Obj{}, r.Map()["stat"], "no queue after abort")
}

// settledGoroutines returns the goroutine count once it stops falling.
func settledGoroutines() int {
	n := runtime.NumGoroutine()
	for range 50 {
		time.Sleep(20 * time.Millisecond)
		m := runtime.NumGoroutine()
		if m >= n {
			return m
		}
		n = m
	}
	return n
}

func TestDirectoryCollision(t *testing.T) {
	nc := &NetConf{Path: "test", Entries: []Entry{
		{Server: "tcp://127.0.0.1:1", Feeder: "tcp://127.0.0.1:2", Secret: testSecret, Name: "A"},
		{Server: "tcp://127.0.0.1:3", Feeder: "tcp://127.0.0.1:4", Secret: testSecret, Name: "B"},
	}}
	sa, ca, dir := testServer(t, func(cfg *ServerConfig) { cfg.NetConf = nc; cfg.Index = 0 })
	nc.Entries[0].Server = sa.Endpoint()
	_, cb, _ := testServer(t, func(cfg *ServerConfig) { cfg.NetConf = nc; cfg.Index = 1; cfg.Dir = dir })
	for _, d := range []string{"run1/sub", "run10", "run1"} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	ctx := context.Background()
	arg, atts := newRequest(t, []string{"run1"})
	r, err := ca.Do(ctx, "new", arg, atts)
	require.NoError(t, err)
	require.Equal(t, ResultNewQueue, r.Result)
	for _, d := range []string{"run1", "run1/sub", "."} {
		arg, atts := newRequest(t, strings.Split(d, "/"))
		r, err := cb.Do(ctx, "new", arg, atts)
		require.NoError(t, err)
		assert.Equal(t, ResultError, r.Result, d)
		assert.Contains(t, r.ErrorText(), "collides", d)
	}
	arg, atts = newRequest(t, []string{"run10"})
	r, err = cb.Do(ctx, "new", arg, atts)
	require.NoError(t, err)
	assert.Equal(t, ResultNewQueue, r.Result, "run10 is not inside run1: %s", r.Raw)
}

func TestNoAnswer(t *testing.T) {
	c := &Client{Addr: "tcp://127.0.0.1:9", Secret: testSecret, Timeout: 300 * time.Millisecond}
	_, err := c.Do(context.Background(), "stat", nil, nil)
	var na *NoAnswerError
	require.ErrorAs(t, err, &na)
	assert.Equal(t, "no server answered at tcp://127.0.0.1:9 within 300ms", err.Error())
}

func BenchmarkStatRoundTrip(b *testing.B) {
	s, err := NewServer(ServerConfig{Dir: b.TempDir(), NetConf: &NetConf{Entries: []Entry{{Server: "tcp://127.0.0.1:1",
		Feeder: "tcp://127.0.0.1:2", Secret: testSecret}}}, Bind: "tcp://127.0.0.1:0"})
	require.NoError(b, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	require.NoError(b, s.Listen(ctx))
	go s.Serve(ctx)
	c := &Client{Addr: s.Endpoint(), Secret: testSecret}
	b.ResetTimer()
	for range b.N {
		r, err := c.Do(ctx, "stat", nil, nil)
		if err != nil || r.Result != ResultStat {
			b.Fatal(err)
		}
	}
}
