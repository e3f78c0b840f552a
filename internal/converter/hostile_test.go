//go:build unix

package converter

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestMainMissingMask: a calibration whose mask file does not exist is not
// written unless --allow-missing-mask is given; then a warning says so.
func TestMainMissingMask(t *testing.T) {
	dir := t.TempDir()
	txt := filepath.Join(dir, "fit2d.txt")
	writeFile(t, txt, fit2dLF)
	out := filepath.Join(dir, "out.json")
	rc, stdout, stderr := run(t, txt, out)
	if rc != 1 || stdout != "" || !strings.Contains(stderr, "AAA_integ.msk does not exist") ||
		!strings.Contains(stderr, "--allow-missing-mask") || !strings.Contains(stderr, "nothing written") {
		t.Errorf("exit %d\nstdout %q\nstderr %s", rc, stdout, stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("%s written: %v", out, err)
	}
	rc, _, stderr = run(t, "--silent", "--allow-missing-mask", txt, out)
	if rc != 0 || !strings.Contains(stderr, "warning: mask file") {
		t.Errorf("--allow-missing-mask: exit %d\n%s", rc, stderr)
	}
	if _, err := os.Stat(out); err != nil {
		t.Error(err)
	}
}

// TestMainSaysWhatIsNotFromFit2D: converting fit2d text from the schema
// defaults warns about each value the text does not give, and notes the
// polarization factor in fit2d's curves.
func TestMainSaysWhatIsNotFromFit2D(t *testing.T) {
	dir := t.TempDir()
	txt := filepath.Join(dir, "fit2d.txt")
	// No wavelength line.
	writeFile(t, txt, "INFO: Refined Beam centre = 387.772 808.370 (pixels)\nINFO: Refined sample to detector distance = 1031.657 mm\n")
	masksBeside(t, txt, "AAA_integ.msk")
	rc, _, stderr := run(t, txt, filepath.Join(dir, "out.json"))
	if rc != 0 {
		t.Fatalf("exit %d: %s", rc, stderr)
	}
	for _, key := range []string{"Imagesize", "PixelSizeMicroM", "Masks[0].MaskFile", "Wavelength"} {
		found := false
		for _, l := range strings.Split(stderr, "\n") {
			if strings.HasPrefix(l, "saxsconverter: warning: "+key+" ") && strings.Contains(l, "not in the fit2d text") &&
				strings.Contains(l, "schema default") {
				found = true
			}
		}
		if !found {
			t.Errorf("no warning about %s:\n%s", key, stderr)
		}
	}
	if !strings.Contains(stderr, "polarization factor") {
		t.Errorf("no note on fit2d's polarization factor:\n%s", stderr)
	}
}

// TestMainHostileInput: a 100 KB line is quoted cut short, /dev/zero and a
// FIFO as input are refused at once, without reading.
func TestMainHostileInput(t *testing.T) {
	dir := t.TempDir()
	long := filepath.Join(dir, "long.txt")
	writeFile(t, long, "INFO: Refined wavelength = "+strings.Repeat("x", 100<<10)+" Angstroms\n")
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.json")
	for _, tc := range []struct{ in, want string }{
		{long, "more bytes)"},
		{"/dev/zero", "not a regular file"},
		{fifo, "not a regular file (a FIFO)"},
		{dir, "not a regular file (a folder)"},
	} {
		rc, _, stderr := run(t, tc.in, out)
		if rc != 1 || !strings.Contains(stderr, tc.want) || len(stderr) > 1000 {
			t.Errorf("%s: exit %d, stderr (%d bytes) %.300q", tc.in, rc, len(stderr), stderr)
		}
	}
	big := filepath.Join(dir, "big.txt")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(maxInput + 1) // sparse
	f.Close()
	if rc, _, stderr := run(t, big, out); rc != 1 || !strings.Contains(stderr, "larger than") {
		t.Errorf("oversized input: exit %d, %q", rc, stderr)
	}
}
