package stream

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/saxsdog/saxs"
)

// referenceDir is the shared reference data (real Pilatus 1M frames).
const referenceDir = "../../../shared/data/saxsdog-reference"

// BenchmarkDecodeIntegrate: one stream message of the reference Pilatus
// 1M frame (981×1043 uint32) decoded (message parsed, data decompressed)
// and integrated with the reference calibration and mask, per version and
// encoding. Metrics: decode and integrate milliseconds per frame, frames
// per second, compressed megabytes per frame.
func BenchmarkDecodeIntegrate(b *testing.B) {
	if _, err := os.Stat(referenceDir); err != nil {
		b.Skipf("reference data not found (%v): this benchmark needs ../shared", err)
	}
	img, err := saxs.ReadImage(filepath.Join(referenceDir, "buf1_00000.tif"))
	if err != nil {
		b.Fatal(err)
	}
	cal, err := saxs.LoadCalibration(filepath.Join(referenceDir, "cal2.json"))
	if err != nil {
		b.Fatal(err)
	}
	ig, err := saxs.NewWithOptions(cal, saxs.Options{Workers: 1})
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		v    Version
		enc  Encoding
	}{
		{"v1-bs32-lz4", V1, EncBSLZ4},
		{"v1-lz4", V1, EncLZ4Block},
		{"v2-bslz4", V2, EncBSLZ4},
		{"v2-lz4", V2, EncLZ4},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s := Series{Version: tc.v, ID: 1, NImages: 1, Rows: img.Rows, Cols: img.Cols, ElemSize: 4, Encoding: tc.enc}
			msg, err := s.EncodeImage(0, img)
			if err != nil {
				b.Fatal(err)
			}
			size := 0
			for _, p := range msg {
				size += len(p)
			}
			var d FrameDecoder
			var frame saxs.Image
			res := ig.NewResult()
			var tDecode, tIntegrate time.Duration
			b.ResetTimer()
			for b.Loop() {
				t0 := time.Now()
				m, err := Decode(msg, Limits{})
				if err != nil {
					b.Fatal(err)
				}
				if err := d.Decode(m.Image, &frame); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if err := ig.IntegrateTo(res, &frame); err != nil {
					b.Fatal(err)
				}
				tDecode += t1.Sub(t0)
				tIntegrate += time.Since(t1)
			}
			n := float64(b.N)
			b.ReportMetric(tDecode.Seconds()*1e3/n, "decode-ms/frame")
			b.ReportMetric(tIntegrate.Seconds()*1e3/n, "integrate-ms/frame")
			b.ReportMetric(n/(tDecode+tIntegrate).Seconds(), "frames/s")
			b.ReportMetric(float64(size)/1e6, "MB/message")
		})
	}
}
