package metrics

import (
	"context"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
)

// exercise reports known events: the values the scrape must show.
func exercise(m *Metrics) {
	for range 3 {
		m.FrameDone()
	}
	m.FrameFailed()
	m.ObserveStage(StageRead, 2*time.Millisecond)
	m.ObserveStage(StageRead, 4*time.Millisecond)
	m.ObserveStage(StageIntegrate, time.Millisecond)
	m.ObserveJobLatency(1500 * time.Millisecond)
	m.Redelivered()
	m.Redelivered()
	m.OperatorBuilt()
	for range 5 {
		m.StreamFrame()
	}
	m.StreamDropped(7)
	m.StreamDropped(0)
	m.StreamDropped(-3) // not a count: ignored
	m.SetQueueLength(func() float64 { return 42 })
}

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	addr, err := Serve(ctx, "127.0.0.1:0", m.Handler(), nil)
	require.NoError(t, err)
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

func TestScrape(t *testing.T) {
	m := New("worker")
	exercise(m)
	text := scrape(t, m)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(text))
	require.NoError(t, err)
	value := func(name string) *dto.Metric {
		t.Helper()
		f := fams[name]
		require.NotNil(t, f, "%s missing in\n%s", name, text)
		require.NotEmpty(t, f.Metric)
		for _, l := range f.Metric[0].Label {
			if l.GetName() == "role" {
				require.Equal(t, "worker", l.GetValue(), name)
			}
		}
		return f.Metric[0]
	}
	require.Equal(t, 3.0, value("saxs_frames_done_total").Counter.GetValue())
	require.Equal(t, 1.0, value("saxs_frames_failed_total").Counter.GetValue())
	require.Equal(t, 2.0, value("saxs_jobs_redelivered_total").Counter.GetValue())
	require.Equal(t, 1.0, value("saxs_operator_builds_total").Counter.GetValue())
	require.Equal(t, 5.0, value("saxs_stream_frames_total").Counter.GetValue())
	require.Equal(t, 7.0, value("saxs_stream_frames_dropped_total").Counter.GetValue())
	require.Equal(t, 42.0, value("saxs_queue_length").Gauge.GetValue())
	h := value("saxs_job_latency_seconds").Histogram
	require.Equal(t, uint64(1), h.GetSampleCount())
	require.InDelta(t, 1.5, h.GetSampleSum(), 1e-12)

	stages := map[string]*dto.Histogram{}
	for _, mt := range fams["saxs_stage_seconds"].Metric {
		for _, l := range mt.Label {
			if l.GetName() == "stage" {
				stages[l.GetValue()] = mt.Histogram
			}
		}
	}
	require.Len(t, stages, 3, "read, integrate and write, write at 0")
	require.Equal(t, uint64(2), stages[StageRead].GetSampleCount())
	require.InDelta(t, 0.006, stages[StageRead].GetSampleSum(), 1e-12)
	require.Equal(t, uint64(1), stages[StageIntegrate].GetSampleCount())
	require.Equal(t, uint64(0), stages[StageWrite].GetSampleCount())
	// 2 ms and 4 ms: the bucket ≤ 3.2 ms holds one, ≤ 6.4 ms both.
	for _, b := range stages[StageRead].Bucket {
		switch ub := b.GetUpperBound(); {
		case ub < 2e-3:
			require.Zero(t, b.GetCumulativeCount(), "bucket %g", ub)
		case ub >= 2e-3 && ub < 4e-3:
			require.Equal(t, uint64(1), b.GetCumulativeCount(), "bucket %g", ub)
		default:
			require.Equal(t, uint64(2), b.GetCumulativeCount(), "bucket %g", ub)
		}
	}
	require.Contains(t, text, "go_goroutines", "the Go runtime collector")
}

// TestScrapePython parses the scrape with Python's prometheus_client, a
// parser we did not write.
func TestScrapePython(t *testing.T) {
	const py = "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import prometheus_client.parser").Run(); err != nil {
		t.Skip("Debian's python3-prometheus-client is not installed: ", err)
	}
	m := New("server")
	exercise(m)
	text := scrape(t, m)
	script := `
import sys
from prometheus_client.parser import text_string_to_metric_families
v = {}
for f in text_string_to_metric_families(sys.stdin.read()):
    for s in f.samples:
        if s.labels.get("role") != "server":
            continue
        key = s.name + ("/" + s.labels["stage"] if "stage" in s.labels else "")
        v[key] = s.value
for k in ["saxs_frames_done_total", "saxs_frames_failed_total", "saxs_queue_length",
          "saxs_stream_frames_dropped_total", "saxs_stage_seconds_count/read", "saxs_stage_seconds_sum/read",
          "saxs_job_latency_seconds_count"]:
    print(k, repr(v[k]))
`
	cmd := exec.Command(py, "-c", script)
	cmd.Stdin = strings.NewReader(text)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Equal(t, strings.Join([]string{
		"saxs_frames_done_total 3.0",
		"saxs_frames_failed_total 1.0",
		"saxs_queue_length 42.0",
		"saxs_stream_frames_dropped_total 7.0",
		"saxs_stage_seconds_count/read 2.0",
		"saxs_stage_seconds_sum/read 0.006",
		"saxs_job_latency_seconds_count 1.0",
	}, "\n")+"\n", string(out))
}

func TestNilMetrics(t *testing.T) {
	var m *Metrics
	exercise(m) // no panic, nothing to record
	rec := &statusRecorder{header: http.Header{}}
	m.Handler().ServeHTTP(rec, &http.Request{Method: http.MethodGet})
	require.Equal(t, http.StatusNotFound, rec.status)
}

func TestServeStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	addr, err := Serve(ctx, "127.0.0.1:0", New("server").Handler(), nil)
	require.NoError(t, err)
	cancel()
	c := &http.Client{Timeout: 2 * time.Second}
	require.Eventually(t, func() bool {
		resp, err := c.Get("http://" + addr + "/metrics")
		if err == nil {
			resp.Body.Close()
		}
		return err != nil
	}, 5*time.Second, 20*time.Millisecond, "the listener is closed after ctx ends")
	_, err = Serve(context.Background(), "256.0.0.1:0", nil, nil)
	require.ErrorContains(t, err, "metrics:")
}

type statusRecorder struct {
	header http.Header
	status int
}

func (r *statusRecorder) Header() http.Header         { return r.header }
func (r *statusRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *statusRecorder) WriteHeader(s int)           { r.status = s }
