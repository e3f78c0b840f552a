//go:build unix

package cli_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/saxsdog/saxs"
	"github.com/saxsdog/saxs/internal/converter"
	"github.com/saxsdog/saxs/internal/plotchi"
	"github.com/saxsdog/saxs/internal/saxsdogcli"
)

// Bounds of each hostile case: a case that hangs or reads without end
// fails instead of stalling the suite.
const (
	caseTimeout = 20 * time.Second
	memCeiling  = 256 << 20 // bytes allocated by one case
)

const hostileRows, hostileCols = 20, 30

// hostileFixture writes, into dir, a calibration cal.json with the mask
// mask.msk, a calibration fifomask.json whose mask is a FIFO and one
// zeromask.json whose mask is /dev/zero, a FIFO, a folder data/ holding a
// frame and a FIFO named like a frame, and a fit2d text with a 100 KB
// line.
func hostileFixture(t *testing.T, dir string) {
	t.Helper()
	m := &saxs.Mask{Rows: hostileRows, Cols: hostileCols, Masked: make([]bool, hostileRows*hostileCols)}
	var b bytes.Buffer
	if err := saxs.EncodeFit2DMask(&b, m); err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("mask.msk", b.Bytes())
	cal := func(mask string) []byte {
		return fmt.Appendf(nil, `{"Imagesize": [%d, %d], "BeamCenter": [10, 15], "DedectorDistanceMM": 100,
			"PixelSizeMicroM": [172], "Oversampling": 1, "PixelPerRadialElement": 1, "Wavelength": 1.54,
			"Tilt": {"TiltRotDeg": 0, "TiltAngleDeg": 0}, "MaskFile": %q}`, hostileRows, hostileCols, mask)
	}
	write("cal.json", cal("mask.msk"))
	write("fifomask.json", cal("mask.fifo"))
	write("zeromask.json", cal("/dev/zero"))
	img := &saxs.Image{Rows: hostileRows, Cols: hostileCols, Counts: make([]int32, hostileRows*hostileCols)}
	b.Reset()
	if err := saxs.EncodeTIFF(&b, img); err != nil {
		t.Fatal(err)
	}
	write("data/good.tif", b.Bytes())
	write("long.txt", []byte("INFO: Refined wavelength = "+strings.Repeat("7", 100<<10)+" Angstroms\n"))
	for _, f := range []string{"fifo", "mask.fifo", "data/x.tif"} {
		if err := syscall.Mkfifo(filepath.Join(dir, f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestHostileInput runs the tools on hostile input: FIFOs and /dev/zero
// where files are expected, a 100 KB line. Each case must end within
// caseTimeout, allocate less than memCeiling and fail cleanly with the
// expected message.
func TestHostileInput(t *testing.T) {
	dir := t.TempDir()
	hostileFixture(t, dir)
	t.Setenv("XDG_CACHE_HOME", filepath.Join(dir, "cache"))
	in := func(name string) string { return filepath.Join(dir, name) }
	out := in("out")
	for _, tc := range []struct {
		name string
		main func([]string, io.Writer, io.Writer) int
		args []string
		code int
		want string // in stdout or stderr
		skip string // why the case cannot pass yet
	}{
		{"saxsdog: FIFO named like a frame", saxsdogcli.Main,
			[]string{"-c", in("cal.json"), "-o", out, "--no-cache", in("data")}, 1, "x.tif: a FIFO, not a frame", ""},
		{"saxsdog: FIFO as the input frame", saxsdogcli.Main,
			[]string{"-c", in("cal.json"), "-o", out, "--no-cache", in("data/x.tif")}, 2, "is a FIFO, not a frame", ""},
		{"saxsdog: FIFO as -c", saxsdogcli.Main,
			[]string{"-c", in("fifo"), "-o", out, "--no-cache", in("data")}, 2, "a FIFO", ""},
		{"saxsdog: /dev/zero as -c", saxsdogcli.Main,
			[]string{"-c", "/dev/zero", "-o", out, "--no-cache", in("data")}, 2, "character device", ""},
		{"saxsdog: FIFO as MaskFile", saxsdogcli.Main,
			[]string{"-c", in("fifomask.json"), "-o", out, "--no-cache", in("data")}, 2, "a FIFO", ""},
		{"saxsdog: /dev/zero as MaskFile", saxsdogcli.Main,
			[]string{"-c", in("zeromask.json"), "-o", out, "--no-cache", in("data")}, 2, "character device", ""},
		{"saxsconverter: /dev/zero", converter.Main, []string{"/dev/zero", in("conv.json")}, 1, "character device", ""},
		{"saxsconverter: FIFO", converter.Main, []string{in("fifo"), in("conv.json")}, 1, "a FIFO", ""},
		{"saxsconverter: 100 KB line", converter.Main, []string{in("long.txt"), in("conv.json")}, 1, "more bytes)", ""},
		{"saxsconverter: FIFO as template", converter.Main, []string{"-t", in("fifo"), in("cal.json"), in("conv.json")}, 1, "a FIFO", ""},
		{"saxsdog: 4 GiB sparse frame", saxsdogcli.Main,
			[]string{"-c", in("cal.json"), "-o", out, "--no-cache", in("sparse")}, 1, "sparse.tif", ""},
		{"plotchi: /dev/zero", plotchi.Run, []string{"-o", in("p.svg"), "/dev/zero"}, 1, "character device", ""},
		{"plotchi: FIFO", plotchi.Run, []string{"-o", in("p.svg"), in("fifo")}, 1, "a FIFO", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.skip != "" {
				t.Skip(tc.skip)
			}
			if tc.name == "saxsdog: 4 GiB sparse frame" {
				sparse(t, filepath.Join(dir, "sparse", "sparse.tif"), 1<<32-1)
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			type result struct {
				code           int
				stdout, stderr string
			}
			done := make(chan result, 1)
			go func() {
				var stdout, stderr bytes.Buffer
				code := tc.main(tc.args, &stdout, &stderr)
				done <- result{code, stdout.String(), stderr.String()}
			}()
			var r result
			select {
			case r = <-done:
			case <-time.After(caseTimeout):
				t.Fatalf("no answer after %v: the tool hangs", caseTimeout)
			}
			runtime.ReadMemStats(&after)
			if n := after.TotalAlloc - before.TotalAlloc; n > memCeiling {
				t.Errorf("allocated %d bytes, more than %d", n, memCeiling)
			}
			if r.code != tc.code || !strings.Contains(r.stdout+r.stderr, tc.want) {
				t.Errorf("exit %d (want %d)\nstdout %.500q\nstderr %.500q\nwant %q", r.code, tc.code, r.stdout, r.stderr, tc.want)
			}
			if len(r.stderr) > 4000 {
				t.Errorf("stderr of %d bytes", len(r.stderr))
			}
		})
	}
}

// sparse makes a sparse file of size bytes at path.
func sparse(t *testing.T, path string, size int64) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Skip("no sparse files here:", err)
	}
}
