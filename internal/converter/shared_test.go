package converter

import (
	"os"
	"path/filepath"
	"testing"
)

// sharedDataDir is the reference data of the original saxsdog: the shared/
// folder lies beside the repository root, which is ../.. from this
// package.
const sharedDataDir = "../../../shared/data/saxsdog-reference"

// sharedData returns the path of the reference file name, or skips the
// test when it is absent. Tests must never write there.
func sharedData(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(sharedDataDir, name)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s not found (reference data of the original saxsdog, beside the repository); test skipped", p)
	}
	return p
}

// sharedCopy copies the reference file name into a fresh temporary folder
// and returns the copy's path.
func sharedCopy(t testing.TB, name string) string {
	t.Helper()
	data, err := os.ReadFile(sharedData(t, name))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
