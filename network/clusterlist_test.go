package network

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/saxsdog/saxs/internal/filelist"
	"github.com/saxsdog/saxs/network/cluster"
)

// The head lists a worker's radial .chi files with their parameters and
// leaves out the GISAXS slices' files, which have none (as saxsdog's own
// list does); a result of a worker that sends no parameters is listed from
// its curves.
func TestClusterLiveListLeavesOutSlices(t *testing.T) {
	q := &queue{serverDir: "/srv"}
	r := cluster.Result{
		Outputs: []string{"data/x_cR0.chi", "", "data/x_cS2.chi"},
		Params:  []cluster.Params{{I0: 1.5, I1: 2, I2: 3}, {}, {Slice: true}},
	}
	assert.Equal(t, []filelist.Entry{{Path: filepath.Join("/srv", "data", "x_cR0.chi"), I0: 1.5, I1: 2, I2: 3}}, q.listEntries(r))

	old := cluster.Result{Outputs: []string{"/abs/y.chi"}, Curves: []cluster.Curve{{I0: 4, I1: 5, I2: 6}}}
	assert.Equal(t, []filelist.Entry{{Path: "/abs/y.chi", I0: 4, I1: 5, I2: 6}}, q.listEntries(old))
}

// The fileslist keys a frame's outputs by their index within the frame:
// Radial<i> for the curves and Slice<i> for the slices (x_cS<i>.chi), the
// frames of a multi-frame file in turn; without slices every output keeps
// the key Radial<i> of its index, as before slices existed.
func TestFileslistKeysOfSlices(t *testing.T) {
	masks := []any{map[string]any{"MaskFile": "a.msk"}, map[string]any{"MaskFile": "b.msk"}}
	gisaxs := &queue{files: map[string][]string{}}
	gisaxs.spec.calJSON = map[string]any{"Masks": masks, "Slices": []any{map[string]any{"Direction": "x"}}}
	gisaxs.addFilesLocked([]string{"x_00000_cR0.chi", "", "x_00000_cS2.chi", "x_00001_cR0.chi", "x_00001_cR1.chi", "x_00001_cS2.chi"})
	assert.Equal(t, map[string][]string{
		"Radial0": {"x_00000_cR0.chi", "x_00001_cR0.chi"},
		"Radial1": {"x_00001_cR1.chi"},
		"Slice2":  {"x_00000_cS2.chi", "x_00001_cS2.chi"},
	}, gisaxs.files)

	plain := &queue{files: map[string][]string{}}
	plain.spec.calJSON = map[string]any{"Masks": masks[:1]}
	plain.addFilesLocked([]string{"y_00000.chi", "y_00001.chi", "y_00002.chi"})
	assert.Equal(t, map[string][]string{"Radial0": {"y_00000.chi"}, "Radial1": {"y_00001.chi"}, "Radial2": {"y_00002.chi"}}, plain.files)
}
