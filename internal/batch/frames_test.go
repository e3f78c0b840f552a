package batch

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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
