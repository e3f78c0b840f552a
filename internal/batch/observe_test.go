package batch

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/saxsdog/saxs/internal/testframes"
)

// TestObserveStages checks that Config.Observe sees one read, one
// integrate and one write per converted frame (three frames of a
// multi-frame file count three), none for a frame that cannot be read,
// and durations that fit in the run's wall time.
func TestObserveStages(t *testing.T) {
	_, cal, data, out := fixture(t)
	writeTree(t, data)
	writeFile(t, filepath.Join(data, "multi.edf"), testframes.EDF(testRows, testCols, 7, 7, 7))
	good := frameBytes(t, testRows, testCols, 1)
	writeFile(t, filepath.Join(data, "truncated.tif"), good[:len(good)/2])

	var mu sync.Mutex
	count := map[string]int{}
	var total time.Duration
	start := time.Now()
	s, err := Run(context.Background(), Config{Calibration: cal, Roots: []string{data}, OutDir: out, Workers: 2,
		Observe: func(stage string, d time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			count[stage]++
			if d < 0 {
				t.Errorf("%s took %v", stage, d)
			}
			total += d
		}})
	wall := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if s.Converted != len(tree)+1 || s.Failed != 1 {
		t.Fatalf("summary %+v", s)
	}
	frames := len(tree) + 3
	want := map[string]int{StageRead: frames, StageIntegrate: frames, StageWrite: frames}
	if fmt.Sprint(count) != fmt.Sprint(want) {
		t.Errorf("stages observed %v, want %v", count, want)
	}
	if total > 2*wall { // two workers at most
		t.Errorf("stages add up to %v in a run of %v with 2 workers", total, wall)
	}
	checkChi(t, filepath.Join(out, "multi_00002.chi"), 7)
}
