package interop

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
)

const benchFrames = 400

// linkFrames hard-links benchFrames sample frames into dir.
func linkFrames(b *testing.B, frames []string, dir string) {
	b.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < benchFrames; i++ {
		if err := os.Link(frames[i%len(frames)], filepath.Join(dir, fmt.Sprintf("b_%05d.tif", i))); err != nil {
			b.Fatal(err)
		}
	}
}

// Server throughput on 400 frames (hard links of the sample frames) fed by
// the feeder, against the saxsdog command converting the same folder. The
// ratio of the two ns/op is the server's overhead.
func BenchmarkServer400Frames(b *testing.B) {
	server, feeder, saxsdog := binary(b, "saxsdogserver"), binary(b, "saxsfeeder"), binary(b, "saxsdog")
	// The frames are copied once so that hard links stay on one file system.
	src := b.TempDir()
	var frames []string
	for i, f := range sampleFrames(b) {
		p := filepath.Join(src, fmt.Sprintf("s%d.tif", i))
		copyFile(b, f, p)
		frames = append(frames, p)
	}
	cal := queueCal(b, "data", "run1")

	b.Run("saxsdog", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			dir := filepath.Join(b.TempDir(), "data", "run1")
			linkFrames(b, frames, dir)
			out := b.TempDir()
			b.StartTimer()
			if o, err := run(b, 5*time.Minute, saxsdog, "-c", cal, "--no-cache", "-S", "-o", out, dir); err != nil {
				b.Fatalf("saxsdog: %v\n%s", err, o)
			}
			b.StopTimer()
			if n := len(chiFiles(b, out)); n != 2*benchFrames {
				b.Fatalf("saxsdog wrote %d .chi files, want %d", n, 2*benchFrames)
			}
		}
	})

	b.Run("server", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			out := b.TempDir()
			qs := startQueueSetup(b, server, feeder, b.TempDir(), "be7c4be7c4be7c4be7c4be7c4be7c4be", 10*time.Minute, "-o", out)
			e, conf, qdir, srv, fd := qs.e, qs.conf, qs.qdir, qs.srv, qs.fd
			b.StartTimer() // like saxsdog's run: building the operator (new) counts
			if r, o, err := leashReply(b, conf, "new", cal); err != nil || r.Result != "new queue" {
				b.Fatalf("saxsleash new: %v %q\n%s", err, r.Result, o)
			}
			linkFrames(b, frames, qdir)
			waitFor(b, 5*time.Minute, "400 frames processed", func() bool {
				r, err := rawRequest(b, e.Server, signedRequest("stat", "{}", e.Secret, now()))
				if err != nil {
					return false
				}
				rep, err := parseReply(r)
				if err != nil || rep.Result != "stat" {
					return false
				}
				s := statOf(b, rep)
				return s.Processed != nil && *s.Processed >= benchFrames
			})
			b.StopTimer()
			srv.kill()
			fd.kill()
			if n := len(chiFiles(b, out)); n != 2*benchFrames {
				b.Fatalf("the server wrote %d .chi files, want %d", n, 2*benchFrames)
			}
		}
	})
}

// A signed stat round trip on loopback, one REQ socket.
func BenchmarkStatRoundTrip(b *testing.B) {
	server := binary(b, "saxsdogserver")
	e := newEntry(b, "Queue1", "57a757a757a757a757a757a757a757a7")
	conf := writeNetconf(b, b.TempDir(), e)
	srv := start(b, 10*time.Minute, server, "--netconf", conf, "-o", b.TempDir(), b.TempDir())
	waitServer(b, conf, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute) // bounds every Recv
	defer cancel()
	sock := zmq4.NewReq(ctx)
	defer sock.Close()
	if err := sock.Dial(e.Server); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := sock.Send(zmq4.NewMsg(signedRequest("stat", "{}", e.Secret, now()))); err != nil {
			b.Fatal(err)
		}
		m, err := sock.Recv()
		if err != nil {
			b.Fatal(err)
		}
		if r, err := parseReply(m.Bytes()); err != nil || r.Result != "stat" {
			b.Fatalf("reply %q", m.Bytes())
		}
	}
}

// steadyFrames is the frame count of BenchmarkServerSteadyState.
const steadyFrames = 2000

// statProcessed asks the server at e for "images processed" with one
// signed stat request (-1 on any failure).
func statProcessed(b *testing.B, e entry) int {
	r, err := rawRequest(b, e.Server, signedRequest("stat", "{}", e.Secret, now()))
	if err != nil {
		return -1
	}
	rep, err := parseReply(r)
	if err != nil || rep.Result != "stat" {
		return -1
	}
	s := statOf(b, rep)
	if s.Processed == nil {
		return -1
	}
	return *s.Processed
}

// BenchmarkServerSteadyState compares the server (fed by saxsfeeder) with
// the saxsdog command on steadyFrames hard-linked sample frames, both with
// 2 threads, side by side in one run, and separates the fixed costs from
// the per-frame rate. Each of the b.N iterations is a saxsdog round
// followed by a server round, so that the rounds alternate and the noise
// of a shared machine falls on both alike; the metrics are medians over
// the rounds. For saxsdog: "fixed-s" (a run on an empty folder: start and
// operator build), "frames/s" (steadyFrames over the run's time minus the
// fixed one) and "cpu-ms/frame" (the run's CPU time minus the empty run's,
// over the frames); for the server: "fixed-s" (the new round trip: build
// and start of the queue), "frames/s" (the frames finished between the
// 10% and the 100% mark over that time, from stat polled every 10 ms) and
// "cpu-ms/frame" of the server and of the feeder (their CPU time from
// /proc while the frames are converted, over the frames); "ratio" is the
// median of the pairs' server/saxsdog frames/s. Run with -benchtime=3x.
func BenchmarkServerSteadyState(b *testing.B) {
	server, feeder, saxsdog := binary(b, "saxsdogserver"), binary(b, "saxsfeeder"), binary(b, "saxsdog")
	src := b.TempDir()
	var frames []string
	for i, f := range sampleFrames(b) {
		p := filepath.Join(src, fmt.Sprintf("s%d.tif", i))
		copyFile(b, f, p)
		frames = append(frames, p)
	}
	link := func(dir string, n int) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		for i := 0; i < n; i++ {
			if err := os.Link(frames[i%len(frames)], filepath.Join(dir, fmt.Sprintf("b_%05d.tif", i))); err != nil {
				b.Fatal(err)
			}
		}
	}
	cal := queueCal(b, "data", "run1")
	const threads = "2"

	// saxsdogRound returns fixed s, frames/s, CPU ms per frame.
	saxsdogRound := func() (float64, float64, float64) {
		empty := filepath.Join(b.TempDir(), "data", "run1")
		link(empty, 0)
		cpu0 := childCPU()
		t0 := time.Now()
		if o, err := run(b, 5*time.Minute, saxsdog, "-c", cal, "--no-cache", "-S", "-t", threads, "-o", b.TempDir(), empty); err != nil {
			b.Fatalf("saxsdog: %v\n%s", err, o)
		}
		fixed, fixedCPU := time.Since(t0), childCPU()-cpu0
		dir := filepath.Join(b.TempDir(), "data", "run1")
		link(dir, steadyFrames)
		out := b.TempDir()
		cpu0 = childCPU()
		t0 = time.Now()
		if o, err := run(b, 5*time.Minute, saxsdog, "-c", cal, "--no-cache", "-S", "-t", threads, "-o", out, dir); err != nil {
			b.Fatalf("saxsdog: %v\n%s", err, o)
		}
		total := time.Since(t0)
		cpu := childCPU() - cpu0 - fixedCPU
		if n := len(chiFiles(b, out)); n != 2*steadyFrames {
			b.Fatalf("saxsdog wrote %d .chi files, want %d", n, 2*steadyFrames)
		}
		return fixed.Seconds(), steadyFrames / (total - fixed).Seconds(), 1000 * cpu / steadyFrames
	}
	// serverRound returns fixed s, frames/s, CPU ms per frame of the
	// server and of the feeder.
	serverRound := func() (float64, float64, float64, float64) {
		out := b.TempDir()
		qs := startQueueSetup(b, server, feeder, b.TempDir(), "be7c4be7c4be7c4be7c4be7c4be7c4be", 10*time.Minute, "-o", out, "-t", threads)
		t0 := time.Now()
		if r, o, err := leashReply(b, qs.conf, "new", cal); err != nil || r.Result != "new queue" {
			b.Fatalf("saxsleash new: %v %q\n%s", err, r.Result, o)
		}
		fixed := time.Since(t0)
		s0, f0 := cpuSeconds(qs.srv), cpuSeconds(qs.fd)
		link(qs.qdir, steadyFrames)
		var tMark time.Time
		mark := steadyFrames / 10
		nMark := 0
		end := time.Now().Add(5 * time.Minute)
		for {
			n := statProcessed(b, qs.e)
			if tMark.IsZero() && n >= mark {
				tMark, nMark = time.Now(), n
			}
			if n >= steadyFrames {
				break
			}
			if time.Now().After(end) {
				b.Fatalf("%d of %d frames processed after 5 minutes", n, steadyFrames)
			}
			time.Sleep(10 * time.Millisecond)
		}
		rate := float64(steadyFrames-nMark) / time.Since(tMark).Seconds()
		srvCPU, fdCPU := cpuSeconds(qs.srv)-s0, cpuSeconds(qs.fd)-f0
		qs.srv.kill()
		qs.fd.kill()
		if n := len(chiFiles(b, out)); n != 2*steadyFrames {
			b.Fatalf("the server wrote %d .chi files, want %d", n, 2*steadyFrames)
		}
		return fixed.Seconds(), rate, 1000 * srvCPU / steadyFrames, 1000 * fdCPU / steadyFrames
	}

	var dFixed, dRate, dCPU, sFixed, sRate, sCPU, fCPU, ratio []float64
	for i := 0; i < b.N; i++ {
		f, r, c := saxsdogRound()
		dFixed, dRate, dCPU = append(dFixed, f), append(dRate, r), append(dCPU, c)
		f, r2, c, fc := serverRound()
		sFixed, sRate, sCPU, fCPU = append(sFixed, f), append(sRate, r2), append(sCPU, c), append(fCPU, fc)
		ratio = append(ratio, r2/r)
		b.Logf("pair %d: saxsdog %.0f frames/s %.3f CPU ms/frame; server %.0f frames/s %.3f CPU ms/frame, feeder %.3f; ratio %.3f",
			i, r, dCPU[i], r2, c, fc, r2/r)
	}
	b.ReportMetric(median(dFixed), "saxsdog-fixed-s")
	b.ReportMetric(median(dRate), "saxsdog-frames/s")
	b.ReportMetric(median(dCPU), "saxsdog-cpu-ms/frame")
	b.ReportMetric(median(sFixed), "server-fixed-s")
	b.ReportMetric(median(sRate), "server-frames/s")
	b.ReportMetric(median(sCPU), "server-cpu-ms/frame")
	b.ReportMetric(median(fCPU), "feeder-cpu-ms/frame")
	b.ReportMetric(median(ratio), "ratio")
}

// median returns the median of v (which it sorts).
func median(v []float64) float64 {
	sort.Float64s(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// cpuSeconds returns the user and system CPU time of a running process
// (/proc/PID/stat, in ticks of 1/100 s), or -1 where unknown.
func cpuSeconds(p *proc) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return -1
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]) // after the command name
	if len(f) < 13 {
		return -1
	}
	u, err1 := strconv.Atoi(f[11])
	st, err2 := strconv.Atoi(f[12])
	if err1 != nil || err2 != nil {
		return -1
	}
	return float64(u+st) / 100
}

// childCPU returns the user and system CPU time of the waited-for child
// processes so far, in seconds.
func childCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err != nil {
		return -1
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
