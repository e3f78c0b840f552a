package saxsdogcli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/saxsdog/saxs/internal/testframes"
)

// forkCal writes a 2.0 calibration of the sample in the folder sample
// (cal2.json, its masks absolute) into dir with the keys set (nil: removed) and only the first
// masks masks, and returns its path.
func forkCal(t *testing.T, sample, dir string, masks int, keys map[string]any) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(sample, "cal2.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	mask := filepath.Join(sample, "mask.msk")
	ms := m["Masks"].([]any)[:masks]
	for _, x := range ms {
		x.(map[string]any)["MaskFile"] = mask
	}
	m["Masks"] = ms
	for k, v := range keys {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "cal.json")
	writeFile(t, p, out)
	return p
}

// forkSetup copies the sample's run1 frames into dir/exp/setup1 and
// returns that folder and the frames.
func forkSetup(t *testing.T, dir string) (string, []string) {
	t.Helper()
	frames, err := filepath.Glob(filepath.Join(sampleDir, "frames", "run1", "*.tif"))
	if err != nil || len(frames) == 0 {
		t.Fatalf("sample frames: %v %v", frames, err)
	}
	setup := filepath.Join(dir, "exp", "setup1")
	var out []string
	for _, f := range frames {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(setup, filepath.Base(f))
		writeFile(t, p, data)
		out = append(out, p)
	}
	return setup, out
}

// chiFiles returns the .chi files below dir, sorted.
func chiFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".chi") {
			out = append(out, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// The fork's OverwriteFiles in saxsdog: false skips the frames whose
// outputs exist, leaving them as they are (content and time stamp) and
// counting them as skipped, not failed; true (and absent) converts them
// again. Live-Filelisting lists each .chi file once per conversion with
// its integral parameters; absent, no list is written and the outputs are
// byte for byte those of a calibration without the keys.
func TestOverwriteFilesAndLiveList(t *testing.T) {
	sample, err := filepath.Abs(sampleDir) // the test changes into dir
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	_, frames := forkSetup(t, dir)
	work := filepath.Join(dir, "exp", "work")
	list := filepath.Join(dir, "exp", "results", "filelist_setup1.txt")
	qRange := func(string) (float64, float64) { return 0.2, 2.0 } // both masks of cal2.json

	// Without the keys: no list; the reference outputs.
	forkCal(t, sample, dir, 2, nil)
	code, stdout, stderr := runMain(t, dir, "-R", "../work", "exp/setup1")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	chis := chiFiles(t, work)
	if len(chis) != 2*len(frames) {
		t.Fatalf("%d .chi files, want %d", len(chis), 2*len(frames))
	}
	reference := testframes.FileStates(t, chis)
	if _, err := os.Stat(filepath.Join(dir, "exp", "results")); !os.IsNotExist(err) {
		t.Errorf("a results folder without Live-Filelisting: %v", err)
	}

	// OverwriteFiles false, with the list: every frame skipped, nothing
	// touched, nothing listed.
	testframes.AgeFiles(t, frames, chis)
	before := testframes.FileStates(t, chis)
	forkCal(t, sample, dir, 2, map[string]any{"OverwriteFiles": false, "Live-Filelisting": true})
	code, stdout, stderr = runMain(t, dir, "-R", "../work", "exp/setup1")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	wantSummary(t, stdout, 0, len(frames), 0)
	for p, st := range testframes.FileStates(t, chis) {
		if !st.Same(before[p]) {
			t.Errorf("%s changed although OverwriteFiles is false", p)
		}
	}
	if data, err := os.ReadFile(list); err == nil && len(data) > 0 {
		t.Errorf("skipped frames listed:\n%s", data)
	}

	// A missing output: that frame only is converted again, and listed.
	if err := os.Remove(chis[0]); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = runMain(t, dir, "-R", "../work", "exp/setup1")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	wantSummary(t, stdout, 1, len(frames)-1, 0)
	redone := []string{chis[0], chis[1]} // the frame's two curves (x_cR0.chi, x_cR1.chi)
	testframes.CheckLiveList(t, list, redone, qRange)
	if err := os.Remove(list); err != nil {
		t.Fatal(err)
	}

	// OverwriteFiles true: every frame converted again, the same bytes
	// (the header records the calibration: compare with the reference
	// after the keys) and new time stamps; N frames give one line per
	// .chi file.
	testframes.AgeFiles(t, frames, chis)
	before = testframes.FileStates(t, chis)
	forkCal(t, sample, dir, 2, map[string]any{"OverwriteFiles": true, "Live-Filelisting": true})
	code, stdout, stderr = runMain(t, dir, "-R", "../work", "exp/setup1")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	wantSummary(t, stdout, len(frames), 0, 0)
	for p, st := range testframes.FileStates(t, chis) {
		if !st.MTime.After(before[p].MTime) {
			t.Errorf("%s not rewritten with OverwriteFiles true", p)
		}
		if !sameData(st.Data, reference[p].Data) {
			t.Errorf("%s: the curve differs from the run without the keys", p)
		}
	}
	lines := testframes.CheckLiveList(t, list, chis, qRange)
	t.Logf("%d frames, %d list lines, e.g. %q", len(frames), len(lines), lines[0])

	// One mask: N frames give N lines.
	if err := os.RemoveAll(work); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(list); err != nil {
		t.Fatal(err)
	}
	forkCal(t, sample, dir, 1, map[string]any{"Live-Filelisting": true})
	code, stdout, stderr = runMain(t, dir, "-R", "../work", "exp/setup1")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	one := chiFiles(t, work)
	if len(one) != len(frames) {
		t.Fatalf("%d .chi files, want %d", len(one), len(frames))
	}
	testframes.CheckLiveList(t, list, one, qRange)
}

// sameData compares two .chi files after their first line (the
// calibration as loaded, which differs by the keys).
func sameData(a, b []byte) bool {
	_, ra, _ := bytes.Cut(a, []byte("\n"))
	_, rb, _ := bytes.Cut(b, []byte("\n"))
	return bytes.Equal(ra, rb)
}

// wantSummary checks the counts of the summary printed by saxsdog.
func wantSummary(t *testing.T, stdout string, converted, skipped, failed int) {
	t.Helper()
	want := fmt.Sprintf("converted %d, skipped %d, failed %d in ", converted, skipped, failed)
	if !strings.Contains(stdout, want) {
		t.Errorf("summary without %q:\n%s", want, stdout)
	}
}

// A live file list that cannot be written (its results folder is a file)
// is logged once and stops nothing: every frame is converted.
func TestLiveListUnwritable(t *testing.T) {
	sample, err := filepath.Abs(sampleDir)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	_, frames := forkSetup(t, dir)
	writeFile(t, filepath.Join(dir, "exp", "results"), []byte("not a folder"))
	forkCal(t, sample, dir, 2, map[string]any{"Live-Filelisting": true})
	code, stdout, stderr := runMain(t, dir, "-R", "../work", "exp/setup1")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	wantSummary(t, stdout, len(frames), 0, 0)
	if n := strings.Count(stderr, "live file list not written"); n != 1 {
		t.Errorf("%d warnings about the list, want 1:\n%s", n, stderr)
	}
	if got := len(chiFiles(t, filepath.Join(dir, "exp", "work"))); got != 2*len(frames) {
		t.Errorf("%d .chi files, want %d", got, 2*len(frames))
	}
}
