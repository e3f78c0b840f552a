package monitor

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/saxsdog/saxs"
)

// testLogger logs to the test at debug level.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// wire is the decoded JSON message; pointers distinguish null.
type wire struct {
	File   string `json:"file"`
	Curves []struct {
		Name  string     `json:"name"`
		Q     []*float64 `json:"q"`
		I     []*float64 `json:"i"`
		Sigma []*float64 `json:"sigma"`
	} `json:"curves"`
}

func decode(t *testing.T, data string) wire {
	t.Helper()
	var m wire
	if err := json.Unmarshal([]byte(data), &m); err != nil {
		t.Fatalf("message is not JSON: %v\n%.300s", err, data)
	}
	return m
}

// checkFloats compares a decoded column with want, NaN meaning null.
func checkFloats(t *testing.T, what string, got []*float64, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s has %d values, want %d", what, len(got), len(want))
	}
	for k, w := range want {
		switch {
		case math.IsNaN(w) && got[k] != nil:
			t.Errorf("%s[%d] = %v, want null", what, k, *got[k])
		case !math.IsNaN(w) && (got[k] == nil || *got[k] != w):
			t.Errorf("%s[%d] = %v, want %v", what, k, got[k], w)
		}
	}
}

func testCurves(n int) []saxs.Curve {
	c := saxs.Curve{Name: "R0"}
	for k := range n {
		q := 0.01 * float64(k+1)
		c.Q = append(c.Q, q)
		c.I = append(c.I, 1000*math.Exp(-q)+1.0/3)
		c.Sigma = append(c.Sigma, math.Sqrt(c.I[k]))
	}
	if n > 2 {
		c.I[1], c.Sigma[1] = math.NaN(), math.NaN()
	}
	return []saxs.Curve{c}
}

// event is one server-sent event: its id and data, or a comment.
type event struct {
	id, data, comment string
}

// sse reads the events of an /events response into a channel, which is
// closed at the end of the stream.
func sse(t *testing.T, resp *http.Response) <-chan event {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/events: status %s", resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("/events: Content-Type %q", ct)
	}
	ch := make(chan event, 100)
	go func() {
		defer close(ch)
		br := bufio.NewReader(resp.Body)
		var ev event
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimSuffix(line, "\n")
			switch {
			case line == "":
				if ev != (event{}) {
					ch <- ev
				}
				ev = event{}
			case strings.HasPrefix(line, ":"):
				ch <- event{comment: strings.TrimSpace(line[1:])}
			case strings.HasPrefix(line, "data: "):
				ev.data += line[len("data: "):]
			case strings.HasPrefix(line, "id: "):
				ev.id = line[len("id: "):]
			}
		}
	}()
	return ch
}

// connect opens an event stream; it is closed when the test ends.
func connect(t *testing.T, client *http.Client, url string) <-chan event {
	t.Helper()
	resp, err := client.Get(url + "events")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return sse(t, resp)
}

// nextData returns the data of the next event with data, skipping
// comments.
func nextData(t *testing.T, ch <-chan event, timeout time.Duration) event {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatal("event stream ended")
			}
			if ev.data != "" {
				return ev
			}
		case <-deadline:
			t.Fatal("no event in time")
		}
	}
}

func newTestServer(t *testing.T, s *Server) string {
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return ts.URL + "/"
}

func TestPage(t *testing.T) {
	url := newTestServer(t, New(testLogger(t)))
	get := func(path string) (*http.Response, string) {
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, string(b)
	}
	resp, body := get("")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("/: %s, %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{"<canvas", `src="monitor.js"`} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(body, "http://") || strings.Contains(body, "https://") {
		t.Error("page refers to an external resource")
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	resp, body = get("monitor.js")
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Type"), "javascript") {
		t.Fatalf("/monitor.js: %s, %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{"EventSource('events')", "getContext('2d')", "Math.log10"} {
		if !strings.Contains(body, want) {
			t.Errorf("script lacks %q", want)
		}
	}
	for _, path := range []string{"nothing", "static/index.html", "index.htm"} {
		if resp, _ := get(path); resp.StatusCode != http.StatusNotFound {
			t.Errorf("/%s: %s, want 404", path, resp.Status)
		}
	}
}

func TestLatestJSON(t *testing.T) {
	s := New(testLogger(t))
	url := newTestServer(t, s)
	resp, err := http.Get(url + "latest.json")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("before Publish: %s, want 204", resp.Status)
	}

	curves := testCurves(5)
	s.Publish("run1/sample_00001.tif", curves)
	curves[0].I[0] = -7 // Publish copied the data
	resp, err = http.Get(url + "latest.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("after Publish: %s, %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	m := decode(t, string(b))
	want := testCurves(5)[0]
	if m.File != "run1/sample_00001.tif" || len(m.Curves) != 1 || m.Curves[0].Name != "R0" {
		t.Fatalf("message %+v", m)
	}
	checkFloats(t, "q", m.Curves[0].Q, want.Q)
	checkFloats(t, "i", m.Curves[0].I, want.I)
	checkFloats(t, "sigma", m.Curves[0].Sigma, want.Sigma)
}

func TestEvents(t *testing.T) {
	s := New(testLogger(t))
	url := newTestServer(t, s)
	early := connect(t, http.DefaultClient, url)

	curves := append(testCurves(4), saxs.Curve{Name: `mask "B"`, Q: []float64{1, 2}, I: []float64{math.Inf(1), 0}, Sigma: nil})
	s.Publish("a.tif", curves)
	ev := nextData(t, early, 5*time.Second)
	m := decode(t, ev.data)
	if m.File != "a.tif" || len(m.Curves) != 2 || ev.id != "1" {
		t.Fatalf("event %q: %+v", ev.id, m)
	}
	checkFloats(t, "q", m.Curves[0].Q, curves[0].Q)
	checkFloats(t, "i", m.Curves[0].I, curves[0].I)
	checkFloats(t, "sigma", m.Curves[0].Sigma, curves[0].Sigma)
	if m.Curves[1].Name != `mask "B"` {
		t.Errorf("curve name %q", m.Curves[1].Name)
	}
	checkFloats(t, "i of curve 2", m.Curves[1].I, []float64{math.NaN(), 0}) // +Inf is null too
	if m.Curves[1].Sigma == nil || len(m.Curves[1].Sigma) != 0 {
		t.Errorf("nil sigma is %v, want []", m.Curves[1].Sigma)
	}

	// The next frame follows; a client connecting now gets it at once.
	s.Publish("b.tif", testCurves(3))
	if m := decode(t, nextData(t, early, 5*time.Second).data); m.File != "b.tif" {
		t.Errorf("second event is for %q", m.File)
	}
	late := connect(t, http.DefaultClient, url)
	if m := decode(t, nextData(t, late, 5*time.Second).data); m.File != "b.tif" {
		t.Errorf("first event of a late client is for %q", m.File)
	}
}

func TestHeartbeat(t *testing.T) {
	s := New(testLogger(t))
	s.heartbeat = 20 * time.Millisecond
	url := newTestServer(t, s)
	ch := connect(t, http.DefaultClient, url)
	timeout := time.After(5 * time.Second)
	for n := 0; n < 2; {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatal("stream ended")
			}
			if ev.comment == "heartbeat" {
				n++
			}
		case <-timeout:
			t.Fatal("no heartbeats")
		}
	}
}

// stalledClient requests /events over a raw connection and never reads.
func stalledClient(t *testing.T, url string) net.Conn {
	t.Helper()
	host := strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/")
	conn, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "GET /events HTTP/1.1\r\nHost: %s\r\n\r\n", host)
	return conn
}

// TestPublishDoesNotBlock publishes many frames while a client does not
// read its stream. Publish never waits for a client: if it did, the loop
// below would not end (the test's own timeout is the bound; nothing here
// measures time).
func TestPublishDoesNotBlock(t *testing.T) {
	s := New(testLogger(t))
	url := newTestServer(t, s)
	conn := stalledClient(t, url)
	// The stream has started once its response header has arrived; the
	// client then reads nothing more until all frames are published.
	// (Closing conn at the end ends the stream; closing resp.Body would
	// read it to the end first.)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}

	const n = 10000
	curves := testCurves(1000)
	for k := range n {
		s.Publish(fmt.Sprintf("frame_%05d.tif", k), curves)
	}

	// A new client gets the latest frame at once.
	ch := connect(t, http.DefaultClient, url)
	if m := decode(t, nextData(t, ch, 5*time.Second).data); m.File != "frame_09999.tif" {
		t.Errorf("new client got %q first", m.File)
	}

	// The stalled client, once it reads, ends with the latest frame
	// without having been sent every one.
	stalled := sse(t, resp)
	got := 0
	for {
		ev := nextData(t, stalled, 5*time.Second)
		got++
		if decode(t, ev.data).File == "frame_09999.tif" {
			break
		}
	}
	if got >= n {
		t.Errorf("stalled client got all %d frames: no coalescing", got)
	}
	t.Logf("stalled client got %d of %d frames", got, n)
}

func TestPublishConcurrent(t *testing.T) {
	s := New(testLogger(t))
	url := newTestServer(t, s)
	chs := []<-chan event{connect(t, http.DefaultClient, url), connect(t, http.DefaultClient, url)}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 200 {
				s.Publish(fmt.Sprintf("g%d_%d", g, k), testCurves(50))
			}
		}()
	}
	wg.Wait()
	s.Publish("last", testCurves(50))
	for _, ch := range chs {
		for decode(t, nextData(t, ch, 5*time.Second).data).File != "last" {
		}
	}
}

// settleGoroutines waits until the number of goroutines is at most n.
func settleGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines, want at most %d:\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestStartStop(t *testing.T) {
	base := runtime.NumGoroutine()
	s := New(testLogger(t))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	url, err := s.Start(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(url, "http://127.0.0.1:") || !strings.HasSuffix(url, "/") {
		t.Fatalf("URL %q", url)
	}
	if _, err := s.Start(ctx, ""); err == nil {
		t.Error("second Start: no error")
	}

	tr := &http.Transport{}
	client := &http.Client{Transport: tr}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	reader := connect(t, client, url)
	stalled := stalledClient(t, url)
	defer stalled.Close()
	s.Publish("x.tif", testCurves(2000))
	nextData(t, reader, 5*time.Second)
	for k := range 200 { // fill the stalled client's buffers
		s.Publish(fmt.Sprintf("x%d.tif", k), testCurves(2000))
		time.Sleep(time.Millisecond)
	}

	cancel()
	wctx, wcancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer wcancel()
	start := time.Now()
	if err := s.Wait(wctx); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	t.Logf("stopped in %v", time.Since(start))
	// The event streams have ended.
	for range reader {
	}
	if _, err := client.Get(url); err == nil {
		t.Error("server still answers after cancel")
	}
	s.Publish("after.tif", testCurves(3)) // does not block or panic
	tr.CloseIdleConnections()
	stalled.Close()
	settleGoroutines(t, base+1)
}

func TestStartError(t *testing.T) {
	s := New(nil)
	if _, err := s.Start(context.Background(), "256.0.0.1:x"); err == nil {
		t.Fatal("bad address: no error")
	}
	if err := s.Wait(context.Background()); err != nil {
		t.Errorf("Wait after a failed Start: %v", err)
	}
}

func TestURL(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:8080": "http://127.0.0.1:8080/",
		"0.0.0.0:80":     "http://localhost:80/",
		"[::]:5000":      "http://localhost:5000/",
		"[::1]:5000":     "http://[::1]:5000/",
	} {
		a, err := net.ResolveTCPAddr("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := URL(a); got != want {
			t.Errorf("URL(%s) = %q, want %q", addr, got, want)
		}
	}
}

func TestMessageJSON(t *testing.T) {
	m := &message{file: "bad \xff \"name\"\n<b>", curves: []curve{
		{name: "R0", q: []float64{1e-300, 1e300, -0.5}, i: []float64{math.NaN(), math.Inf(-1), 5e-324}, sigma: nil},
		{},
	}}
	b := m.json()
	if !json.Valid(b) {
		t.Fatalf("invalid JSON: %s", b)
	}
	w := decode(t, string(b))
	if w.File != "bad \uFFFD \"name\"\n<b>" {
		t.Errorf("file %q", w.File)
	}
	checkFloats(t, "q", w.Curves[0].Q, []float64{1e-300, 1e300, -0.5})
	checkFloats(t, "i", w.Curves[0].I, []float64{math.NaN(), math.NaN(), 5e-324})
	if &m.json()[0] != &b[0] {
		t.Error("message encoded twice")
	}
}
