package saxs

import (
	"os"
	"path/filepath"
	"testing"
)

// defaultSharedDataDir is the reference data of the original saxsdog,
// relative to the repository root (the working directory of the tests).
const defaultSharedDataDir = "../shared/data/saxsdog-reference"

// sharedDataDir is the reference data folder: $SAXS_REFERENCE when set,
// otherwise defaultSharedDataDir.
var sharedDataDir = func() string {
	if d := os.Getenv("SAXS_REFERENCE"); d != "" {
		return d
	}
	return defaultSharedDataDir
}()

// sharedData returns the path of the reference file name in sharedDataDir,
// or skips the test when the folder or the file is absent.
func sharedData(t testing.TB, name string) string {
	t.Helper()
	if fi, err := os.Stat(sharedDataDir); err != nil || !fi.IsDir() {
		t.Skip(sharedDataDir + " not found (set SAXS_REFERENCE to the reference data folder); reference-data test skipped")
	}
	p := filepath.Join(sharedDataDir, name)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s not found; reference-data test skipped", p)
	}
	return p
}
