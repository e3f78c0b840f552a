package network

import (
	"bytes"
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/saxsdog/saxs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestServerFormats: a server with Dat and NXcanSAS writes, next to each
// .chi file, a .dat file with its numbers and one NXcanSAS file per frame
// file.
func TestServerFormats(t *testing.T) {
	_, c, dir := testServer(t, func(cfg *ServerConfig) { cfg.Dat, cfg.NXcanSAS = true, true })
	frames := startSample(t, c, dir)
	for _, f := range frames {
		base := filepath.Join(dir, "work", strings.TrimSuffix(filepath.Base(f), ".tif"))
		chi, err := saxs.ReadChiFile(base + "_cR0.chi")
		require.NoError(t, err)
		dat, err := os.ReadFile(base + "_cR0.dat")
		require.NoError(t, err)
		// The data rows of the .dat: q I sigma, as many as the .chi's.
		rows := 0
		for _, line := range strings.Split(string(dat), "\n") {
			if line != "" && !strings.HasPrefix(line, "#") {
				rows++
			}
		}
		assert.Equal(t, chi.Len(), rows, base+"_cR0.dat")
		fi, err := os.Stat(base + ".nxcansas.h5")
		require.NoError(t, err)
		assert.Positive(t, fi.Size())
	}
}

// TestServerEigerPixelMask: a server converts an HDF5 master file with a
// detector pixel mask (written by h5py) into one .chi per frame and mask:
// the pixel mask is combined with the masks received with the
// calibration, whose MaskFile paths do not exist on the server.
func TestServerEigerPixelMask(t *testing.T) {
	const python = "/usr/bin/python3"
	if out, err := exec.Command(python, "-c", "import numpy, h5py").CombinedOutput(); err != nil {
		t.Skipf("%s with numpy and h5py is needed (%v: %s); test skipped", python, err, bytes.TrimSpace(out))
	}
	_, c, dir := testServer(t, nil)
	ctx := context.Background()
	run := filepath.Join(dir, "run1")
	require.NoError(t, os.MkdirAll(run, 0o755))
	arg, atts := newRequest(t, []string{"run1"})
	r, err := c.Do(ctx, "new", arg, atts)
	require.NoError(t, err)
	require.Equal(t, ResultNewQueue, r.Result, string(r.Raw))
	img, err := saxs.ReadImage(filepath.Join(sampleDir, "frames", "run1", "sample_00001.tif"))
	require.NoError(t, err)
	stage := t.TempDir()
	script := `
import sys, numpy as np, h5py
rows, cols = int(sys.argv[2]), int(sys.argv[3])
with h5py.File(sys.argv[1], "w") as m:
    m.create_dataset("entry/data/data", data=np.full((2, rows, cols), 7, np.int32), chunks=(1, rows, cols), compression="gzip")
    pm = np.zeros((rows, cols), np.uint32); pm[:10, :] = 1
    m.create_dataset("entry/instrument/detector/detectorSpecific/pixel_mask", data=pm)
`
	master := filepath.Join(stage, "e_master.h5")
	out, err := exec.Command(python, "-c", script, master, strconv.Itoa(img.Rows), strconv.Itoa(img.Cols)).CombinedOutput()
	require.NoError(t, err, string(out))
	require.NoError(t, os.Rename(master, filepath.Join(run, "e_master.h5")))
	waitFor(t, "the master file converted", func() bool {
		r, err := c.Do(ctx, "stat", nil, nil)
		require.NoError(t, err)
		return statNumber(t, r, "images processed") == 1
	})
	// Two equal frames, two masks: four .chi files, frame 1's equal to
	// frame 0's (the combination itself is checked by the saxsdog tests).
	for _, mask := range []string{"_cR0.chi", "_cR1.chi"} {
		a, err := os.ReadFile(filepath.Join(dir, "work", "e_master_00000"+mask))
		require.NoError(t, err)
		b, err := os.ReadFile(filepath.Join(dir, "work", "e_master_00001"+mask))
		require.NoError(t, err)
		assert.Equal(t, a, b, mask)
		chi, err := saxs.ReadChiFile(filepath.Join(dir, "work", "e_master_00000"+mask))
		require.NoError(t, err)
		finite := 0
		for _, v := range chi.I {
			if !math.IsNaN(v) {
				finite++
			}
		}
		assert.Positive(t, finite, mask)
	}
}
