//go:build linux && (amd64 || arm64 || riscv64 || ppc64le || s390x || loong64)

package batch

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// prefetch reads nothing into the process, returns for missing files and
// folders, and leaves a FIFO unopened (a writer still finds no reader).
func TestPrefetch(t *testing.T) {
	dir := t.TempDir()
	reg := filepath.Join(dir, "f.tif")
	if err := os.WriteFile(reg, []byte("II*\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	prefetch(reg)
	prefetch(filepath.Join(dir, "missing.tif"))
	prefetch(dir)
	fifo := filepath.Join(dir, "p.tif")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip("mkfifo:", err)
	}
	prefetch(fifo)
	_, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0)
	if !errors.Is(err, syscall.ENXIO) {
		t.Errorf("opening the FIFO for writing: %v, want ENXIO (no reader)", err)
	}
	data, err := os.ReadFile(reg)
	if err != nil || string(data) != "II*\x00" {
		t.Errorf("file after prefetch: %q, %v", data, err)
	}
}
