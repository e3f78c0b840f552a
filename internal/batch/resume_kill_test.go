package batch

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/saxsdog/saxs"
)

// buildSaxsdog builds the saxsdog command into a temporary folder and
// returns its path; it skips the test when the go command is not found.
func buildSaxsdog(t *testing.T) string {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found:", err)
	}
	bin := filepath.Join(t.TempDir(), "saxsdog")
	cmd := exec.Command(goCmd, "build", "-o", bin, "github.com/saxsdog/saxs/cmd/saxsdog")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// tempPattern matches the temporary files of the atomic writers.
var tempPattern = regexp.MustCompile(`^\..+\.(chi|svg|png|log)\.tmp[0-9]+$`)

// TestKillAndResume kills a saxsdog process in the middle of a run and
// checks that the outputs it left are complete, that --resume converts
// exactly the missing frames, and that the temporary files of the killed
// run are removed.
func TestKillAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the saxsdog command")
	}
	bin := buildSaxsdog(t)

	// Frames big enough that converting them takes a while (a second or
	// so on one worker): hard links to one file, which costs no disk
	// space and is read as a regular file each time.
	const rows, cols, frames = 1200, 1200, 400
	dir := t.TempDir()
	writeMaskSize(t, filepath.Join(dir, "mask.msk"), rows, cols)
	writeFile(t, filepath.Join(dir, "cal.json"), []byte(fmt.Sprintf(`{
  "Title": "kill test",
  "Imagesize": [%d, %d],
  "BeamCenter": [600.3, 500.7],
  "DedectorDistanceMM": 1000,
  "PixelSizeMicroM": [172],
  "Oversampling": 1,
  "PixelPerRadialElement": 1,
  "Wavelength": 1.54,
  "Tilt": {"TiltRotDeg": 0, "TiltAngleDeg": 0},
  "MaskFile": "mask.msk"
}`, rows, cols)))
	img := &saxs.Image{Rows: rows, Cols: cols, Counts: make([]int32, rows*cols)}
	for i := range img.Counts {
		img.Counts[i] = int32(i%13 + 1)
	}
	var b bytes.Buffer
	if err := saxs.EncodeTIFF(&b, img); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	first := filepath.Join(data, "f0000.tif")
	writeFile(t, first, b.Bytes())
	for i := 1; i < frames; i++ {
		p := filepath.Join(data, fmt.Sprintf("f%04d.tif", i))
		if err := os.Link(first, p); err != nil {
			writeFile(t, p, b.Bytes())
		}
	}
	cal := loadCal(t, filepath.Join(dir, "cal.json"))
	ig, err := saxs.New(cal)
	if err != nil {
		t.Fatal(err)
	}
	res, err := ig.Integrate(img)
	if err != nil {
		t.Fatal(err)
	}
	wantRows := res.Curves[0].Len()

	out := filepath.Join(dir, "out")
	env := append(os.Environ(), "XDG_CACHE_HOME="+filepath.Join(dir, "cache"))
	command := func(args ...string) *exec.Cmd {
		cmd := exec.Command(bin, append([]string{"-t", "1", "-S", "-c", "cal.json", "-o", "out"}, append(args, "data")...)...)
		cmd.Dir = dir
		cmd.Env = env
		return cmd
	}
	countChi := func() int {
		list, _ := os.ReadDir(out)
		n := 0
		for _, d := range list {
			if strings.HasSuffix(d.Name(), ".chi") && !strings.HasPrefix(d.Name(), ".") {
				n++
			}
		}
		return n
	}

	// Start, and kill once some frames are written.
	var stderr bytes.Buffer
	cmd := command()
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case err := <-exited:
			t.Fatalf("saxsdog ended (%v) before it could be killed, with %d of %d frames converted; "+
				"make the frames bigger or more numerous\n%s", err, countChi(), frames, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-exited
			t.Fatalf("no output after 20 s\n%s", stderr.String())
		}
		if countChi() >= 10 {
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err := <-exited; err == nil {
		t.Fatal("saxsdog ended normally after SIGKILL")
	}

	// Every .chi file present is complete.
	present := 0
	var leftovers []string
	list, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range list {
		switch name := d.Name(); {
		case tempPattern.MatchString(name):
			leftovers = append(leftovers, name)
		case strings.HasSuffix(name, ".chi"):
			present++
			f, err := saxs.ReadChiFile(filepath.Join(out, name))
			if err != nil {
				t.Errorf("after the kill: %v", err)
			} else if f.Len() != wantRows {
				t.Errorf("after the kill: %s has %d rows, want %d", name, f.Len(), wantRows)
			}
		}
	}
	if present == 0 || present >= frames {
		t.Fatalf("%d of %d frames converted when killed", present, frames)
	}
	t.Logf("killed with %d of %d frames converted, %d temporary files left", present, frames, len(leftovers))

	// Plant temporary files like those a kill leaves, and files that only
	// look alike.
	stale := []string{".f0001.chi.tmp123456", ".f0002.chi.tmp7", "." + ErrorLogName + ".tmp42"}
	kept := []string{".f0003.chi.tmpx1", "f0004.chi.tmp5", ".notes.txt.tmp5", ".f0005.chi.tmp"}
	for _, name := range append(append([]string(nil), stale...), kept...) {
		writeFile(t, filepath.Join(out, name), []byte("partial"))
	}

	// Resume converts exactly the missing frames.
	var stdout bytes.Buffer
	stderr.Reset()
	cmd = command("-r")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("resume: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	want := fmt.Sprintf("converted %d, skipped %d, failed 0 ", frames-present, present)
	if !strings.HasPrefix(stdout.String(), want) {
		t.Errorf("resume summary %q, want %q...", stdout.String(), want)
	}

	// All frames have complete outputs, and the temporary files are gone.
	list, err = os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	chis := 0
	for _, d := range list {
		name := d.Name()
		if tempPattern.MatchString(name) {
			t.Errorf("temporary file %s left after the resumed run", name)
		}
		if strings.HasSuffix(name, ".chi") {
			chis++
			f, err := saxs.ReadChiFile(filepath.Join(out, name))
			if err != nil || f.Len() != wantRows {
				t.Errorf("after resuming: %s: %v", name, err)
			}
		}
	}
	if chis != frames {
		t.Errorf("%d .chi files after resuming, want %d", chis, frames)
	}
	for _, name := range kept {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Errorf("%s removed: %v", name, err)
		}
	}
	if t.Failed() {
		t.Logf("stderr of the resumed run:\n%s", stderr.String())
	}
}

// writeMaskSize writes a fit2d mask of rows × cols pixels with a masked
// block in a corner.
func writeMaskSize(t *testing.T, path string, rows, cols int) {
	t.Helper()
	m := &saxs.Mask{Rows: rows, Cols: cols, Masked: make([]bool, rows*cols)}
	for r := range 20 {
		for c := range 20 {
			m.Masked[r*cols+c] = true
		}
	}
	var b bytes.Buffer
	if err := saxs.EncodeFit2DMask(&b, m); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, b.Bytes())
}
