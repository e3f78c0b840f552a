package network

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// BenchmarkServerAnnounced measures the server's per-frame path in one
// process: a queue on the sample calibration with 2 threads, frames
// hard-linked into its folder and announced on a feeder socket (no
// saxsfeeder process), until stat counts them all. ns/op is per frame;
// run with -cpuprofile to see where a frame's time goes.
func BenchmarkServerAnnounced(b *testing.B) {
	frames, err := filepath.Glob(filepath.Join(sampleDir, "frames", "run1", "*.tif"))
	require.NoError(b, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, _, pub, run := announcedServer(b, ctx)
	// The subscriber connects in the background: announce one frame until
	// it is converted.
	p0 := filepath.Join(run, "warm.tif")
	require.NoError(b, os.Link(frames[0], p0))
	for s.processed() < 1 {
		require.NoError(b, pub.Publish(p0))
		time.Sleep(50 * time.Millisecond)
	}
	base := s.processed()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := filepath.Join(run, fmt.Sprintf("b_%07d.tif", i))
		require.NoError(b, os.Link(frames[i%len(frames)], p))
		require.NoError(b, pub.Publish(p))
	}
	for s.processed() < base+b.N {
		time.Sleep(time.Millisecond)
	}
}

// processed returns the running queue's "images processed".
func (s *Server) processed() int {
	q := s.queue()
	if q == nil {
		return 0
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.processed
}
