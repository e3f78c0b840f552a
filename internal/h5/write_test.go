package h5

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// h5pyDump prints, as JSON, every object of argv[1] read by h5py: its
// attributes and, for datasets, the values (floats as repr strings, so
// that NaN survives JSON).
const h5pyDump = `
import sys, json, h5py, numpy as np
out = {}
def conv(v):
    if isinstance(v, bytes): return v.decode()
    if isinstance(v, np.ndarray): return [conv(x) for x in v.tolist()]
    if isinstance(v, float): return repr(v)
    if isinstance(v, (np.integer, int)): return int(v)
    if isinstance(v, np.floating): return repr(float(v))
    return v
def visit(name, o):
    e = {"attrs": {k: conv(v) for k, v in o.attrs.items()}}
    if isinstance(o, h5py.Dataset):
        e["value"] = conv(o[()])
    else:
        e["members"] = sorted(o.keys())
    out[name] = e
with h5py.File(sys.argv[1], "r") as f:
    visit("/", f)
    f.visititems(visit)
print(json.dumps(out, sort_keys=True))
`

// TestWriteReadByH5py: a file made by Write, with a group of 150 members
// (three symbol table nodes), reads back through h5py (libhdf5) and
// through this package's reader to the values written.
func TestWriteReadByH5py(t *testing.T) {
	s := "a note ∑"
	many := &Node{Name: "many", Group: true}
	for i := 0; i < 150; i++ {
		many.Children = append(many.Children, &Node{Name: fmt.Sprintf("m%03d", i), Int32s: []int32{int32(i), -int32(i)}})
	}
	root := &Node{Attrs: []Attr{{Name: "default", Str: "entry"}}, Children: []*Node{
		{Name: "entry", Attrs: []Attr{{Name: "NX_class", Str: "NXentry"}, {Name: "idx", Int: -7, IsInt: true}}, Children: []*Node{
			{Name: "Q", Float64s: []float64{0.5, 1e-300, math.NaN(), math.Inf(-1)}, Attrs: []Attr{{Name: "units", Str: "1/nm"}}},
			{Name: "title", String: &s},
			{Name: "empty", Group: true},
		}},
		many,
	}}
	data, err := Write(root)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "w.h5")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	// Our reader.
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	names, err := f.Members("many")
	if err != nil || len(names) != 150 {
		t.Fatalf("Members(many): %d names, %v", len(names), err)
	}
	if v, err := f.Number("many/m149"); err == nil {
		t.Errorf("Number of a 2-element dataset = %v", v)
	}
	d, err := f.Dataset("many/m149")
	if err != nil {
		t.Fatal(err)
	}
	raw := make([]byte, 8)
	if err := d.ReadRaw(0, 2, raw); err != nil || d.Type.Float64(raw, 0) != 149 || d.Type.Float64(raw, 1) != -149 {
		t.Errorf("many/m149 = %v, %v", raw, err)
	}
	// h5py.
	if _, err := os.Stat(python); err != nil {
		t.Skip(python + " not found; h5py read-back skipped")
	}
	if out, err := exec.Command(python, "-c", "import h5py").CombinedOutput(); err != nil {
		t.Skipf("h5py missing (%s); read-back skipped", bytes.TrimSpace(out))
	}
	out, err := exec.Command(python, "-c", h5pyDump, p).CombinedOutput()
	if err != nil {
		t.Fatalf("h5py: %v\n%s", err, out)
	}
	var got map[string]struct {
		Attrs   map[string]any `json:"attrs"`
		Value   any            `json:"value"`
		Members []string       `json:"members"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	check := func(what string, g, w any) {
		if fmt.Sprint(g) != fmt.Sprint(w) {
			t.Errorf("%s = %v, want %v", what, g, w)
		}
	}
	check("/ default", got["/"].Attrs["default"], "entry")
	check("entry NX_class", got["entry"].Attrs["NX_class"], "NXentry")
	check("entry idx", got["entry"].Attrs["idx"], -7)
	check("entry members", got["entry"].Members, []string{"Q", "empty", "title"})
	check("Q", got["entry/Q"].Value, []any{"0.5", "1e-300", "nan", "-inf"})
	check("Q units", got["entry/Q"].Attrs["units"], "1/nm")
	check("title", got["entry/title"].Value, s)
	check("many/m042", got["many/m042"].Value, []any{42, -42})
	check("many count", len(got["many"].Members), 150)
}
