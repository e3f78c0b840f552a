package testframes

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/saxsdog/saxs"
)

// Pilatus1MCal writes into dir a 2.0 calibration for a Pilatus 1M
// (1043 × 981) made from the one at sampleCal (the bundled cal2.json):
// its masks at Oversampling 4, each with an empty 1043 × 981 fit2d mask
// (big.msk), their queue folder "big". It returns the calibration's path.
// Its operator takes a good fraction of a second to build on two cores,
// which the measurements of the server's replies during a build use.
func Pilatus1MCal(tb testing.TB, sampleCal, dir string) string {
	tb.Helper()
	data, err := os.ReadFile(sampleCal)
	if err != nil {
		tb.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var cal map[string]any
	if err := dec.Decode(&cal); err != nil {
		tb.Fatalf("%s: %v", sampleCal, err)
	}
	geo, ok := cal["Geometry"].(map[string]any)
	masks, ok2 := cal["Masks"].([]any)
	if !ok || !ok2 {
		tb.Fatalf("%s: no Geometry object or Masks list", sampleCal)
	}
	geo["Imagesize"] = []any{json.Number("1043"), json.Number("981")}
	geo["BeamCenter"] = []any{json.Number("490.5"), json.Number("521.5")}
	for _, m := range masks {
		m.(map[string]any)["Oversampling"] = json.Number("4")
		m.(map[string]any)["MaskFile"] = "big.msk"
	}
	cal["Directory"] = []any{"big"}
	f, err := os.Create(filepath.Join(dir, "big.msk"))
	if err != nil {
		tb.Fatal(err)
	}
	if err := saxs.EncodeFit2DMask(f, &saxs.Mask{Rows: 1043, Cols: 981, Masked: make([]bool, 1043*981)}); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	out, err := json.Marshal(cal)
	if err != nil {
		tb.Fatal(err)
	}
	p := filepath.Join(dir, "cal.json")
	WriteFile(tb, p, out)
	return p
}
