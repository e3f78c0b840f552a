package saxs

import (
	"os"
	"path/filepath"
	"testing"
)

// sharedDataDir is the reference data of the original saxsdog, relative to
// the repository root (the working directory of the tests).
const sharedDataDir = "../shared/data/saxsdog-reference"

// sharedData returns the path of the reference file name in
// ../shared/data/saxsdog-reference, or skips the test when the folder or
// the file is absent.
func sharedData(t testing.TB, name string) string {
	t.Helper()
	if fi, err := os.Stat(sharedDataDir); err != nil || !fi.IsDir() {
		t.Skip(sharedDataDir + " not found; reference-data test skipped")
	}
	p := filepath.Join(sharedDataDir, name)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s not found; reference-data test skipped", p)
	}
	return p
}
