package web

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/saxsdog/saxs"
)

// BenchmarkPlotEvent turns a plot reply after 100 000 frames (an hour at
// about 30 frames per second; the server keeps the integral parameters of
// the queue's lifetime) with a 1000-point curve into the encoded plot
// event, as the watch does at most once a second.
func BenchmarkPlotEvent(b *testing.B) {
	const frames, points = 100_000, 1000
	num := func(i int) json.Number { return json.Number(strconv.FormatFloat(float64(i)*0.001+1, 'g', -1, 64)) }
	series := func() []any {
		s := make([]any, frames)
		for i := range s {
			s[i] = num(i)
		}
		return s
	}
	col := func() []any {
		c := make([]any, points)
		for i := range c {
			c[i] = num(i)
		}
		return c
	}
	hist := make([]any, 3000)
	for i := range hist {
		hist[i] = json.Number(strconv.FormatFloat(1000-float64(i)/30, 'f', 3, 64))
	}
	files := make([]any, frames)
	for i := range files {
		files[i] = "run/f_" + strconv.Itoa(i)
	}
	d := map[string]any{"filename": "run/f_99999",
		"graphs":  []any{map[string]any{"array": []any{col(), col(), col()}}},
		"history": hist,
		"IntegralParameters": map[string]any{"R0": map[string]any{"I0": series(), "I1": series(), "I2": series(),
			"file": files}},
	}
	b.ReportAllocs()
	for b.Loop() {
		p := compactPlot(d, 1000)
		if _, err := json.Marshal(browserValue(p)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCalibrateEndpoint is one Calibrate-tab request on the real
// Pilatus 1M frame agbeh2_1M.tif of the reference data (skipped without
// it; $SAXS_REFERENCE or ../shared from the repository root) with its fit2d
// mask: decoding the upload, saxs.Calibrate, the ring picture and the
// JSON reply with it in base64.
func BenchmarkCalibrateEndpoint(b *testing.B) {
	dir := os.Getenv("SAXS_REFERENCE")
	if dir == "" {
		dir = "../../../shared/data/saxsdog-reference"
	}
	frame, err := os.ReadFile(filepath.Join(dir, "agbeh2_1M.tif"))
	if err != nil {
		b.Skipf("reference frame not found: %v", err)
	}
	mask, err := os.ReadFile(filepath.Join(dir, "AAA_integ.msk"))
	if err != nil {
		b.Skipf("reference mask not found: %v", err)
	}
	s := &Server{cfg: Config{CalibrateTimeout: DefaultCalibrateTimeout}, calibrateFn: saxs.Calibrate}
	req := &calibrateRequest{Frame: uploadedFile{Filename: "agbeh2_1M.tif", Data: frame}, Calibrant: "AgBh",
		PixelSize: 172, Mask: &uploadedFile{Filename: "AAA_integ.msk", Data: mask}}
	var size int
	for b.Loop() {
		rep, err := s.calibrate(context.Background(), req)
		if err != nil {
			b.Fatal(err)
		}
		out, err := json.Marshal(rep)
		if err != nil {
			b.Fatal(err)
		}
		size = len(out)
		b.ReportMetric(rep.Geometry.DetectorDistanceMM, "mm")
	}
	b.ReportMetric(float64(size)/1e6, "MB-reply")
}
