package interop

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/saxsdog/saxs/internal/testframes"
)

// TestMeasureRepliesDuringBuildAcrossProcesses measures what a client in
// a process of its own sees while saxsdogserver (-t 2: as many build
// workers as this machine has cores) builds a Pilatus 1M operator at
// Oversampling 4 for a new that saxsleash sent: the original-style Python
// client (pyclient.py poll: stat, get and plot every 20 ms) times each
// round trip, on one REQ socket as the original's GUI, then on a new
// connection per request as saxsleash and the web leash make them; the
// test keeps the requests that started during the new (from saxsleash's
// start to its reply). The goal is a reply within 50 ms. A
// measurement, not a timed test: it runs with SAXS_SERVER_MEASURE=1 and
// logs the latencies; it fails only when a request is not answered or a
// new fails.
func TestMeasureRepliesDuringBuildAcrossProcesses(t *testing.T) {
	if os.Getenv("SAXS_SERVER_MEASURE") != "1" {
		t.Skip("a measurement: set SAXS_SERVER_MEASURE=1 to run it (a Pilatus 1M operator build, a few seconds)")
	}
	needPython(t)
	server := binary(t, "saxsdogserver")
	serverdir := t.TempDir()
	for _, d := range []string{"big", filepath.Join("data", "run1")} {
		if err := os.MkdirAll(filepath.Join(serverdir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	big := testframes.Pilatus1MCal(t, filepath.Join(sampleDir(t), "cal2.json"), t.TempDir())
	for _, mode := range []struct {
		name  string
		extra []string
	}{{"one socket", nil}, {"a connection per request", []string{"--connect-each"}}} {
		// A server of its own for each (an empty operator cache: its HOME
		// is new), with a running queue that the new replaces.
		e := newEntry(t, "Measure", "0123456789abcdef0123456789abcdef")
		conf := writeNetconf(t, t.TempDir(), e)
		srv := start(t, 5*time.Minute, server, "--netconf", conf, "-t", "2", "-o", t.TempDir(), serverdir)
		waitServer(t, conf, srv)
		if r, out, err := leashReply(t, conf, "new", queueCal(t, "data", "run1")); err != nil || r.Result != "new queue" {
			t.Fatalf("saxsleash new (the running queue): %v, result %q\n%s", err, r.Result, out)
		}
		lat, slowest, took := pollDuringNew(t, e, conf, big, mode.extra...)
		t.Logf("saxsleash new (1M, 2 curves, Oversampling 4) took %v; %d stat/get/plot round trips of pyclient.py (%s) meanwhile: p50 %.1f ms, p99 %.1f ms, max %.1f ms: %s",
			took.Round(time.Millisecond), len(lat), mode.name, lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1], slowest)
		srv.kill()
	}
}

// pollDuringNew runs pyclient.py poll (with extra arguments) against the
// server of e while saxsleash sends the new of cal, and returns the round
// trips (ms) of the requests that started during the new, sorted, the
// slowest's description and how long the new took.
func pollDuringNew(t *testing.T, e entry, conf, cal string, extra ...string) ([]float64, string, time.Duration) {
	t.Helper()
	stop := filepath.Join(t.TempDir(), "stop")
	poll := start(t, 2*time.Minute, "/usr/bin/python3", append([]string{script("pyclient.py"), "poll", "--url", e.Server, "--secret", e.Secret, "--until", stop}, extra...)...)
	waitFor(t, time.Minute, "pyclient.py poll to answer its first round", func() bool {
		if poll.exited() {
			t.Fatalf("pyclient.py poll exited:\n%s", poll.out.String())
		}
		return strings.Contains(poll.out.String(), "polling\n")
	})
	t0 := time.Now()
	r, out, err := leashReply(t, conf, "new", cal)
	t1 := time.Now()
	if err := os.WriteFile(stop, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	<-poll.done
	if err != nil || r.Result != "new queue" {
		t.Fatalf("saxsleash new (the 1M operator): %v, result %q\n%s", err, r.Result, out)
	}
	if poll.cmd.ProcessState.ExitCode() != 0 {
		t.Fatalf("pyclient.py poll failed (a request not answered):\n%s", poll.out.String())
	}
	text := poll.out.String()
	var res struct {
		Samples [][3]any `json:"samples"`
	}
	i := strings.Index(text, "{")
	if i < 0 {
		t.Fatalf("pyclient.py poll printed no samples:\n%s", text)
	}
	if err := json.Unmarshal([]byte(text[i:]), &res); err != nil {
		t.Fatalf("pyclient.py poll's output: %v\n%s", err, text)
	}
	var lat []float64
	slowest := ""
	for _, s := range res.Samples {
		at := time.Unix(0, int64(s[1].(float64)*1e9))
		ms := s[2].(float64)
		if at.Before(t0) || at.After(t1) {
			continue
		}
		if len(lat) == 0 || ms > slices.Max(lat) {
			slowest = s[0].(string) + " at " + at.Sub(t0).Round(time.Millisecond).String() + " into the new"
		}
		lat = append(lat, ms)
	}
	if len(lat) == 0 {
		t.Fatalf("no request of pyclient.py poll started during the new (%v)", t1.Sub(t0))
	}
	slices.Sort(lat)
	return lat, slowest, t1.Sub(t0)
}
