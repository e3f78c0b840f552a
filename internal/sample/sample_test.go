package sample

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// The bundled testdata/sample is what this package generates.
func TestBundledSampleIsCurrent(t *testing.T) {
	files, err := Files()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join("..", "..", "testdata", "sample", filepath.FromSlash(name)))
		if err != nil {
			t.Fatalf("%v (regenerate with: go run ./internal/gensample testdata/sample)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("testdata/sample/%s differs from the generator's output (regenerate with: go run ./internal/gensample testdata/sample)", name)
		}
	}
}
