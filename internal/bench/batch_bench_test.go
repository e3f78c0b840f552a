package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/saxsdog/saxs"
	"github.com/saxsdog/saxs/internal/batch"
)

const benchFrames = 40

// benchFolder links the reference Pilatus frame benchFrames times into a
// temporary folder and returns the frames and an integrator of its
// calibration at Oversampling 2.
func benchFolder(b *testing.B) (string, []string, *saxs.Integrator) {
	b.Helper()
	ref := "../../../shared/data/saxsdog-reference"
	frame := filepath.Join(ref, "buf1_00000.tif")
	if _, err := os.Stat(frame); err != nil {
		b.Skip("reference data absent:", err)
	}
	dir := b.TempDir()
	frames := filepath.Join(dir, "frames")
	if err := os.Mkdir(frames, 0o755); err != nil {
		b.Fatal(err)
	}
	var list []string
	for i := range benchFrames {
		p := filepath.Join(frames, fmt.Sprintf("frame_%05d.tif", i))
		if err := os.Link(frame, p); err != nil {
			b.Fatal(err)
		}
		list = append(list, p)
	}
	cal, err := saxs.LoadCalibration(filepath.Join(ref, "cal.json"))
	if err != nil {
		b.Fatal(err)
	}
	cal.Masks[0].Oversampling = 2
	ig, err := saxs.New(cal)
	if err != nil {
		b.Fatal(err)
	}
	return dir, list, ig
}

// BenchmarkBatchPilatus converts benchFrames links of the reference frame
// with the saxsdog pipeline (2 workers) per iteration; ns/op divided by
// benchFrames is the time per frame.
func BenchmarkBatchPilatus(b *testing.B) {
	dir, _, ig := benchFolder(b)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for b.Loop() {
		sum, err := batch.Run(context.Background(), batch.Config{Integrator: ig, Roots: []string{filepath.Join(dir, "frames")},
			OutDir: filepath.Join(dir, "out"), Workers: 2, ErrorLog: "-", Logger: log})
		if err != nil || sum.Converted != benchFrames {
			b.Fatal(sum, err)
		}
	}
	b.ReportMetric(float64(benchFrames*b.N)/b.Elapsed().Seconds(), "frames/s")
}

// BenchmarkFloorPilatus is the floor pipeline (see Floor) over the same
// frames with 2 workers.
func BenchmarkFloorPilatus(b *testing.B) {
	dir, list, _ := benchFolder(b)
	for b.Loop() {
		if _, err := Floor(context.Background(), list, filepath.Join(dir, "out"), 75000, 2); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(benchFrames*b.N)/b.Elapsed().Seconds(), "frames/s")
}
