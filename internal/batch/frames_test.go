package batch

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestFrameNames(t *testing.T) {
	for in, want := range map[string]bool{
		"x.tif": true, "X.TIFF": true, "x.cbf": true, "x.CBF": true, "x.edf": true, "x_master.h5": true,
		"x.nxs": true, "x.H5": true, "x_data_000001.h5": false, "x_DATA_000002.H5": false, "x_data_.h5": true,
		"x" + NXcanSASSuffix: false, "x.h5.bak": false, ".cbf": false, "x.hdf5": false, "x.dat": false, "x.chi": false,
	} {
		if got := isFrameName(in); got != want {
			t.Errorf("isFrameName(%q) = %v, want %v", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"x.cbf": "x.chi", "x.EDF": "x.chi", "run_master.h5": "run_master.chi", "a.b.nxs": "a.b.chi",
	} {
		if got := chiName(in); got != want {
			t.Errorf("chiName(%q) = %q, want %q", in, got, want)
		}
	}
}

// h5Writer writes with h5py a master file argv[1] linking the data file
// argv[2] (by its base name) of 2 frames of argv[3] × argv[4] pixels, all
// 4 in frame 0 and 9 in frame 1 (int32, gzip).
const h5Writer = `
import sys, os, numpy as np, h5py
rows, cols = int(sys.argv[3]), int(sys.argv[4])
d = np.stack([np.full((rows, cols), 4, np.int32), np.full((rows, cols), 9, np.int32)])
with h5py.File(sys.argv[2], "w") as f:
    f.create_dataset("entry/data/data", data=d, chunks=(1, rows, cols), compression="gzip")
with h5py.File(sys.argv[1], "w") as m:
    m["entry/data/data_000001"] = h5py.ExternalLink(os.path.basename(sys.argv[2]), "/entry/data/data")
`

// TestWatchMasterBeforeData: in watch mode a master file whose data file
// is not there yet is retried, not failed, and converted (one .chi per
// frame) once the data file appears.
func TestWatchMasterBeforeData(t *testing.T) {
	const python = "/usr/bin/python3"
	if out, err := exec.Command(python, "-c", "import numpy, h5py").CombinedOutput(); err != nil {
		t.Skipf("%s with numpy and h5py is needed (%v: %s); test skipped", python, err, bytes.TrimSpace(out))
	}
	dir := t.TempDir()
	cal := loadCal(t, flatCal(t, dir))
	data, out, stage := filepath.Join(dir, "data"), filepath.Join(dir, "out"), filepath.Join(dir, "stage")
	for _, d := range []string{data, stage} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(python, "-c", h5Writer, filepath.Join(data, "m_master.h5"), filepath.Join(stage, "m_data_000001.h5"),
		strconv.Itoa(testRows), strconv.Itoa(testCols))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("h5py: %v\n%s", err, b)
	}
	w := startWatch(t, Config{Calibration: cal, Roots: []string{data}, OutDir: out, Workers: 2,
		Watch: &Watch{Settle: testSettle, Timeout: testWait}})
	w.waitFor("a failed read of the master file", func() bool { return w.log.has("incomplete, retrying") })
	if err := os.Rename(filepath.Join(stage, "m_data_000001.h5"), filepath.Join(data, "m_data_000001.h5")); err != nil {
		t.Fatal(err)
	}
	master := filepath.Join(data, "m_master.h5")
	w.waitFor("the master file converted", func() bool { return w.converted[master] == 1 })
	s := w.stop()
	if s.Failed != 0 || s.Converted != 1 {
		t.Errorf("summary %+v", s)
	}
	checkChi(t, filepath.Join(out, "m_master_00000.chi"), 4)
	checkChi(t, filepath.Join(out, "m_master_00001.chi"), 9)
	if _, err := os.Stat(filepath.Join(out, "m_data_000001.chi")); err == nil {
		t.Error("the data file was converted on its own")
	}
}

// pmWriter writes with h5py, for each (name, first row) pair of argv[3:],
// a master file argv[1]/<name>_master.h5 holding one frame of argv[2]
// rows × 50 columns, all 4, and a pixel_mask flagging 5 rows from the
// first row given.
const pmWriter = `
import sys, os, numpy as np, h5py
rows = int(sys.argv[2]); cols = 50
a = sys.argv[3:]
for name, first in zip(a[0::2], a[1::2]):
    with h5py.File(os.path.join(sys.argv[1], name + "_master.h5"), "w") as m:
        m.create_dataset("entry/data/data", data=np.full((1, rows, cols), 4, np.int32))
        pm = np.zeros((rows, cols), np.uint32); pm[int(first):int(first) + 5, :] = 1
        m.create_dataset("entry/instrument/detector/detectorSpecific/pixel_mask", data=pm)
`

// TestPixelMaskIntegratorCached: three files with two distinct pixel masks
// build two integrators (logged each time), and the curves of the
// constant frames are that constant.
func TestPixelMaskIntegratorCached(t *testing.T) {
	const python = "/usr/bin/python3"
	if out, err := exec.Command(python, "-c", "import numpy, h5py").CombinedOutput(); err != nil {
		t.Skipf("%s with numpy and h5py is needed (%v: %s); test skipped", python, err, bytes.TrimSpace(out))
	}
	if testCols != 50 {
		t.Fatal("pmWriter assumes 50 columns")
	}
	dir := t.TempDir()
	cal := loadCal(t, flatCal(t, dir))
	data, out := filepath.Join(dir, "data"), filepath.Join(dir, "out")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, "-c", pmWriter, data, strconv.Itoa(testRows), "a", "0", "b", "10", "c", "0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("h5py: %v\n%s", err, b)
	}
	log := &logRecorder{}
	s, err := Run(context.Background(), Config{Calibration: cal, Roots: []string{data}, OutDir: out, Workers: 2, Logger: slog.New(log)})
	if err != nil || s.Converted != 3 || s.Failed != 0 {
		t.Fatalf("summary %+v, %v", s, err)
	}
	n := 0
	log.mu.Lock()
	for _, m := range log.msgs {
		if strings.HasPrefix(m, "detector pixel mask combined") {
			n++
		}
	}
	log.mu.Unlock()
	if n != 2 {
		t.Errorf("%d integrators built for 2 distinct pixel masks", n)
	}
	for _, name := range []string{"a", "b", "c"} {
		checkChi(t, filepath.Join(out, name+"_master.chi"), 4)
	}
}
