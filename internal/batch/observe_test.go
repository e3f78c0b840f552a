package batch

import (
	"context"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// edfFrames returns an EDF file of n constant int32 frames of the test
// size, written here from the format's description (a 512-byte padded
// text header before each frame's pixels).
func edfFrames(n int, v int32) []byte {
	var b []byte
	for i := range n {
		h := fmt.Sprintf("{\nHeaderID = EH:%06d:000000:000000 ;\nImage = %d ;\nByteOrder = LowByteFirst ;\nDataType = SignedInteger ;\nDim_1 = %d ;\nDim_2 = %d ;\nSize = %d ;\n",
			i+1, i+1, testCols, testRows, 4*testRows*testCols)
		h += strings.Repeat(" ", 512-(len(h)+2)%512) + "}\n"
		b = append(b, h...)
		for range testRows * testCols {
			b = binary.LittleEndian.AppendUint32(b, uint32(v))
		}
	}
	return b
}

// TestObserveStages checks that Config.Observe sees one read, one
// integrate and one write per converted frame (three frames of a
// multi-frame file count three), none for a frame that cannot be read,
// and durations that fit in the run's wall time.
func TestObserveStages(t *testing.T) {
	_, cal, data, out := fixture(t)
	writeTree(t, data)
	writeFile(t, filepath.Join(data, "multi.edf"), edfFrames(3, 7))
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
