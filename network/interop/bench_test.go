package interop

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
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
