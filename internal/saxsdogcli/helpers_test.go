package saxsdogcli

// Fixtures of the saxsdog command tests: a small calibration with a fit2d
// mask and constant frames, shared with the engine's tests in
// internal/batch through package testframes.

import (
	"time"

	"github.com/saxsdog/saxs/internal/testframes"
)

// The fixtures shared with the other saxsdog tests (package testframes).
const (
	testRows = testframes.Rows
	testCols = testframes.Cols
)

var (
	writeFile  = testframes.WriteFile
	flatCal    = testframes.FlatCal
	frameBytes = testframes.FrameBytes
	writeFrame = testframes.WriteFrame
	checkChi   = testframes.CheckChi
	writeTree  = testframes.WriteTree
	tree       = testframes.Tree()
	treeChi    = testframes.TreeChi()
	checkSVG   = testframes.CheckSVG
	decodePNG  = testframes.DecodePNG
	isMagenta  = testframes.IsMagenta
)

const (
	testWait = 20 * time.Second // upper bound of every wait (a loaded machine)
)
