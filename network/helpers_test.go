package network

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/saxsdog/saxs/internal/batch"
	"github.com/saxsdog/saxs/network/metrics"
)

const testSecret = "0123456789abcdef0123456789abcd"

// sampleDir is the bundled sample data set.
const sampleDir = "../testdata/sample"

// testNetConf returns a one-entry configuration whose addresses are not
// used (tests bind port 0).
func testNetConf(t *testing.T) *NetConf {
	t.Helper()
	return &NetConf{Path: "test", Entries: []Entry{{Server: "tcp://127.0.0.1:1", Feeder: "tcp://127.0.0.1:2",
		Secret: testSecret, Name: "Test"}}}
}

// testServer starts a server on 127.0.0.1 with an ephemeral port over a
// fresh SERVERDIR and returns it with a client; both end with the test.
func testServer(t *testing.T, mod func(*ServerConfig)) (*Server, *Client, string) {
	t.Helper()
	return testServerPrep(t, mod, nil)
}

// testServerPrep is testServer with prep called on the server before it
// serves (to replace its operator build).
func testServerPrep(t *testing.T, mod func(*ServerConfig), prep func(*Server)) (*Server, *Client, string) {
	t.Helper()
	dir := t.TempDir()
	cfg := ServerConfig{Dir: dir, NetConf: testNetConf(t), Bind: "tcp://127.0.0.1:0", Feeder: "-", Threads: 2,
		Watch: batch.Watch{Settle: 50 * time.Millisecond, Timeout: 10 * time.Second}}
	if mod != nil {
		mod(&cfg)
	}
	s, err := NewServer(cfg)
	require.NoError(t, err)
	if prep != nil {
		prep(s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, s.Listen(ctx))
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	return s, &Client{Addr: s.Endpoint(), Secret: testSecret, Timeout: time.Minute}, dir
}

// copyFile copies src to dst, creating dst's folder.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Dir(dst), 0o755))
	require.NoError(t, os.WriteFile(dst, b, 0o644))
}

// waitFor polls cond every 20 ms until it holds or a minute passes (a
// generous bound: the machine may be busy).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// newQueue makes the folder SERVERDIR/sub and starts a queue on it with
// the sample calibration; it returns the folder.
func newQueue(t *testing.T, c *Client, dir, sub string) string {
	t.Helper()
	folder := filepath.Join(dir, sub)
	require.NoError(t, os.MkdirAll(folder, 0o755))
	arg, atts := newRequest(t, []string{sub})
	r, err := c.Do(context.Background(), "new", arg, atts)
	require.NoError(t, err)
	require.Equal(t, ResultNewQueue, r.Result, string(r.Raw))
	return folder
}

// scrape returns the metric families of m's /metrics, parsed with
// Prometheus's text parser.
func scrape(t *testing.T, m *metrics.Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(rec.Body)
	require.NoError(t, err)
	return fams
}
