package network

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"github.com/saxsdog/saxs/internal/testframes"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saxsdog/saxs"
	"github.com/saxsdog/saxs/internal/batch"
	"github.com/saxsdog/saxs/internal/pyjson"
	"github.com/saxsdog/saxs/network/stream"
)

// streamFrames returns the bundled sample frames (all 160×128) in a fixed
// order and their paths.
func streamFrames(t *testing.T) ([]*saxs.Image, []string) {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(sampleDir, "frames", "*", "*.tif"))
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	slices.Sort(paths)
	var imgs []*saxs.Image
	for _, p := range paths {
		img, err := saxs.ReadImage(p)
		require.NoError(t, err)
		imgs = append(imgs, img)
	}
	return imgs, paths
}

// pushSocket binds a PUSH socket on a free loopback port and returns it
// with its address; it is closed with the test.
func pushSocket(t *testing.T) (zmq4.Socket, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	push := zmq4.NewPush(ctx, zmq4.WithLogger(discardLogger()), zmq4.WithTimeout(30*time.Second))
	require.NoError(t, push.Listen("tcp://127.0.0.1:0"))
	t.Cleanup(func() { push.Close(); cancel() })
	return push, "tcp://" + push.Addr().String()
}

// referenceChi converts the frames with the saxsdog pipeline (batch.Run,
// as saxsdog does) with the calibration arg["calibration"] and returns,
// per frame, the .chi files' contents by curve suffix (_cR0, _cR1).
func referenceChi(t *testing.T, arg Obj, paths []string, masks map[int]*saxs.Mask) [][]string {
	t.Helper()
	ref := t.TempDir()
	refRun := filepath.Join(ref, "run")
	for i, f := range paths {
		copyFile(t, f, filepath.Join(refRun, fmt.Sprintf("f%d.tif", i)))
	}
	calText, err := pyjson.Marshal(arg["calibration"])
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(ref, "cal.json"), calText, 0o644))
	copyFile(t, filepath.Join(sampleDir, "mask.msk"), filepath.Join(ref, "mask.msk"))
	cal, err := saxs.LoadCalibration(filepath.Join(ref, "cal.json"))
	require.NoError(t, err)
	_, err = batch.Run(context.Background(), batch.Config{Calibration: cal, Roots: []string{refRun}, RelPath: "../work", ErrorLog: "-"})
	require.NoError(t, err)
	out := make([][]string, len(paths))
	for i := range paths {
		for k := 0; k < 2; k++ {
			b, err := os.ReadFile(filepath.Join(ref, "work", fmt.Sprintf("f%d_cR%d.chi", i, k)))
			require.NoError(t, err)
			out[i] = append(out[i], string(b))
		}
	}
	return out
}

// startStreamQueue starts a server receiving addr and a queue on run1.
func startStreamQueue(t *testing.T, addr string) (*Server, *Client, string, Obj) {
	t.Helper()
	s, c, dir := testServer(t, func(cfg *ServerConfig) { cfg.Stream = addr })
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "run1"), 0o755))
	arg, atts := newRequest(t, []string{"run1"})
	r, err := c.Do(context.Background(), "new", arg, atts)
	require.NoError(t, err)
	require.Equal(t, ResultNewQueue, r.Result, string(r.Raw))
	return s, c, dir, arg
}

// checkStreamChi compares each frame's .chi files with the reference of
// the frame it was sent from (frame i from frames[i % len]).
func checkStreamChi(t *testing.T, dir string, series uint64, n int, want [][]string) {
	t.Helper()
	bad := 0
	for i := 0; i < n; i++ {
		for k := 0; k < 2; k++ {
			p := filepath.Join(dir, "work", fmt.Sprintf("%s_cR%d.chi", StreamName(series, int64(i)), k))
			got, err := os.ReadFile(p)
			require.NoError(t, err)
			if string(got) != want[i%len(want)][k] {
				bad++
				if bad < 5 {
					t.Errorf("%s differs from the TIFF path's .chi of frame %d", filepath.Base(p), i%len(want))
				}
			}
		}
	}
	require.Zero(t, bad, "stream .chi files that differ from the TIFF path's")
}

// TestStreamIntegratesLikeTIFF: 500 frames at 100 Hz, v1 (bs32-lz4<) and
// v2 (bslz4) from the Go sender: all arrive, integrate, are recorded in
// the queue (stat, fileslist) and their .chi files equal byte for byte
// what saxsdog writes for the same TIFF frames.
func TestStreamIntegratesLikeTIFF(t *testing.T) {
	if testing.Short() {
		t.Skip("500 frames at 100 Hz take 5 s per version")
	}
	imgs, paths := streamFrames(t)
	for _, v := range []stream.Version{stream.V1, stream.V2} {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			push, addr := pushSocket(t)
			s, c, dir, arg := startStreamQueue(t, addr)
			want := referenceChi(t, arg, paths, nil)
			const n = 500
			series := stream.Series{Version: v, ID: uint64(10 + v), NImages: n, Rows: imgs[0].Rows, Cols: imgs[0].Cols, ElemSize: 4, Encoding: stream.EncBSLZ4}
			sent, err := stream.Send(context.Background(), push, stream.SendOptions{Series: series, Frames: imgs, Rate: 100})
			require.NoError(t, err)
			require.EqualValues(t, n, sent.Frames)
			waitFor(t, "all frames integrated and the end received", func() bool {
				st := s.StreamStats()
				return st.Integrated == n && st.Messages == n+2
			})
			st := s.StreamStats()
			assert.Equal(t, StreamStats{Messages: n + 2, Series: 1, Frames: n, Integrated: n}, st)
			checkStreamChi(t, dir, series.ID, n, want)
			r, err := c.Do(context.Background(), "stat", nil, nil)
			require.NoError(t, err)
			assert.Equal(t, n, statNumber(t, r, "images processed"))
			r, err = c.Do(context.Background(), "fileslist", nil, nil)
			require.NoError(t, err)
			fl := r.Map()["fileslist"].(map[string]any)
			assert.Len(t, fl["Radial0"], n)
			assert.Contains(t, fl["Radial1"], "work/"+StreamName(series.ID, 499)+"_cR1.chi")
			r, err = c.Do(context.Background(), "plot", nil, nil)
			require.NoError(t, err)
			assert.Equal(t, ResultPlot, r.Result)
		})
	}
}

// TestStreamPythonSender: an independent sender (pyzmq, cbor2, lz4,
// bitshuffle) at 100 Hz: v2 bslz4 (500 frames) and v1 lz4< (50 frames at
// full speed) integrate to the TIFF path's curves.
func TestStreamPythonSender(t *testing.T) {
	if testing.Short() {
		t.Skip("500 frames at 100 Hz take 5 s")
	}
	const py = "/usr/bin/python3"
	if out, err := exec.Command(py, "-c", "import zmq, cbor2, lz4.block, bitshuffle, numpy").CombinedOutput(); err != nil {
		t.Skipf("the Python sender needs python3-zmq, python3-cbor2, python3-lz4, bitshuffle: %v: %s", err, out)
	}
	imgs, paths := streamFrames(t)
	raw := t.TempDir()
	var files []string
	for i, img := range imgs {
		b := make([]byte, 4*len(img.Counts))
		for k, v := range img.Counts {
			binary.LittleEndian.PutUint32(b[4*k:], uint32(v))
		}
		p := filepath.Join(raw, fmt.Sprintf("f%d.raw", i))
		require.NoError(t, os.WriteFile(p, b, 0o644))
		files = append(files, p)
	}
	for _, tc := range []struct {
		version, encoding string
		n                 int
		rate              string
	}{{"2", "bslz4", 500, "100"}, {"1", "lz4", 50, "0"}} {
		t.Run("v"+tc.version+"-"+tc.encoding, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			args := append([]string{"stream/testdata/pysend.py", tc.version, tc.encoding, fmt.Sprint(tc.n), tc.rate, "21",
				fmt.Sprint(imgs[0].Rows), fmt.Sprint(imgs[0].Cols)}, files...)
			cmd := exec.CommandContext(ctx, py, args...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.StdoutPipe()
			require.NoError(t, err)
			in, err := cmd.StdinPipe()
			require.NoError(t, err)
			require.NoError(t, cmd.Start())
			waited := false
			defer func() {
				if !waited {
					cancel()
					_ = cmd.Wait()
				}
			}()
			port, err := bufio.NewReader(out).ReadString('\n')
			require.NoError(t, err, "the Python sender's port")
			s, _, dir, arg := startStreamQueue(t, "tcp://127.0.0.1:"+strings.TrimSpace(port))
			_, err = in.Write([]byte("go\n")) // the queue runs: send
			require.NoError(t, err)
			want := referenceChi(t, arg, paths, nil)
			waitFor(t, "all frames integrated and the end received", func() bool {
				st := s.StreamStats()
				return st.Integrated == int64(tc.n) && st.Messages == int64(tc.n)+2
			})
			err = cmd.Wait()
			waited = true
			require.NoError(t, err, stderr.String())
			assert.Equal(t, StreamStats{Messages: int64(tc.n) + 2, Series: 1, Frames: int64(tc.n), Integrated: int64(tc.n)}, s.StreamStats())
			checkStreamChi(t, dir, 21, tc.n, want)
		})
	}
}

// TestStreamGapsAndNoQueue: frames sent before new are counted as
// received with no queue; a series with frames left out (a gap in the
// numbering and missing frames at the end) is reported as dropped.
func TestStreamGapsAndNoQueue(t *testing.T) {
	imgs, _ := streamFrames(t)
	push, addr := pushSocket(t)
	s, c, _ := testServer(t, func(cfg *ServerConfig) { cfg.Stream = addr })
	series := stream.Series{Version: stream.V1, ID: 1, NImages: 10, Rows: imgs[0].Rows, Cols: imgs[0].Cols, ElemSize: 4, Encoding: stream.EncLZ4Block}
	_, err := stream.Send(context.Background(), push, stream.SendOptions{Series: series, Frames: imgs})
	require.NoError(t, err)
	waitFor(t, "frames without a queue counted", func() bool { return s.StreamStats().NoQueue == 10 })

	dir := s.dir
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "run1"), 0o755))
	arg, atts := newRequest(t, []string{"run1"})
	r, err := c.Do(context.Background(), "new", arg, atts)
	require.NoError(t, err)
	require.Equal(t, ResultNewQueue, r.Result, string(r.Raw))
	drop, err := stream.ParseDrop("5,20-22,38-39")
	require.NoError(t, err)
	series = stream.Series{Version: stream.V2, ID: 2, NImages: 40, Rows: imgs[0].Rows, Cols: imgs[0].Cols, ElemSize: 2, Encoding: stream.EncLZ4}
	sent, err := stream.Send(context.Background(), push, stream.SendOptions{Series: series, Frames: imgs, Drop: drop})
	require.NoError(t, err)
	require.EqualValues(t, 34, sent.Frames)
	waitFor(t, "series end seen", func() bool { st := s.StreamStats(); return st.Messages == 12+36 && st.Integrated == 34 })
	st := s.StreamStats()
	// 10 frames with no queue; then 40 announced, 6 left out (1 + 3 in
	// gaps, 2 at the end).
	assert.Equal(t, StreamStats{Messages: 12 + 36, Series: 2, Frames: 44, Integrated: 34, NoQueue: 10, Dropped: 6}, st)
	_, err = os.Stat(filepath.Join(dir, "work", StreamName(2, 5)+"_cR0.chi"))
	assert.True(t, os.IsNotExist(err), "a dropped frame has no file")
	_, err = os.Stat(filepath.Join(dir, "work", StreamName(2, 37)+"_cR0.chi"))
	assert.NoError(t, err)
}

// TestStreamPixelMaskAndCutoff: a series header's pixel mask and count
// cutoff exclude the same pixels as a hand-made mask in the TIFF path:
// the calibration's mask, the pixel mask and every pixel whose unsigned
// 32-bit value is at or above the cutoff.
func TestStreamPixelMaskAndCutoff(t *testing.T) {
	imgs, paths := streamFrames(t)
	push, addr := pushSocket(t)
	s, _, dir, arg := startStreamQueue(t, addr)
	rows, cols := imgs[0].Rows, imgs[0].Cols
	pm := &saxs.Mask{Rows: rows, Cols: cols, Masked: make([]bool, rows*cols)}
	for r := 40; r < 60; r++ { // a block near the beam and a column
		for c := 60; c < 90; c++ {
			pm.Masked[r*cols+c] = true
		}
	}
	for r := 0; r < rows; r++ {
		pm.Masked[r*cols+100] = true
	}
	const cutoff = 1200
	series := stream.Series{Version: stream.V1, ID: 3, NImages: int64(len(imgs)), Rows: rows, Cols: cols, ElemSize: 4,
		Encoding: stream.EncBSLZ4, PixelMask: pm, CountCutoff: cutoff}
	_, err := stream.Send(context.Background(), push, stream.SendOptions{Series: series, Frames: imgs})
	require.NoError(t, err)
	waitFor(t, "frames integrated", func() bool { return s.StreamStats().Integrated == int64(len(imgs)) })

	// The hand-masked TIFF integration.
	calText, err := pyjson.Marshal(arg["calibration"])
	require.NoError(t, err)
	cal, err := saxs.ParseCalibration(calText, "cal")
	require.NoError(t, err)
	calMask, err := saxs.OpenMask(filepath.Join(sampleDir, "mask.msk"))
	require.NoError(t, err)
	plain := referenceChi(t, arg, paths, nil)
	out := t.TempDir()
	saturated := 0
	for i, p := range paths {
		img, err := saxs.ReadImage(p)
		require.NoError(t, err)
		hand := &saxs.Mask{Rows: rows, Cols: cols, Masked: make([]bool, rows*cols)}
		for k, v := range img.Counts {
			sat := uint64(uint32(v)) >= cutoff
			if sat && !calMask.Masked[k] && !pm.Masked[k] {
				saturated++
			}
			hand.Masked[k] = calMask.Masked[k] || pm.Masked[k] || sat
		}
		ig, err := saxs.NewWithOptions(cal, saxs.Options{Masks: []*saxs.Mask{hand, hand}, Workers: 1})
		require.NoError(t, err)
		base := filepath.Join(out, fmt.Sprintf("f%d.chi", i))
		require.NoError(t, ig.IntegrateChi(img, base))
		for k := 0; k < 2; k++ {
			want, err := os.ReadFile(filepath.Join(out, fmt.Sprintf("f%d_cR%d.chi", i, k)))
			require.NoError(t, err)
			got, err := os.ReadFile(filepath.Join(dir, "work", fmt.Sprintf("%s_cR%d.chi", StreamName(3, int64(i)), k)))
			require.NoError(t, err)
			assert.Equal(t, string(want), string(got), "frame %d curve %d", i, k)
			assert.NotEqual(t, plain[i][k], string(got), "frame %d curve %d: the masks change the curve", i, k)
		}
	}
	require.Positive(t, saturated, "the cutoff must mask pixels that the masks let through")
}

// referenceDir is the shared reference data (real Pilatus 1M frames).
const referenceDir = "../../shared/data/saxsdog-reference"

// TestStreamPilatus1M: the real-size case: the two reference Pilatus 1M
// frames (981×1043, gaps at -1/-2) sent as 20 v1 bs32-lz4< frames with
// the reference calibration and mask integrate to .chi files equal to
// what saxsdog writes for the TIFFs.
func TestStreamPilatus1M(t *testing.T) {
	if _, err := os.Stat(referenceDir); err != nil {
		t.Skipf("reference data not found (%v): this test needs ../shared", err)
	}
	if testing.Short() {
		t.Skip("builds a 1M-pixel operator")
	}
	paths := []string{filepath.Join(referenceDir, "buf1_00000.tif"), filepath.Join(referenceDir, "agbeh2_1M.tif")}
	var imgs []*saxs.Image
	for _, p := range paths {
		img, err := saxs.ReadImage(p)
		require.NoError(t, err)
		imgs = append(imgs, img)
	}
	push, addr := pushSocket(t)
	s, _, dir := testServer(t, func(cfg *ServerConfig) { cfg.Stream = addr })
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "run1"), 0o755))
	cal, atts, err := LoadNew(filepath.Join(referenceDir, "cal2.json"))
	require.NoError(t, err)
	cal["Directory"] = toAny([]string{"run1"})
	r, err := (&Client{Addr: s.Endpoint(), Secret: testSecret, Timeout: 60 * time.Second}).Do(context.Background(), "new", Obj{"calibration": cal, "data": Obj{}}, atts)
	require.NoError(t, err)
	require.Equal(t, ResultNewQueue, r.Result, string(r.Raw))

	// saxsdog's curves of the TIFFs.
	ref := t.TempDir()
	for i, p := range paths {
		copyFile(t, p, filepath.Join(ref, "run", fmt.Sprintf("f%d.tif", i)))
	}
	calText, err := pyjson.Marshal(cal)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(ref, "cal.json"), calText, 0o644))
	copyFile(t, filepath.Join(referenceDir, "AAA_integ.msk"), filepath.Join(ref, "AAA_integ.msk"))
	rc, err := saxs.LoadCalibration(filepath.Join(ref, "cal.json"))
	require.NoError(t, err)
	_, err = batch.Run(context.Background(), batch.Config{Calibration: rc, Roots: []string{filepath.Join(ref, "run")}, RelPath: "../work", ErrorLog: "-"})
	require.NoError(t, err)

	const n = 20
	series := stream.Series{Version: stream.V1, ID: 1, NImages: n, Rows: imgs[0].Rows, Cols: imgs[0].Cols, ElemSize: 4, Encoding: stream.EncBSLZ4}
	_, err = stream.Send(context.Background(), push, stream.SendOptions{Series: series, Frames: imgs, Rate: 100})
	require.NoError(t, err)
	waitFor(t, "all frames integrated and the end received", func() bool {
		st := s.StreamStats()
		return st.Integrated == n && st.Messages == n+2
	})
	assert.Equal(t, StreamStats{Messages: n + 2, Series: 1, Frames: n, Integrated: n}, s.StreamStats())
	for i := 0; i < n; i++ {
		want, err := os.ReadFile(filepath.Join(ref, "work", fmt.Sprintf("f%d.chi", i%2)))
		require.NoError(t, err)
		got, err := os.ReadFile(filepath.Join(dir, "work", StreamName(1, int64(i))+".chi"))
		require.NoError(t, err)
		require.True(t, bytes.Equal(want, got), "frame %d: .chi differs from the TIFF path's", i)
	}
}

// TestStreamBadMessages: malformed messages, an image of no announced
// series and a frame of the wrong size are counted and skipped; the
// series after them is integrated.
func TestStreamBadMessages(t *testing.T) {
	imgs, _ := streamFrames(t)
	push, addr := pushSocket(t)
	s, _, _, _ := startStreamQueue(t, addr)
	send := func(parts ...[]byte) { require.NoError(t, push.SendMulti(zmq4.NewMsgFrom(parts...))) }
	send([]byte(`{"htype": `))
	send([]byte{0xd9, 0xd9, 0xf7, 0xff})
	send([]byte(`{"htype": "dimage-1.0", "series": 1, "frame": 0}`), []byte(`{"htype": "dimage_d-1.0", "shape": [4294967296, 4294967296], "type": "uint32", "encoding": "lz4<"}`), []byte("x"), []byte(`{"htype": "dconfig-1.0"}`))
	stray := stream.Series{Version: stream.V1, ID: 99, NImages: 1, Rows: 2, Cols: 2, ElemSize: 4, Encoding: stream.EncNone}
	msg, err := stray.EncodeImage(0, &saxs.Image{Rows: 2, Cols: 2, Counts: []int32{1, 2, 3, 4}})
	require.NoError(t, err)
	send(msg...)
	// A series whose header says 2×2 frames: its frame cannot integrate
	// with the 160×128 calibration.
	small := stream.Series{Version: stream.V2, ID: 5, NImages: 1, Rows: 2, Cols: 2, ElemSize: 4, Encoding: stream.EncBSLZ4}
	_, err = stream.Send(context.Background(), push, stream.SendOptions{Series: small, Frames: []*saxs.Image{{Rows: 2, Cols: 2, Counts: []int32{1, 2, 3, 4}}}})
	require.NoError(t, err)
	good := stream.Series{Version: stream.V1, ID: 6, NImages: 3, Rows: imgs[0].Rows, Cols: imgs[0].Cols, ElemSize: 4, Encoding: stream.EncBSLZ4}
	_, err = stream.Send(context.Background(), push, stream.SendOptions{Series: good, Frames: imgs})
	require.NoError(t, err)
	waitFor(t, "the good series integrated", func() bool { st := s.StreamStats(); return st.Integrated == 3 && st.Failed == 1 && st.Messages == 12 })
	assert.Equal(t, StreamStats{Messages: 4 + 3 + 5, Bad: 3, Series: 2, Frames: 4, Integrated: 3, Failed: 1, Stray: 1}, s.StreamStats())
}

// TestStreamFormats: with Dat and NXcanSAS a stream frame gets, next to
// its .chi files, a .dat file per curve with the .chi's rows and an
// NXcanSAS file.
func TestStreamFormats(t *testing.T) {
	imgs, _ := streamFrames(t)
	push, addr := pushSocket(t)
	s, c, dir := testServer(t, func(cfg *ServerConfig) { cfg.Stream = addr; cfg.Dat, cfg.NXcanSAS = true, true })
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "run1"), 0o755))
	arg, atts := newRequest(t, []string{"run1"})
	r, err := c.Do(context.Background(), "new", arg, atts)
	require.NoError(t, err)
	require.Equal(t, ResultNewQueue, r.Result, string(r.Raw))
	series := stream.Series{Version: stream.V2, ID: 8, NImages: 2, Rows: imgs[0].Rows, Cols: imgs[0].Cols, ElemSize: 4, Encoding: stream.EncBSLZ4}
	_, err = stream.Send(context.Background(), push, stream.SendOptions{Series: series, Frames: imgs})
	require.NoError(t, err)
	waitFor(t, "frames integrated", func() bool { return s.StreamStats().Integrated == 2 })
	for i := int64(0); i < 2; i++ {
		base := filepath.Join(dir, "work", StreamName(8, i))
		for k := 0; k < 2; k++ {
			chi, err := saxs.ReadChiFile(fmt.Sprintf("%s_cR%d.chi", base, k))
			require.NoError(t, err)
			dat, err := os.ReadFile(fmt.Sprintf("%s_cR%d.dat", base, k))
			require.NoError(t, err)
			rows := 0
			for _, line := range strings.Split(string(dat), "\n") {
				if line != "" && !strings.HasPrefix(line, "#") {
					rows++
				}
			}
			assert.Equal(t, chi.Len(), rows)
		}
		h5, err := os.ReadFile(base + ".nxcansas.h5")
		require.NoError(t, err)
		assert.True(t, bytes.HasPrefix(h5, []byte("\x89HDF\r\n\x1a\n")), "an HDF5 file")
	}
}

// TestStreamReconnect: the detector's socket goes away and comes back on
// the same address (a DCU restart): the server connects again and
// integrates the next series.
func TestStreamReconnect(t *testing.T) {
	imgs, _ := streamFrames(t)
	ctx1, cancel1 := context.WithCancel(context.Background())
	push := zmq4.NewPush(ctx1, zmq4.WithLogger(discardLogger()), zmq4.WithTimeout(30*time.Second))
	require.NoError(t, push.Listen("tcp://127.0.0.1:0"))
	addr := "tcp://" + push.Addr().String()
	s, _, _, _ := startStreamQueue(t, addr)
	series := stream.Series{Version: stream.V1, ID: 1, NImages: 3, Rows: imgs[0].Rows, Cols: imgs[0].Cols, ElemSize: 4, Encoding: stream.EncBSLZ4}
	_, err := stream.Send(context.Background(), push, stream.SendOptions{Series: series, Frames: imgs})
	require.NoError(t, err)
	waitFor(t, "the first series", func() bool { return s.StreamStats().Integrated == 3 })
	push.Close()
	cancel1()

	var push2 zmq4.Socket
	waitFor(t, "the address free again", func() bool {
		ctx2, cancel2 := context.WithCancel(context.Background())
		p := zmq4.NewPush(ctx2, zmq4.WithLogger(discardLogger()), zmq4.WithTimeout(30*time.Second))
		if err := p.Listen(addr); err != nil {
			p.Close()
			cancel2()
			return false
		}
		t.Cleanup(func() { p.Close(); cancel2() })
		push2 = p
		return true
	})
	series.ID = 2
	_, err = stream.Send(context.Background(), push2, stream.SendOptions{Series: series, Frames: imgs})
	require.NoError(t, err)
	waitFor(t, "the second series", func() bool { return s.StreamStats().Integrated == 6 })
}

// TestStreamLogs: the log reports a header whose wavelength disagrees
// with the calibration, the gap with its first missing frame, and the
// series end with the frames received against expected.
func TestStreamLogs(t *testing.T) {
	imgs, _ := streamFrames(t)
	push, addr := pushSocket(t)
	var logs testframes.SyncBuffer
	s, c, dir := testServer(t, func(cfg *ServerConfig) {
		cfg.Stream = addr
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "run1"), 0o755))
	arg, atts := newRequest(t, []string{"run1"})
	r, err := c.Do(context.Background(), "new", arg, atts)
	require.NoError(t, err)
	require.Equal(t, ResultNewQueue, r.Result, string(r.Raw))
	drop, err := stream.ParseDrop("2-3")
	require.NoError(t, err)
	series := stream.Series{Version: stream.V2, ID: 9, NImages: 6, Rows: imgs[0].Rows, Cols: imgs[0].Cols, ElemSize: 4, Encoding: stream.EncBSLZ4, Wavelength: 1.0}
	_, err = stream.Send(context.Background(), push, stream.SendOptions{Series: series, Frames: imgs, Drop: drop})
	require.NoError(t, err)
	waitFor(t, "the series end", func() bool { return s.StreamStats().Messages == 6 && s.StreamStats().Integrated == 4 })
	out := logs.String()
	assert.Contains(t, out, `msg="stream header disagrees with the calibration (the calibration is used)" server=Test series=9 disagreement="wavelength 1 Å in the file header, 1.54 Å in the calibration"`)
	assert.Contains(t, out, `msg="stream frames missing" server=Test series=9 "first missing"=2 missing=2`)
	assert.Contains(t, out, `msg="stream series ended incomplete" server=Test series=9 received=4 expected=6 dropped=2 "out of order"=0`)
}
