package web

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/saxsdog/saxs/internal/batch"
	"github.com/saxsdog/saxs/network"
)

// testSecret is the shared secret of the test servers; no response of the
// web server may contain it.
const testSecret = "web-test-secret-0123456789abcdef-XYZZY"

// sampleDir is the bundled sample data set.
const sampleDir = "../../testdata/sample"

// backend is a saxsdog server on 127.0.0.1 over a fresh SERVERDIR.
type backend struct {
	endpoint string
	dir      string
}

// startBackend starts an in-process saxsdog server (no feeder) that ends
// with the test.
func startBackend(t *testing.T) *backend {
	t.Helper()
	dir := t.TempDir()
	nc := &network.NetConf{Path: "test", Entries: []network.Entry{{Server: "tcp://127.0.0.1:1",
		Feeder: "tcp://127.0.0.1:2", Secret: testSecret, Name: "Test"}}}
	s, err := network.NewServer(network.ServerConfig{Dir: dir, NetConf: nc, Bind: "tcp://127.0.0.1:0", Feeder: "-",
		Threads: 2, Watch: batch.Watch{Settle: 50 * time.Millisecond, Timeout: 5 * time.Second}})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, s.Listen(ctx))
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	return &backend{endpoint: s.Endpoint(), dir: dir}
}

// webServer is a running web leash.
type webServer struct {
	*Server
	base string // http://127.0.0.1:port
}

// startWeb serves a web leash on 127.0.0.1 for the given server
// addresses (all with testSecret); it ends with the test.
func startWeb(t *testing.T, servers ...string) *webServer {
	t.Helper()
	nc := &network.NetConf{Path: "test"}
	for i, a := range servers {
		nc.Entries = append(nc.Entries, network.Entry{Server: a, Feeder: "tcp://127.0.0.1:9823", Secret: testSecret,
			Name: []string{"SAXS", "WAXS", "Other"}[i%3]})
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s, err := NewServer(Config{NetConf: nc, Timeout: 2 * time.Second, StatusTimeout: 500 * time.Millisecond,
		Poll: 200 * time.Millisecond}, ln.Addr().String())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	return &webServer{Server: s, base: "http://" + ln.Addr().String()}
}

// get does a request with optional headers and returns status and body.
func do(t *testing.T, c *http.Client, method, url, body string, hdr map[string]string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	require.NoError(t, err)
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// sessionClient opens the page with the token and keeps the cookie.
func sessionClient(t *testing.T, w *webServer) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	st, body := do(t, c, "GET", w.base+"/?token="+w.Token(), "", nil)
	require.Equal(t, http.StatusOK, st)
	require.Contains(t, body, "<title>SAXS Leash</title>")
	return c
}

func TestRefusedWithoutTokenForeignOriginOrHost(t *testing.T) {
	b := startBackend(t)
	w := startWeb(t, "tcp://"+strings.TrimPrefix(b.endpoint, "tcp://"))
	plain := &http.Client{Timeout: 10 * time.Second}
	paths := []struct{ method, path, body string }{
		{"GET", "/", ""}, {"GET", "/app.js", ""}, {"GET", "/api/servers", ""},
		{"POST", "/api/server/0/abort", "{}"}, {"POST", "/api/server/0/get", "{}"},
		{"GET", "/api/server/0/events", ""}, {"POST", "/api/validate", "{}"},
		{"GET", "/api/calibrants", ""}, {"POST", "/api/calibrate", "{}"}, {"POST", "/api/calibrate/apply", "{}"},
	}
	// The token with its first character changed ("0"+token[1:] was
	// the token itself whenever it began with 0).
	wrong := []byte(w.Token())
	if wrong[0] == '0' {
		wrong[0] = '1'
	} else {
		wrong[0] = '0'
	}
	for _, p := range paths {
		st, _ := do(t, plain, p.method, w.base+p.path, p.body, nil)
		require.Equal(t, http.StatusForbidden, st, "%s %s without token", p.method, p.path)
		st, _ = do(t, plain, p.method, w.base+p.path, p.body, map[string]string{"X-Saxsleash-Token": string(wrong)})
		require.Equal(t, http.StatusForbidden, st, "%s %s with a wrong token", p.method, p.path)
	}
	st, _ := do(t, plain, "GET", w.base+"/?token=wrong", "", nil)
	require.Equal(t, http.StatusForbidden, st)

	c := sessionClient(t, w)
	// With the session cookie but from another page or another host name.
	for _, p := range paths {
		st, _ := do(t, c, p.method, w.base+p.path, p.body, map[string]string{"Origin": "http://evil.example"})
		require.Equal(t, http.StatusForbidden, st, "%s %s with a foreign Origin", p.method, p.path)
		st, _ = do(t, c, p.method, w.base+p.path, p.body, map[string]string{"Origin": "null"})
		require.Equal(t, http.StatusForbidden, st, "%s %s with Origin null", p.method, p.path)
		// DNS rebinding: evil.example resolves to 127.0.0.1, the browser
		// sends Host: evil.example:port and the cookie is not sent, but
		// even with the token the request is refused.
		port := w.base[strings.LastIndex(w.base, ":")+1:]
		st, _ = do(t, plain, p.method, w.base+p.path, p.body, map[string]string{"Host": "evil.example:" + port,
			"X-Saxsleash-Token": w.Token()})
		require.Equal(t, http.StatusMisdirectedRequest, st, "%s %s with a foreign Host", p.method, p.path)
		st, _ = do(t, c, p.method, w.base+p.path, p.body, map[string]string{"Sec-Fetch-Site": "cross-site"})
		require.Equal(t, http.StatusForbidden, st, "%s %s cross-site", p.method, p.path)
	}
	// The same requests from the page itself pass.
	st, body := do(t, c, "GET", w.base+"/api/servers", "", map[string]string{"Origin": w.base})
	require.Equal(t, http.StatusOK, st, body)
	st, _ = do(t, plain, "GET", w.base+"/api/servers", "", map[string]string{"Authorization": "token " + w.Token(),
		"Host": "localhost:" + w.base[strings.LastIndex(w.base, ":")+1:]})
	require.Equal(t, http.StatusOK, st)
}

func TestUploadLimit(t *testing.T) {
	w := startWeb(t, "tcp://127.0.0.1:1")
	w.cfg.MaxUpload = 1 << 20 // before the first request
	c := sessionClient(t, w)
	big := `{"filename":"m.msk","data":"` + strings.Repeat("A", 1<<20) + `"}`
	st, body := do(t, c, "POST", w.base+"/api/mask", big, nil)
	require.Equal(t, http.StatusRequestEntityTooLarge, st, body)
	require.Contains(t, body, "larger than 1048576 bytes")
	for _, p := range []string{"/api/validate", "/api/fit2d", "/api/server/0/new", "/api/convert/2.0", "/api/calibrate", "/api/calibrate/apply"} {
		st, body = do(t, c, "POST", w.base+p, big, nil)
		require.Equal(t, http.StatusRequestEntityTooLarge, st, "%s: %s", p, body)
	}
}

// TestSecretInNoResponse drives every endpoint against a live server with
// a queue and checks that no response carries the secret.
func TestSecretInNoResponse(t *testing.T) {
	b := startBackend(t)
	w := startWeb(t, b.endpoint, "tcp://127.0.0.1:1")
	c := sessionClient(t, w)
	mask, err := os.ReadFile(filepath.Join(sampleDir, "mask.msk"))
	require.NoError(t, err)
	cal, err := os.ReadFile(filepath.Join(sampleDir, "cal2.json"))
	require.NoError(t, err)
	newBody, err := json.Marshal(map[string]any{"calibration": json.RawMessage(cal), "masks": []map[string]any{
		{"filename": "mask.msk", "data": mask}, {"filename": "mask.msk", "data": mask}}})
	require.NoError(t, err)
	maskBody := `{"filename":"mask.msk","data":"` + base64.StdEncoding.EncodeToString(mask) + `","imagesize":[128,160]}`
	var all strings.Builder
	check := func(method, path, body string, want int) string {
		st, out := do(t, c, method, w.base+path, body, nil)
		require.Equal(t, want, st, "%s %s: %s", method, path, out)
		all.WriteString(out)
		return out
	}
	check("GET", "/", "", 200)
	check("GET", "/app.js", "", 200)
	check("GET", "/chart.js", "", 200)
	check("GET", "/app.css", "", 200)
	servers := check("GET", "/api/servers", "", 200)
	var list []serverInfo
	require.NoError(t, json.Unmarshal([]byte(servers), &list))
	require.Len(t, list, 2)
	require.True(t, list[0].Online, servers)
	require.False(t, list[1].Online, servers)
	check("GET", "/api/schema/2.0", "", 200)
	check("GET", "/api/schema/0.3.0", "", 200)
	check("GET", "/api/defaults/2.0", "", 200)
	check("POST", "/api/validate", string(cal), 200)
	check("POST", "/api/convert/0.3.0", string(cal), 422) // two masks do not fit the flat layout
	check("POST", "/api/fit2d", `{"text":"INFO: Refined wavelength = 1.0 Angstroms"}`, 200)
	check("POST", "/api/mask", maskBody, 200)
	out := check("POST", "/api/server/0/new", string(newBody), 200)
	require.Contains(t, out, `"result":"new queue"`)
	for _, cmd := range []string{"get", "stat", "plot", "fileslist", "readdir", "close"} {
		check("POST", "/api/server/0/"+cmd, "{}", 200)
	}
	check("POST", "/api/server/0/listdir", `{"directory":[]}`, 200)
	check("POST", "/api/server/1/stat", "{}", http.StatusBadGateway)
	check("POST", "/api/server/7/stat", "{}", http.StatusNotFound)
	// A few events of the stream.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", w.base+"/api/server/0/events", nil)
	require.NoError(t, err)
	resp, err := c.Do(req)
	require.NoError(t, err)
	buf := make([]byte, 4096)
	n, _ := io.ReadAtLeast(resp.Body, buf, 200)
	resp.Body.Close()
	require.Contains(t, string(buf[:n]), "event: status")
	all.Write(buf[:n])
	check("POST", "/api/server/0/abort", "{}", 200)

	require.NotContains(t, all.String(), testSecret)
	require.NotContains(t, all.String(), "XYZZY")
}

func TestValidationPathsAndMaskFit(t *testing.T) {
	w := startWeb(t, "tcp://127.0.0.1:1")
	c := sessionClient(t, w)
	cal, err := os.ReadFile(filepath.Join(sampleDir, "cal2.json"))
	require.NoError(t, err)
	bad := strings.Replace(string(cal), `"qStop": 2.0`, `"qStop": -1`, 1)
	st, out := do(t, c, "POST", w.base+"/api/validate", bad, nil)
	require.Equal(t, 200, st)
	var v Validation
	require.NoError(t, json.Unmarshal([]byte(out), &v))
	require.False(t, v.OK)
	require.Len(t, v.Errors, 1, out)
	require.Equal(t, "/Masks/0/qStop", v.Errors[0].Path)

	mask, err := os.ReadFile(filepath.Join(sampleDir, "mask.msk"))
	require.NoError(t, err)
	body := func(size string) string {
		return `{"filename":"mask.msk","data":"` + base64.StdEncoding.EncodeToString(mask) + `","imagesize":` + size + `}`
	}
	st, out = do(t, c, "POST", w.base+"/api/mask", body("[128,160]"), nil)
	require.Equal(t, 200, st, out)
	var mi MaskInfo
	require.NoError(t, json.Unmarshal([]byte(out), &mi))
	require.True(t, mi.Fits)
	require.Equal(t, [2]int{128, 160}, [2]int{mi.Rows, mi.Cols})
	require.True(t, strings.HasPrefix(mi.PNG, "data:image/png;base64,"))
	st, out = do(t, c, "POST", w.base+"/api/mask", body("[1043,981]"), nil)
	require.Equal(t, 200, st, out)
	require.NoError(t, json.Unmarshal([]byte(out), &mi))
	require.False(t, mi.Fits)
	require.Contains(t, mi.Error, "does not fit")
	st, out = do(t, c, "POST", w.base+"/api/mask", `{"filename":"x.msk","data":"AAAA"}`, nil)
	require.Equal(t, http.StatusUnprocessableEntity, st, out)
	require.Contains(t, out, "problem with the mask")
}

// TestNewFlat starts a queue with the bundled 0.3.0 (flat) calibration, its
// mask and a queue folder, as the page does in the 0.3.0 layout.
func TestNewFlat(t *testing.T) {
	b := startBackend(t)
	require.NoError(t, os.MkdirAll(filepath.Join(b.dir, "run1"), 0o755))
	w := startWeb(t, b.endpoint)
	c := sessionClient(t, w)
	mask, err := os.ReadFile(filepath.Join(sampleDir, "mask.msk"))
	require.NoError(t, err)
	cal, err := os.ReadFile(filepath.Join(sampleDir, "cal.json"))
	require.NoError(t, err)
	body, err := json.Marshal(map[string]any{"calibration": json.RawMessage(cal), "directory": []string{"run1"},
		"masks": []map[string]any{{"filename": "mask.msk", "data": mask}}})
	require.NoError(t, err)
	st, out := do(t, c, "POST", w.base+"/api/server/0/new", string(body), nil)
	require.Equal(t, 200, st, out)
	var r reply
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	require.Equal(t, network.ResultNewQueue, r.Result, out)
	// Without its mask the page's request is refused before the server.
	body, err = json.Marshal(map[string]any{"calibration": json.RawMessage(cal), "directory": []string{"run1"}})
	require.NoError(t, err)
	st, out = do(t, c, "POST", w.base+"/api/server/0/new", string(body), nil)
	require.Equal(t, http.StatusUnprocessableEntity, st, out)
	require.Contains(t, out, "1 masks but 0 mask files")
}

// TestCompactPlot checks the rate histogram and the series of the plot
// event against hand-counted values.
func TestCompactPlot(t *testing.T) {
	n := func(s string) json.Number { return json.Number(s) }
	d := map[string]any{
		"filename": "run1/x_00002",
		"graphs": []any{map[string]any{"array": []any{
			[]any{n("0.1"), n("0.2"), n("0.3")}, []any{n("5"), math.NaN(), n("3")}, []any{n("1"), n("1"), n("1")}}}},
		// now = 1000: 0.5 s ago, twice 1.5 s ago, 99.9 s ago, 150 s ago (outside)
		"history": []any{n("999.5"), n("998.5"), n("998.5"), n("900.1"), n("850")},
		"IntegralParameters": map[string]any{"R0": map[string]any{
			"I0": []any{n("1"), n("2")}, "I1": []any{n("3"), n("4")}, "I2": []any{n("5"), n("6")},
			"file": []any{"a", "b"}, "time": []any{"", ""}}},
	}
	p := compactPlot(d, 1000)
	want := make([]int, RateWindow)
	want[RateWindow-1], want[RateWindow-2], want[0] = 1, 2, 1
	require.Equal(t, want, p.Rate)
	require.Len(t, p.Curves, 1)
	b, err := json.Marshal(p.Curves[0])
	require.NoError(t, err)
	require.JSONEq(t, `{"name":"R0","q":[0.1,0.2,0.3],"i":[5,null,3],"sigma":[1,1,1]}`, string(b))
	require.Equal(t, []int{1, 2}, p.Params["R0"].Frame)
	require.Equal(t, "b", p.Params["R0"].File)
}

// TestPageIsSelfContained checks that the page loads nothing from
// elsewhere: no absolute URL in the embedded files (it must work offline).
func TestPageIsSelfContained(t *testing.T) {
	entries, err := staticFiles.ReadDir("static")
	require.NoError(t, err)
	require.NotEmpty(t, entries)
	for _, e := range entries {
		b, err := staticFiles.ReadFile("static/" + e.Name())
		require.NoError(t, err)
		text := string(b)
		if strings.HasSuffix(e.Name(), ".svg") { // the SVG namespace is a name, not a load
			text = strings.ReplaceAll(text, `xmlns="http://www.w3.org/2000/svg"`, "")
		}
		for _, bad := range []string{"http://", "https://", "//cdn", "@import"} {
			require.NotContains(t, text, bad, e.Name())
		}
	}
}

// TestEventsStream reads the event stream while a queue converts the
// sample frames: the stat event counts them and the plot event carries
// the curve the server sends.
func TestEventsStream(t *testing.T) {
	b := startBackend(t)
	w := startWeb(t, b.endpoint)
	c := sessionClient(t, w)
	mask, err := os.ReadFile(filepath.Join(sampleDir, "mask.msk"))
	require.NoError(t, err)
	cal, err := os.ReadFile(filepath.Join(sampleDir, "cal2.json"))
	require.NoError(t, err)
	body, err := json.Marshal(map[string]any{"calibration": json.RawMessage(cal), "masks": []map[string]any{
		{"filename": "mask.msk", "data": mask}, {"filename": "mask.msk", "data": mask}}})
	require.NoError(t, err)
	st, out := do(t, c, "POST", w.base+"/api/server/0/new", string(body), nil)
	require.Equal(t, 200, st, out)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", w.base+"/api/server/0/events", nil)
	require.NoError(t, err)
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))

	frames, err := filepath.Glob(filepath.Join(sampleDir, "frames", "run1", "*.tif"))
	require.NoError(t, err)
	for _, f := range frames {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(b.dir, filepath.Base(f)), data, 0o644))
	}
	var plot Plot
	processed := 0.0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	event := ""
	for processed < float64(len(frames)) || len(plot.Curves) == 0 || plot.Params["R0"].Frame[len(plot.Params["R0"].Frame)-1] < len(frames) {
		require.True(t, sc.Scan(), "stream ended: %v", sc.Err())
		line := sc.Text()
		if e, ok := strings.CutPrefix(line, "event: "); ok {
			event = e
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			continue
		}
		switch event {
		case "stat":
			var s struct {
				Stat map[string]any `json:"stat"`
			}
			require.NoError(t, json.Unmarshal([]byte(data), &s))
			if v, ok := s.Stat["images processed"].(float64); ok {
				processed = v
			}
		case "plot":
			plot = Plot{}
			require.NoError(t, json.Unmarshal([]byte(data), &plot))
		}
	}
	require.Equal(t, float64(len(frames)), processed)
	// Two masks, two curves: the second is named by its mask.
	require.Len(t, plot.Curves, 2)
	require.Equal(t, "uniform", plot.Curves[1].Name)
	require.Len(t, plot.Curves[1].Q, 200) // RadialBins.Count of the second mask
	cl := &network.Client{Addr: b.endpoint, Secret: testSecret, Timeout: time.Minute}
	rep, err := cl.Do(context.Background(), "plot", nil, nil)
	require.NoError(t, err)
	graphs, _ := rep.Map()["graphs"].([]any)
	require.Len(t, graphs, 2)
	arr, _ := graphs[0].(map[string]any)["array"].([]any)
	q, _ := arr[0].([]any)
	require.Len(t, plot.Curves[0].Q, len(q))
	sum := 0
	for _, r := range plot.Rate {
		sum += r
	}
	require.Equal(t, len(frames), sum, "frames in the rate history")
}
