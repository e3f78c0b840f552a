package saxs

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// nxcansasReader reads argv[1] with h5py as SasView's loader would (by the
// canSAS_class attributes, following I's uncertainties attribute) and
// prints each SASdata's Q, I and Idev (repr strings) and the attributes,
// as JSON.
const nxcansasReader = `
import sys, json, h5py
def s(v): return v.decode() if isinstance(v, bytes) else v
out = {"data": [], "notes": []}
with h5py.File(sys.argv[1], "r") as f:
    entry = f[s(f.attrs["default"])]
    assert s(entry.attrs["canSAS_class"]) == "SASentry"
    out["definition"] = s(entry["definition"][()])
    out["title"] = s(entry["title"][()])
    for name in sorted(entry):
        g = entry[name]
        cls = s(g.attrs.get("canSAS_class", ""))
        if cls == "SASdata":
            sig = s(g.attrs["signal"]); ax = s(g.attrs["I_axes"])
            unc = s(g[sig].attrs["uncertainties"])
            out["data"].append({"name": name, "frame": int(g.attrs["frame"]),
                "Q": [repr(float(x)) for x in g[ax][()]], "I": [repr(float(x)) for x in g[sig][()]],
                "Idev": [repr(float(x)) for x in g[unc][()]],
                "Qunits": s(g[ax].attrs["units"]), "Q_indices": int(g.attrs["Q_indices"])})
        elif cls == "SASnote":
            out["notes"].append({"type": s(g["type"][()]), "data": s(g["data"][()])})
print(json.dumps(out))
`

// TestNXcanSASReadByH5py: three curves written as one NXcanSAS file read
// back through h5py to the numbers of their .chi files, with the
// calibration note equal to the .chi's JSON line.
func TestNXcanSASReadByH5py(t *testing.T) {
	_, ig, img := referenceIntegrator(t)
	dir := t.TempDir()
	var curves []*Curve
	var chis []*ChiFile
	for k := 0; k < 3; k++ {
		frame := &Image{Rows: img.Rows, Cols: img.Cols, Counts: make([]int32, len(img.Counts))}
		for j, v := range img.Counts {
			frame.Counts[j] = v*int32(k+1) + int32(k)
		}
		res, err := ig.Integrate(frame)
		if err != nil {
			t.Fatal(err)
		}
		c := res.Curves[0]
		curves = append(curves, &c)
		p := filepath.Join(dir, fmt.Sprintf("f_%05d.chi", k))
		if err := WriteChiFile(p, ig.Calibration(), &c); err != nil {
			t.Fatal(err)
		}
		ch, err := ReadChiFile(p)
		if err != nil {
			t.Fatal(err)
		}
		chis = append(chis, ch)
	}
	nx := filepath.Join(dir, "f.h5")
	if err := WriteNXcanSASFile(nx, ig.Calibration(), "f", curves); err != nil {
		t.Fatal(err)
	}
	runPython(t, []string{"h5py"}, "pass")
	out, err := exec.Command(python, "-c", nxcansasReader, nx).CombinedOutput()
	if err != nil {
		t.Fatalf("h5py: %v\n%s", err, out)
	}
	var got struct {
		Definition, Title string
		Data              []struct {
			Name, Qunits string
			Frame        int
			Q_indices    int
			Q, I, Idev   []string
		}
		Notes []struct{ Type, Data string }
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got.Definition != "NXcanSAS" || got.Title != "f" || len(got.Data) != 3 || len(got.Notes) != 1 {
		t.Fatalf("definition %q title %q, %d SASdata, %d SASnote", got.Definition, got.Title, len(got.Data), len(got.Notes))
	}
	if got.Notes[0].Type != "application/json" || got.Notes[0].Data != chis[0].Header[0] {
		t.Errorf("note %q: %q, want the .chi's line 1 %q", got.Notes[0].Type, got.Notes[0].Data, chis[0].Header[0])
	}
	for k, d := range got.Data {
		ch := chis[k]
		if d.Frame != k || d.Qunits != "1/nm" || d.Q_indices != 0 || len(d.Q) != ch.Len() || len(d.I) != ch.Len() || len(d.Idev) != ch.Len() {
			t.Fatalf("SASdata %s: frame %d, units %q, Q_indices %d, %d/%d/%d rows; want frame %d, %d rows",
				d.Name, d.Frame, d.Qunits, d.Q_indices, len(d.Q), len(d.I), len(d.Idev), k, ch.Len())
		}
		for j := 0; j < ch.Len(); j++ {
			for col, pair := range [][2]any{{d.Q[j], ch.Q[j]}, {d.I[j], ch.I[j]}, {d.Idev[j], ch.Sigma[j]}} {
				v, err := strconv.ParseFloat(pair[0].(string), 64)
				w := pair[1].(float64)
				if err != nil || v != w && !(v != v && w != w) {
					t.Fatalf("SASdata %s row %d column %d: h5py reads %s, the .chi has %v", d.Name, j, col, pair[0], w)
				}
			}
		}
	}
}
