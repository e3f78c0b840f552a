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
