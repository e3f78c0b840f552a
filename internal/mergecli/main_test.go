package mergecli

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/saxsdog/saxs"
	"github.com/saxsdog/saxs/merge"
)

// Two frames, 10 s apart, 1 s exposure each, header time = end of the
// exposure; the shutter log's clock is 30.5 s ahead and it has a row per
// frame start with Duration 1 and Diode_avg/Ioni_avg = k+1 / 4.
func TestSaxsmerge(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	var peak strings.Builder
	peak.WriteString("Time\tDuration\tDiode_avg\tIoni_avg\n")
	for k := range 2 {
		start := t0.Add(time.Duration(k) * 10 * time.Second)
		img := &saxs.Image{Rows: 1, Cols: 1, Counts: []int32{1},
			Description: fmt.Sprintf("# %s\r\n# Exposure_time 1 s\r\n", start.Add(time.Second).Format("2006-01-02T15:04:05.000"))}
		var b bytes.Buffer
		if err := saxs.EncodeTIFF(&b, img); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("f_%d.tif", k)), b.Bytes(), 0o644)
		fmt.Fprintf(&peak, "%.1f\t1\t%d\t4\n", float64(start.Unix())+merge.MacEpochOffset+30.5, k+1)
	}
	os.WriteFile(filepath.Join(dir, "peak.log"), []byte(peak.String()), 0o644)
	out := filepath.Join(dir, "res", "m.csv")
	var stdout, stderr bytes.Buffer
	code := Main([]string{"-1", "--time-zone", "UTC", "-o", out, dir, filepath.Join(dir, "peak.log")}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "time shift: -30.5s") || !strings.Contains(stdout.String(), "2 frames merged") {
		t.Errorf("stdout %q", stdout.String())
	}
	for _, p := range []string{out, filepath.Join(dir, "res", "m_igor.csv")} {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(f).ReadAll()
		f.Close()
		if err != nil || len(rows) != 3 {
			t.Fatalf("%s: %v %v", p, rows, err)
		}
		if got := rows[2][len(rows[2])-1]; got != "0.5" { // transm (Peak) of frame 1: 2/4
			t.Errorf("%s: transm %q, want 0.5", p, got)
		}
	}
	code = Main([]string{"-1", "-z", dir, "x.log"}, &stdout, &stderr)
	if code != 2 {
		t.Errorf("-1 -z: exit %d", code)
	}
	stderr.Reset()
	code = Main([]string{"-o", filepath.Join(dir, "x.csv"), dir, filepath.Join(dir, "missing.log")}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "missing.log") {
		t.Errorf("missing log: exit %d, %q", code, stderr.String())
	}
}
