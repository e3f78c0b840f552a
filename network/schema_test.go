package network

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saxsdog/saxs/internal/pyjson"
)

// The members the original result schemas (LeashResultSchema.json, spec
// §9.9) allow in data and in data.stat; both objects have
// additionalProperties false, and original 2.0 clients validate every
// reply against the schema.
var (
	schemaDataKeys = []string{"cal", "Error", "syncplot", "directory", "attachments", "threads", "dircontent",
		"history", "fileslist", "stat", "filename", "IntegralParameters", "graphs"}
	schemaStatKeys = []string{"queue length", "images processed", "time", "start time", "mergecount"}
	// 0.3.0, for the replies about a queue started with the 0.3.0 form
	// of new.
	schemaDataKeys030 = []string{"cal", "Error", "directory", "mask", "stat", "filename", "array"}
)

// twoStatKeys are the members of the stat object of a running queue as
// the 2.0 server sends them (spec §9.7; mergecount only after a merge).
var twoStatKeys = []string{"images processed", "queue length", "start time", "time"}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func isInteger(v any) bool {
	n, ok := v.(json.Number)
	return ok && !strings.ContainsAny(string(n), ".eE")
}

func isNumber(v any) bool {
	switch v.(type) {
	case json.Number, float64: // NaN and ±Infinity decode as float64
		return true
	}
	return false
}

// checkSchema checks a reply against the result schema with the data
// members allowed: the root has exactly result (a string) and data (an
// object); data has only allowed members; stat, graphs and directory have
// the schema's types.
func checkSchema(t *testing.T, what string, r *Reply, allowed []string) {
	t.Helper()
	v, err := pyjson.Decode(r.Raw)
	require.NoError(t, err, what)
	root, ok := v.(map[string]any)
	require.True(t, ok, "%s: %s", what, r.Raw)
	assert.Equal(t, []string{"data", "result"}, sortedKeys(root), "%s: root members", what)
	_, ok = root["result"].(string)
	assert.True(t, ok, "%s: result is not a string", what)
	data, ok := root["data"].(map[string]any)
	require.True(t, ok, "%s: data is not an object: %s", what, r.Raw)
	for k, x := range data {
		assert.Contains(t, allowed, k, "%s: data member %q is not in the schema", what, k)
		switch k {
		case "stat":
			st, ok := x.(map[string]any)
			require.True(t, ok, "%s: stat is not an object", what)
			for sk, sv := range st {
				assert.Contains(t, schemaStatKeys, sk, "%s: stat member %q is not in the schema", what, sk)
				switch sk {
				case "queue length", "images processed":
					assert.True(t, isInteger(sv), "%s: stat %q = %v is not an integer", what, sk, sv)
				default:
					assert.True(t, isNumber(sv), "%s: stat %q = %v is not a number", what, sk, sv)
				}
			}
		case "filename":
			_, ok := x.(string)
			assert.True(t, ok, "%s: filename is not a string", what)
		case "directory":
			l, ok := x.([]any)
			require.True(t, ok, "%s: directory is not a list", what)
			for _, e := range l {
				_, ok := e.(string)
				assert.True(t, ok, "%s: directory holds %v", what, e)
			}
		case "graphs":
			l, ok := x.([]any)
			require.True(t, ok, "%s: graphs is not a list", what)
			for _, g := range l {
				gm, ok := g.(map[string]any)
				require.True(t, ok, "%s: a graph is not an object", what)
				assert.Contains(t, []any{"Radial", "Slice"}, gm["kind"], what)
				_, ok = gm["conf"].(map[string]any)
				assert.True(t, ok, "%s: conf is not an object", what)
				for _, s := range gm["columnLabels"].([]any) {
					_, ok := s.(string)
					assert.True(t, ok, "%s: a column label is %v", what, s)
				}
				cols := gm["array"].([]any)
				for _, e := range cols[0].([]any) {
					assert.True(t, isNumber(e), "%s: array[0] holds %v", what, e)
				}
			}
		}
	}
}

// TestRepliesFitTheResultSchema drives a server as an original 2.0 client
// does (requests without our argument.data members) through every command
// and checks each reply against the 2.0 result schema; stat has exactly
// the 2.0 keys. Our client, which asks for them, gets "frames per sec",
// "images skipped" and the Failed list.
func TestRepliesFitTheResultSchema(t *testing.T) {
	_, ours, dir := testServer(t, nil)
	plain := &Client{Addr: ours.Addr, Secret: testSecret, Timeout: ours.Timeout, Plain: true}
	ctx := context.Background()
	do := func(c *Client, cmd string, arg Obj) *Reply {
		t.Helper()
		r, err := c.Do(ctx, cmd, arg, nil)
		require.NoError(t, err, cmd)
		return r
	}
	// A stat as the original client sends it, built by hand.
	origStat := func() *Reply {
		return rawRequest(t, ours.Addr, signedFrame(t, Obj{"command": "stat", "argument": Obj{}}, testSecret, time.Now()))
	}

	r := origStat()
	checkSchema(t, "stat without a queue", r, schemaDataKeys)
	assert.Empty(t, r.Map()["stat"])
	checkSchema(t, "plot without a queue", do(plain, "plot", nil), schemaDataKeys)
	checkSchema(t, "get without a queue", do(plain, "get", nil), schemaDataKeys)
	checkSchema(t, "readdir without a queue", do(plain, "readdir", nil), schemaDataKeys)

	frames := startSample(t, plain, dir)
	n := len(frames)

	r = origStat()
	require.Equal(t, ResultStat, r.Result)
	checkSchema(t, "stat", r, schemaDataKeys)
	assert.Equal(t, twoStatKeys, sortedKeys(r.Map()["stat"].(map[string]any)), "an original client's stat has the 2.0 keys only")
	assert.Equal(t, n, statNumber(t, r, "images processed"))

	r = do(plain, "plot", nil)
	require.Equal(t, ResultPlot, r.Result)
	checkSchema(t, "plot", r, schemaDataKeys)
	assert.Equal(t, twoStatKeys, sortedKeys(r.Map()["stat"].(map[string]any)))

	r = do(plain, "get", nil)
	require.Equal(t, ResultCal, r.Result)
	checkSchema(t, "get", r, schemaDataKeys)
	assert.Len(t, r.Map()["attachments"], 2, "a 2.0 queue's get has its attachments, one per mask")

	r = do(plain, "fileslist", nil)
	require.Equal(t, ResultFileslist, r.Result)
	checkSchema(t, "fileslist", r, schemaDataKeys)
	assert.Equal(t, []string{"Radial0", "Radial1"}, sortedKeys(r.Map()["fileslist"].(map[string]any)), "no Failed list unless asked")

	r = do(plain, "listdir", Obj{"directory": []any{"run1"}})
	require.Equal(t, ResultListdir, r.Result)
	checkSchema(t, "listdir", r, schemaDataKeys)
	checkSchema(t, "listdir outside", do(plain, "listdir", Obj{"directory": []any{".."}}), schemaDataKeys)

	// Our client asks for the additions and gets them.
	r = do(ours, "stat", nil)
	st := r.Map()["stat"].(map[string]any)
	assert.Equal(t, []string{"frames per sec", "images processed", StatSkipped, "queue length", "start time", "time"}, sortedKeys(st))
	assert.Zero(t, num(t, st[StatSkipped]), "no frame skipped without OverwriteFiles false")
	assert.Equal(t, float64(n)/HistoryWindow.Seconds(), num(t, st[StatFramesPerSec]), "the frames of the last HistoryWindow per second")
	r = do(ours, "plot", nil)
	assert.Contains(t, r.Map()["stat"], StatFramesPerSec)
	r = do(ours, "fileslist", nil)
	fl := r.Map()["fileslist"].(map[string]any)
	assert.Equal(t, []string{FailedList, "Radial0", "Radial1"}, sortedKeys(fl))
	assert.Empty(t, fl[FailedList])
	// So does a hand-made request with the member (as a 2.0 client could).
	r = rawRequest(t, ours.Addr, signedFrame(t, Obj{"command": "stat", "argument": Obj{"data": Obj{FramesPerSecKey: true}}}, testSecret, time.Now()))
	assert.Contains(t, r.Map()["stat"], StatFramesPerSec)
	// Only true asks.
	r = rawRequest(t, ours.Addr, signedFrame(t, Obj{"command": "stat", "argument": Obj{"data": Obj{FramesPerSecKey: "yes"}}}, testSecret, time.Now()))
	assert.NotContains(t, r.Map()["stat"], StatFramesPerSec)

	for _, cmd := range []string{"close", "readdir", "abort"} {
		r = do(plain, cmd, nil)
		require.False(t, Failed(r.Result), "%s: %s", cmd, r.Raw)
		checkSchema(t, cmd, r, schemaDataKeys)
		assert.NotContains(t, r.Map()["stat"], StatFramesPerSec, cmd)
	}

	// Error replies: data is an object with Error (the original's
	// ValidationError put a string in data, against its own schema).
	for _, tc := range []struct {
		what  string
		frame []byte
	}{
		{"validation", signedFrame(t, Obj{"command": "stat", "argument": Obj{}, "extra": 1}, testSecret, time.Now())},
		{"unknown command", signedFrame(t, Obj{"command": "frobnicate"}, testSecret, time.Now())},
		{"not JSON", []byte("{nope")},
		{"wrong signature", signedFrame(t, Obj{"command": "stat", "argument": Obj{}}, "wrong", time.Now())},
		{"not implemented", signedFrame(t, Obj{"command": "plotdata", "argument": Obj{}}, testSecret, time.Now())},
	} {
		r := rawRequest(t, ours.Addr, tc.frame)
		assert.True(t, Failed(r.Result), "%s: %s", tc.what, r.Raw)
		checkSchema(t, tc.what, r, schemaDataKeys)
		msg, ok := r.Map()["Error"].(string)
		assert.True(t, ok && msg != "", "%s: data.Error is %v", tc.what, r.Map()["Error"])
	}
}

// TestFlatQueueRepliesFitTheOldSchema: the get reply about a queue started
// with the 0.3.0 form of new has the 0.3.0 members (the mask in data.mask)
// for a plain request, and the attachments too for ours.
func TestFlatQueueRepliesFitTheOldSchema(t *testing.T) {
	_, ours, dir := testServer(t, nil)
	plain := &Client{Addr: ours.Addr, Secret: testSecret, Timeout: ours.Timeout, Plain: true}
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "u", "e", "s"), 0o755))
	arg, atts, err := LoadNewFlat(filepath.Join(sampleDir, "cal.json"), filepath.Join(sampleDir, "mask.msk"), "u/e/s")
	require.NoError(t, err)
	ctx := context.Background()
	r, err := plain.Do(ctx, "new", arg, atts)
	require.NoError(t, err)
	require.Equal(t, ResultNewQueue, r.Result, string(r.Raw))

	r, err = plain.Do(ctx, "get", nil, nil)
	require.NoError(t, err)
	require.Equal(t, ResultCal, r.Result)
	checkSchema(t, "get (0.3.0 queue)", r, schemaDataKeys030)
	mask, err := os.ReadFile(filepath.Join(sampleDir, "mask.msk"))
	require.NoError(t, err)
	a, err := FileAttachment("", mask)
	require.NoError(t, err)
	want, err := pyjson.Decode(a)
	require.NoError(t, err)
	assert.Equal(t, want.(map[string]any)["data"], r.Map()["mask"].(map[string]any)["data"], "the mask file, base64")

	r, err = ours.Do(ctx, "get", nil, nil)
	require.NoError(t, err)
	assert.Len(t, r.Map()["attachments"], 1)
}
