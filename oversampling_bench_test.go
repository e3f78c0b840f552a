package saxs

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkOversampling gives the README's table of Oversampling against
// accuracy and cost in one run: for each Oversampling, the operator's build
// time (build-s) and size (op-MB), the median and 95th percentile of the
// deviation from fit2d's curve with fit2d's polarization factor
// (fit2d-med-% and fit2d-p95-%, as TestFit2D measures them), and the
// per-frame time of the loop (one goroutine, a reused result).
//
//	go test -run '^$' -bench Oversampling -benchtime 20x .
func BenchmarkOversampling(b *testing.B) {
	img := readShared(b, "buf1_00000.tif")
	for _, ov := range []int{1, 2, 3, 4, 5, 6, 8} {
		b.Run(fmt.Sprintf("ov=%d", ov), func(b *testing.B) {
			cal := fit2dSetup(b, ov, true)
			start := time.Now()
			ig, err := New(cal)
			if err != nil {
				b.Fatal(err)
			}
			build := time.Since(start)
			med, p95 := fit2dDeviation(b, ig, img)
			res := ig.NewResult()
			b.ResetTimer()
			for b.Loop() {
				if err := ig.IntegrateTo(res, img); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(build.Seconds(), "build-s")
			b.ReportMetric(float64(ig.Operator(0).Bytes())/1e6, "op-MB")
			b.ReportMetric(100*med, "fit2d-med-%")
			b.ReportMetric(100*p95, "fit2d-p95-%")
		})
	}
}
