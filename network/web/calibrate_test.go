package web

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"image/png"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/saxsdog/saxs"
	"github.com/saxsdog/saxs/internal/testframes"
)

// calibrateBody is the JSON of a /api/calibrate request for the frame
// data named name, with the fields of extra added.
func calibrateBody(t *testing.T, name string, data []byte, extra map[string]any) string {
	t.Helper()
	req := map[string]any{"frame": map[string]any{"filename": name, "data": data}, "calibrant": "AgBh",
		"wavelength": testframes.RingWavelength, "pixelSize": testframes.RingPixelMicroM}
	for k, v := range extra {
		if v == nil {
			delete(req, k)
		} else {
			req[k] = v
		}
	}
	b, err := json.Marshal(req)
	require.NoError(t, err)
	return string(b)
}

// postCalibrate runs /api/calibrate (with a deadline longer than do's
// 10 s: a calibration on a busy machine).
func postCalibrate(t *testing.T, w *webServer, c *http.Client, body string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", w.base+"/api/calibrate", strings.NewReader(body))
	require.NoError(t, err)
	cc := *c
	cc.Timeout = 0
	resp, err := cc.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var b bytes.Buffer
	_, err = b.ReadFrom(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b.String()
}

// checkReply checks a successful calibration of testframes.RingFrame:
// the construction's geometry within calibcli's tolerance, residuals and
// uncertainties that are numbers, the ring picture of the frame's size.
func checkReply(t *testing.T, w *webServer, c *http.Client, body string) CalibrateReply {
	t.Helper()
	st, out := postCalibrate(t, w, c, body)
	require.Equal(t, http.StatusOK, st, out)
	var rep CalibrateReply
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	testframes.CheckRingGeometry(t, rep.Geometry)
	require.Equal(t, testframes.RingWavelength, rep.Wavelength)
	require.Equal(t, []float64{testframes.RingPixelMicroM}, rep.Geometry.PixelSizeMicroM)
	require.NotEmpty(t, rep.Rings)
	n := 0
	for _, r := range rep.Rings {
		require.Greater(t, r.Points, 0)
		require.Less(t, float64(r.RMSDeg), 0.01, "ring %d", r.Ring)
		// ring k of AgBh is the order k: d = d001/k
		require.InDelta(t, saxs.AgBhD001/float64(r.Ring), float64(r.D), 1e-9)
		n += r.Points
	}
	require.Equal(t, rep.Points, n)
	require.Greater(t, float64(rep.Sigma.DistanceMM), 0.0)
	require.Less(t, float64(rep.Sigma.DistanceMM), 0.1)
	require.Greater(t, float64(rep.Sigma.BeamCenter[0]), 0.0)
	b64, ok := strings.CutPrefix(rep.PNG, "data:image/png;base64,")
	require.True(t, ok, rep.PNG[:min(40, len(rep.PNG))])
	raw, err := base64.StdEncoding.DecodeString(b64)
	require.NoError(t, err)
	pic, err := png.Decode(bytes.NewReader(raw))
	require.NoError(t, err)
	require.Equal(t, testframes.RingCols, pic.Bounds().Dx())
	require.Equal(t, testframes.RingRows, pic.Bounds().Dy())
	p, err := saxs.ParsePoni([]byte(rep.Poni), "reply.poni")
	require.NoError(t, err, rep.Poni)
	back := &saxs.Calibration{Geometry: saxs.Geometry{Imagesize: rep.Geometry.Imagesize, PixelSizeMicroM: []float64{172}},
		Masks: []saxs.MaskConfig{{MaskFile: "x.msk", Oversampling: 1, PixelPerRadialElement: 1}}}
	require.NoError(t, p.ApplyTo(back))
	require.InDelta(t, rep.Geometry.DetectorDistanceMM, back.Geometry.DetectorDistanceMM, 1e-6)
	require.InDelta(t, rep.Geometry.BeamCenter[0], back.Geometry.BeamCenter[0], 1e-6)
	require.InDelta(t, rep.Geometry.BeamCenter[1], back.Geometry.BeamCenter[1], 1e-6)
	return rep
}

// TestCalibrateEndpoint calibrates the ring frame of testframes (drawn
// from its closed form) through the API, with a mask, a custom list of
// d-spacings and start values, and writes the geometry into calibrations
// of both layouts.
func TestCalibrateEndpoint(t *testing.T) {
	w := startWeb(t, "tcp://127.0.0.1:1")
	c := sessionClient(t, w)

	st, out := do(t, c, "GET", w.base+"/api/calibrants", "", nil)
	require.Equal(t, http.StatusOK, st, out)
	var list []CalibrantInfo
	require.NoError(t, json.Unmarshal([]byte(out), &list))
	lib := saxs.Calibrants()
	require.Len(t, list, len(lib))
	for i, c := range lib {
		require.Equal(t, CalibrantInfo{Name: c.Name, Source: c.Source, N: len(c.D), DMax: c.D[0]}, list[i])
	}

	frame := testframes.RingFrameTIFF(t, false)
	rep := checkReply(t, w, c, calibrateBody(t, "agbh.tif", frame, nil))
	require.Equal(t, "agbh.tif", rep.Frame)
	require.Equal(t, "AgBh", rep.Calibrant)
	require.Empty(t, rep.Notes)

	// A mask of the frame's size: no control point under it.
	m := &saxs.Mask{Rows: testframes.RingRows, Cols: testframes.RingCols, Masked: make([]bool, testframes.RingRows*testframes.RingCols)}
	for r := range 100 {
		for c := 150; c < testframes.RingCols; c++ {
			m.Masked[r*testframes.RingCols+c] = true
		}
	}
	var mb bytes.Buffer
	require.NoError(t, saxs.EncodeFit2DMask(&mb, m))
	masked := checkReply(t, w, c, calibrateBody(t, `C:\data\agbh.tif`, frame,
		map[string]any{"mask": map[string]any{"filename": "quadrant.msk", "data": mb.Bytes()}}))
	require.Equal(t, "agbh.tif", masked.Frame)
	require.Contains(t, strings.Join(masked.Notes, ";"), "quadrant.msk: 13000 pixels masked")
	require.Less(t, masked.Points, rep.Points)

	// Custom spacings (the first eight orders) and start values.
	dsp := "# AgBh orders 1-8\n58.380\n29.190\n19.460\n14.595\n11.676\n9.730\n8.340\n7.2975\n"
	custom := checkReply(t, w, c, calibrateBody(t, "agbh.tif", frame, map[string]any{"calibrant": "ignored",
		"dspacings": dsp, "dspacingsName": "agbh8.D", "distanceMM": 310, "beamCenter": []float64{159.2, 126.2}}))
	require.Equal(t, "agbh8.D", custom.Calibrant)

	// The geometry into the 2.0 defaults: the masks and options stay.
	apply := func(cal json.RawMessage, gen string) (*saxs.Calibration, string) {
		t.Helper()
		b, err := json.Marshal(map[string]any{"calibration": cal, "generation": gen, "geometry": rep.Geometry, "wavelength": rep.Wavelength})
		require.NoError(t, err)
		st, out := do(t, c, "POST", w.base+"/api/calibrate/apply", string(b), nil)
		require.Equal(t, http.StatusOK, st, out)
		var r struct {
			Calibration json.RawMessage `json:"calibration"`
			Start       string          `json:"start"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &r))
		got, err := saxs.ParseCalibration(r.Calibration, "applied")
		require.NoError(t, err, string(r.Calibration))
		require.Equal(t, rep.Geometry.BeamCenter, got.Geometry.BeamCenter)
		require.Equal(t, rep.Geometry.DetectorDistanceMM, got.Geometry.DetectorDistanceMM)
		require.Equal(t, rep.Geometry.Tilt, got.Geometry.Tilt)
		require.Equal(t, [2]int{testframes.RingRows, testframes.RingCols}, got.Geometry.Imagesize)
		require.Equal(t, rep.Wavelength, got.Wavelength)
		return got, r.Start
	}
	_, def2 := do(t, c, "GET", w.base+"/api/defaults/2.0", "", nil)
	got, start := apply(json.RawMessage(def2), "2.0")
	require.Equal(t, "the calibration being edited", start)
	require.Equal(t, saxs.Nested, got.Generation())
	require.Equal(t, "AAA_integ.msk", got.Masks[0].MaskFile)
	require.Equal(t, 3, got.Masks[0].Oversampling)
	_, def1 := do(t, c, "GET", w.base+"/api/defaults/0.3.0", "", nil)
	got, _ = apply(json.RawMessage(def1), "0.3.0")
	require.Equal(t, saxs.Flat, got.Generation())
	got, start = apply(json.RawMessage(`{"Geometry": 1}`), "2.0")
	require.Contains(t, start, "schema defaults")
	require.Equal(t, saxs.Nested, got.Generation())
	st, out = do(t, c, "POST", w.base+"/api/calibrate/apply", `{"calibration": null, "geometry": {"DedectorDistanceMM": 0}, "wavelength": 1}`, nil)
	require.Equal(t, http.StatusUnprocessableEntity, st, out)
	require.Contains(t, out, "not a fitted geometry")
}

// hdf5CBFWriter writes the TIFF argv[1] as a NeXus HDF5 file argv[2]
// (/entry/data/data, one frame; h5py) and as a CBF argv[3] with a Pilatus
// header giving λ 1 Å and 172 µm pixels (fabio).
const hdf5CBFWriter = `
import sys, numpy as np, h5py, fabio
from fabio.cbfimage import CbfImage
d = fabio.open(sys.argv[1]).data.astype(np.int32)
with h5py.File(sys.argv[2], "w") as f:
    f.create_dataset("entry/data/data", data=d[np.newaxis])
hdr = {"_array_data.header_convention": "PILATUS_1.2",
       "_array_data.header_contents": "# Pixel_size 172e-6 m x 172e-6 m\r\n# Wavelength 1.0000 A\r\n"}
CbfImage(data=d, header=hdr).write(sys.argv[3])
`

// TestCalibrateFormats uploads the ring frame as HDF5 and as CBF written
// by h5py and fabio (skipped without them); the CBF's header gives the
// wavelength and the pixel size.
func TestCalibrateFormats(t *testing.T) {
	const python = "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		t.Skip(python + " not found; independent-writer test skipped")
	}
	if out, err := exec.Command(python, "-c", "import numpy, h5py, fabio").CombinedOutput(); err != nil {
		t.Skipf("numpy, h5py, fabio: %s; independent-writer test skipped", bytes.TrimSpace(out))
	}
	dir := t.TempDir()
	tif, h5, cbf := filepath.Join(dir, "agbh.tif"), filepath.Join(dir, "agbh.h5"), filepath.Join(dir, "agbh.cbf")
	testframes.WriteFile(t, tif, testframes.RingFrameTIFF(t, false))
	if out, err := exec.Command(python, "-c", hdf5CBFWriter, tif, h5, cbf).CombinedOutput(); err != nil {
		t.Fatalf("python writer failed: %v\n%s", err, out)
	}
	tmpdir := t.TempDir() // where the upload's temporary HDF5 file goes
	t.Setenv("TMPDIR", tmpdir)
	w := startWeb(t, "tcp://127.0.0.1:1")
	c := sessionClient(t, w)
	data, err := os.ReadFile(h5)
	require.NoError(t, err)
	checkReply(t, w, c, calibrateBody(t, "agbh.h5", data, nil))
	data, err = os.ReadFile(cbf)
	require.NoError(t, err)
	rep := checkReply(t, w, c, calibrateBody(t, "agbh.cbf", data, map[string]any{"wavelength": nil, "pixelSize": 0}))
	require.Equal(t, []string{"wavelength 1 Å from the header of agbh.cbf", "pixel size 172 µm from the header of agbh.cbf"}, rep.Notes)
	left, err := os.ReadDir(tmpdir)
	require.NoError(t, err)
	require.Empty(t, left, "temporary HDF5 files left behind")
}

// TestCalibrateHostile: frames and options that give no geometry are
// JSON errors that name the problem and the stage; a panic of the
// calibration is a 500 and the server goes on; the time bound and the
// one-at-a-time rule hold.
func TestCalibrateHostile(t *testing.T) {
	w := startWeb(t, "tcp://127.0.0.1:1")
	c := sessionClient(t, w)
	frame := testframes.RingFrameTIFF(t, false)
	nan := saxs.NewImage(64, 64)
	for i := range nan.Values {
		nan.Values[i] = math.NaN()
	}
	var nb bytes.Buffer
	require.NoError(t, saxs.EncodeTIFF(&nb, nan))
	small := &saxs.Mask{Rows: 2, Cols: 2, Masked: make([]bool, 4)}
	var sm bytes.Buffer
	require.NoError(t, saxs.EncodeFit2DMask(&sm, small))
	cases := []struct {
		name   string
		body   string
		status int
		stage  string
		msg    string
	}{
		{"uniform frame", calibrateBody(t, "flat.tif", testframes.RingFrameTIFF(t, true), nil), 422, "rings", "no calibrant rings found"},
		{"NaN frame", calibrateBody(t, "nan.tif", nb.Bytes(), nil), 422, "rings", "no calibrant rings found"},
		{"garbage", calibrateBody(t, "junk.tif", []byte("this is not a detector frame at all"), nil), 422, "frame", "the frame junk.tif cannot be read"},
		{"garbage without a name", calibrateBody(t, "", []byte{0, 1, 2, 3, 4, 5}, nil), 422, "frame", "the frame frame cannot be read"},
		{"truncated TIFF", calibrateBody(t, "cut.tif", frame[:len(frame)/2], nil), 422, "frame", "cut.tif"},
		{"HDF5 signature only", calibrateBody(t, "x.h5", []byte("\x89HDF\r\n\x1a\n garbage"), nil), 422, "frame", "cannot be read (TIFF, CBF, EDF or HDF5 are): x.h5: offset 8"},
		{"no frame", calibrateBody(t, "a.tif", nil, nil), 400, "request", "no calibrant frame uploaded"},
		{"unknown calibrant", calibrateBody(t, "a.tif", frame, map[string]any{"calibrant": "Kryptonite"}), 422, "options", "unknown calibrant"},
		{"bad d-spacings", calibrateBody(t, "a.tif", frame, map[string]any{"dspacings": "58.38\nfifty\n"}), 422, "options", "d-spacing must be a positive number"},
		{"negative wavelength", calibrateBody(t, "a.tif", frame, map[string]any{"wavelength": -1}), 422, "options", "wavelength must be a positive number"},
		{"no wavelength anywhere", calibrateBody(t, "a.tif", frame, map[string]any{"wavelength": 0}), 422, "options", "give the wavelength: the header of a.tif has none"},
		{"no pixel size anywhere", calibrateBody(t, "a.tif", frame, map[string]any{"pixelSize": nil}), 422, "options", "give the pixel size"},
		{"beam centre of 3", calibrateBody(t, "a.tif", frame, map[string]any{"beamCenter": []float64{1, 2, 3}}), 422, "options", "two numbers [y, x]"},
		{"mask of another size", calibrateBody(t, "a.tif", frame, map[string]any{"mask": map[string]any{"filename": "small.msk", "data": sm.Bytes()}}), 422, "mask", "is 2 × 2 pixels"},
		{"mask garbage", calibrateBody(t, "a.tif", frame, map[string]any{"mask": map[string]any{"filename": "bad.msk", "data": []byte("nope")}}), 422, "mask", "the mask bad.msk"},
		{"wavelength beyond 2d", calibrateBody(t, "a.tif", frame, map[string]any{"calibrant": "LaB6", "wavelength": 9}), 422, "rings", "no calibrant rings found"},
		{"not JSON", "{frame", 400, "", "request body"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, out := postCalibrate(t, w, c, tc.body)
			require.Equal(t, tc.status, st, out)
			var e struct{ Error, Stage string }
			require.NoError(t, json.Unmarshal([]byte(out), &e), out)
			require.Equal(t, tc.stage, e.Stage, out)
			require.Contains(t, e.Error, tc.msg)
			t.Logf("%d %s", st, e.Error)
		})
	}

	// A panic inside the calibration: a JSON 500, and the next request is served.
	w.calibrateFn = func(_ context.Context, img *saxs.Image, _ saxs.CalibrateOptions) (*saxs.CalibrationResult, error) {
		_ = img.Counts[img.Rows*img.Cols] // a runtime panic: index out of range
		return nil, nil
	}
	st, out := postCalibrate(t, w, c, calibrateBody(t, "a.tif", frame, nil))
	require.Equal(t, http.StatusInternalServerError, st, out)
	require.Contains(t, out, "internal error")
	require.Contains(t, out, "index out of range")

	// The time bound: a calibration that would run on is stopped.
	w.cfg.CalibrateTimeout = 300 * time.Millisecond
	w.calibrateFn = func(ctx context.Context, _ *saxs.Image, _ saxs.CalibrateOptions) (*saxs.CalibrationResult, error) {
		<-ctx.Done()
		return nil, &saxs.CalibrateError{Stage: "fit", Err: ctx.Err()}
	}
	st, out = postCalibrate(t, w, c, calibrateBody(t, "a.tif", frame, nil))
	require.Equal(t, http.StatusGatewayTimeout, st, out)
	require.Contains(t, out, "took longer than 300ms")

	// One at a time: while one runs, another waits, within its bound.
	release := make(chan struct{})
	var started sync.WaitGroup
	started.Add(1)
	w.cfg.CalibrateTimeout = time.Minute
	w.calibrateFn = func(ctx context.Context, _ *saxs.Image, _ saxs.CalibrateOptions) (*saxs.CalibrationResult, error) {
		started.Done()
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil, &saxs.CalibrateError{Stage: "rings", Err: saxs.ErrNoRings}
	}
	first := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("POST", w.base+"/api/calibrate", strings.NewReader(calibrateBody(t, "a.tif", frame, nil)))
		resp, err := c.Do(req)
		if err != nil {
			first <- 0
			return
		}
		resp.Body.Close()
		first <- resp.StatusCode
	}()
	started.Wait()
	w.cfg.CalibrateTimeout = 300 * time.Millisecond // the second request's bound
	st, out = postCalibrate(t, w, c, calibrateBody(t, "a.tif", frame, nil))
	require.Equal(t, http.StatusServiceUnavailable, st, out)
	require.Contains(t, out, "another calibration")
	close(release)
	require.Equal(t, http.StatusUnprocessableEntity, <-first)
}
