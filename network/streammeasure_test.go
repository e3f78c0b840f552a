package network

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/saxsdog/saxs"
)

// TestMeasureStreamReceive measures whether go-zeromq/zmq4's PULL socket
// (through the server's guarded transport) receives a detector stream
// reliably: 5000 messages of the reference Pilatus 1M frame, v2 bslz4
// (0.83 MB each), from an independent pyzmq PUSH sender, at full speed
// and at 100 Hz, decoded and integrated by the server. It logs the frames
// received, gaps, order, the elapsed time and the peak Go heap. It runs
// only with SAXS_STREAM_MEASURE=1 (about 80 s).
func TestMeasureStreamReceive(t *testing.T) {
	if os.Getenv("SAXS_STREAM_MEASURE") != "1" {
		t.Skip("a measurement: set SAXS_STREAM_MEASURE=1 to run it (about 80 s)")
	}
	if _, err := os.Stat(referenceDir); err != nil {
		t.Skipf("reference data not found (%v)", err)
	}
	const py = "/usr/bin/python3"
	if out, err := exec.Command(py, "-c", "import zmq, cbor2, lz4.block, bitshuffle, numpy").CombinedOutput(); err != nil {
		t.Skipf("the Python sender needs python3-zmq, python3-cbor2, python3-lz4, bitshuffle: %v: %s", err, out)
	}
	img, err := saxs.ReadImage(filepath.Join(referenceDir, "buf1_00000.tif"))
	require.NoError(t, err)
	raw := filepath.Join(t.TempDir(), "f.raw")
	b := make([]byte, 4*len(img.Counts))
	for k, v := range img.Counts {
		binary.LittleEndian.PutUint32(b[4*k:], uint32(v))
	}
	require.NoError(t, os.WriteFile(raw, b, 0o644))
	for _, rate := range []string{"0", "100"} {
		t.Run("rate-"+rate, func(t *testing.T) {
			const n = 5000
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, py, "stream/testdata/pysend.py", "2", "bslz4", fmt.Sprint(n), rate, "1",
				fmt.Sprint(img.Rows), fmt.Sprint(img.Cols), raw)
			out, err := cmd.StdoutPipe()
			require.NoError(t, err)
			in, err := cmd.StdinPipe()
			require.NoError(t, err)
			cmd.Stderr = os.Stderr
			require.NoError(t, cmd.Start())
			port, err := bufio.NewReader(out).ReadString('\n')
			require.NoError(t, err)
			s, _, dir := testServer(t, func(cfg *ServerConfig) { cfg.Stream = "tcp://127.0.0.1:" + strings.TrimSpace(port) })
			require.NoError(t, os.MkdirAll(filepath.Join(dir, "run1"), 0o755))
			cal, atts, err := LoadNew(filepath.Join(referenceDir, "cal2.json"))
			require.NoError(t, err)
			cal["Directory"] = toAny([]string{"run1"})
			r, err := (&Client{Addr: s.Endpoint(), Secret: testSecret, Timeout: 60 * time.Second}).Do(ctx, "new", Obj{"calibration": cal, "data": Obj{}}, atts)
			require.NoError(t, err)
			require.Equal(t, ResultNewQueue, r.Result, string(r.Raw))
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			base := ms.HeapInuse
			start := time.Now()
			_, err = in.Write([]byte("go\n"))
			require.NoError(t, err)
			var peak uint64
			deadline := time.Now().Add(4 * time.Minute)
			for s.StreamStats().Integrated+s.StreamStats().Failed < n && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapInuse)
			}
			elapsed := time.Since(start)
			require.NoError(t, cmd.Wait())
			st := s.StreamStats()
			t.Logf("rate %s Hz: %d of %d frames received, %d integrated, %d failed, %d dropped, %d out of order, %d bad messages; %.1f s (%.1f frames/s); Go heap in use %.0f MB before, peak %.0f MB",
				rate, st.Frames, n, st.Integrated, st.Failed, st.Dropped, st.Late, st.Bad, elapsed.Seconds(), float64(st.Integrated)/elapsed.Seconds(),
				float64(base)/1e6, float64(peak)/1e6)
			require.Equal(t, StreamStats{Messages: n + 2, Series: 1, Frames: n, Integrated: n}, st)
		})
	}
}
