package stream

import (
	"bytes"
	"context"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/saxsdog/saxs"
)

// freeAddr returns a loopback TCP address that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "tcp://" + addr
}

// TestSimMain: saxsstreamsim sends the sample TIFFs as two v1 series with
// frames left out; a PULL receiver decodes every message, sees the gaps
// and the counts at each series end, and the frames decode to the TIFFs'
// counts.
func TestSimMain(t *testing.T) {
	frames := sampleFrames(t)
	addr := freeAddr(t)
	var stdout, stderr bytes.Buffer
	var code int
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		code = SimMain([]string{"--bind", addr, "--stream-version", "1", "--encoding", "bslz4", "--rate", "0", "-n", "12",
			"--repeat", "2", "--series", "5", "--drop", "3,7-8", "../../testdata/sample/frames/run1/sample_00001.tif",
			"../../testdata/sample/frames/run1/sample_00002.tif"}, &stdout, &stderr)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pull := zmq4.NewPull(ctx, zmq4.WithDialerRetry(20*time.Millisecond), zmq4.WithDialerMaxRetries(-1))
	defer pull.Close()
	if err := pull.Dial(addr); err != nil {
		t.Fatal(err)
	}
	var tr Tracker
	var d FrameDecoder
	var img saxs.Image
	var sums []Summary
	var gaps []int64
	for len(sums) < 2 {
		msg, err := pull.Recv()
		if err != nil {
			t.Fatalf("receive: %v (sim stderr: %s)", err, stderr.String())
		}
		m, err := Decode(msg.Frames, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		ev := tr.Add(m)
		if ev.Gap > 0 {
			gaps = append(gaps, ev.Gap)
		}
		if ev.Summary != nil {
			sums = append(sums, *ev.Summary)
		}
		if m.Kind == KindImage {
			if err := d.Decode(m.Image, &img); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(img.Counts, frames[m.Image.Frame%2].Counts) {
				t.Fatalf("frame %d differs from its TIFF", m.Image.Frame)
			}
		}
	}
	wg.Wait()
	if code != 0 {
		t.Fatalf("saxsstreamsim exited %d: %s", code, stderr.String())
	}
	want := Summary{Received: 9, Expected: 12, Dropped: 3}
	for i, s := range sums {
		want.Series = uint64(5 + i)
		if s != want {
			t.Errorf("series %d: %+v, want %+v", i, s, want)
		}
	}
	if !slices.Equal(gaps, []int64{1, 2, 1, 2}) {
		t.Errorf("gaps %v, want 1 and 2 per series", gaps)
	}
	if !strings.Contains(stdout.String(), "series 6: 9 frames sent, 3 left out") {
		t.Errorf("stdout: %s", stdout.String())
	}
}

// TestSimUsage: bad options exit 2 with a message.
func TestSimUsage(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--encoding", "zstd", "x.tif"},
		{"--bits", "8", "x.tif"},
		{"--drop", "3-1", "x.tif"},
		{"--stream-version", "3", "../../testdata/sample/frames/run1/sample_00001.tif"},
	} {
		var out, errb bytes.Buffer
		if code := SimMain(args, &out, &errb); code != 2 || !strings.Contains(errb.String(), "saxsstreamsim:") {
			t.Errorf("%v: exit %d, stderr %q", args, code, errb.String())
		}
	}
}
