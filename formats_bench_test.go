package saxs

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// h5pyTimer reads every frame of the dataset /entry/data/data of argv[1]
// through h5py (bitshuffle's filter for 32008) argv[2] times and prints
// the best time per frame in nanoseconds.
const h5pyTimer = `
import sys, time, h5py, bitshuffle.h5
f = h5py.File(sys.argv[1], "r")
d = f["entry/data/data"]
best = None
for _ in range(int(sys.argv[2])):
    t = time.perf_counter()
    for k in range(d.shape[0]):
        a = d[k]
    dt = (time.perf_counter() - t) / d.shape[0]
    best = dt if best is None else min(best, dt)
print(int(best * 1e9))
`

// BenchmarkDecodeFormats decodes the reference frame written by fabio as
// CBF and EDF and by h5py as an Eiger-like stack (5 frames each,
// bitshuffle-LZ4 and gzip), each next to os.ReadFile of the same file.
// Single-frame files are opened and decoded per iteration; the HDF5 data
// files are opened once and all 5 frames decoded per iteration (the
// ReadFile reads the whole data file). The bitshuffle case also reports
// h5py's time per frame on the same file (h5py-ns/frame, best of 5 runs of
// bitshuffle's filter).
func BenchmarkDecodeFormats(b *testing.B) {
	tif, _ := referenceFrame(b)
	dir := b.TempDir()
	cbf, edf, edfF := filepath.Join(dir, "f.cbf"), filepath.Join(dir, "f.edf"), filepath.Join(dir, "float.edf")
	runPython(b, []string{"numpy", "fabio"}, fabioWriter, tif, cbf, edf, edfF)
	runPython(b, []string{"numpy", "fabio", "h5py", "bitshuffle.h5"}, eigerWriter, tif, filepath.Join(dir, "eiger"))
	bslz4 := filepath.Join(dir, "eiger_data_000001.h5")
	gz := filepath.Join(dir, "eiger_data_000002.h5")
	for _, tc := range []struct {
		name, path string
		frames     int
	}{
		{"TIFF", tif, 1},
		{"CBF", cbf, 1},
		{"EDF", edf, 1}, // first of its two images
		{"HDF5-bitshuffle-LZ4", bslz4, 5},
		{"HDF5-gzip", gz, 5},
	} {
		b.Run(tc.name+"/ReadFile", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				data, err := os.ReadFile(tc.path)
				if err != nil {
					b.Fatal(err)
				}
				sink += int64(len(data))
			}
		})
		b.Run(tc.name+"/Decode", func(b *testing.B) {
			var r FrameReader
			var img Image
			b.ReportAllocs()
			if tc.frames > 1 {
				// A stack: opened once, all its frames decoded per iteration.
				src, err := r.Open(tc.path)
				if err != nil {
					b.Fatal(err)
				}
				defer src.Close()
				for b.Loop() {
					for k := 0; k < tc.frames; k++ {
						if err := src.ReadFrame(k, &img); err != nil {
							b.Fatal(err)
						}
					}
				}
			} else {
				// A single-frame file: opened and decoded per iteration.
				for b.Loop() {
					src, err := r.Open(tc.path)
					if err != nil {
						b.Fatal(err)
					}
					if err := src.ReadFrame(0, &img); err != nil {
						b.Fatal(err)
					}
					src.Close()
				}
			}
			if tc.name == "HDF5-bitshuffle-LZ4" {
				out, err := exec.Command(python, "-c", h5pyTimer, tc.path, "5").Output()
				if err == nil {
					if ns, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64); err == nil {
						b.ReportMetric(ns, "h5py-ns/frame")
					}
				}
			}
		})
	}
}
