package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// The floor reads every frame, sums its 32-bit words and writes one file
// of the requested size per frame.
func TestFloor(t *testing.T) {
	dir := t.TempDir()
	const words = 1000
	data := make([]byte, 4*words)
	for i := range words {
		binary.LittleEndian.PutUint32(data[4*i:], uint32(i+1))
	}
	var frames []string
	for i := range 5 {
		p := filepath.Join(dir, fmt.Sprintf("f%d.tif", i))
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		frames = append(frames, p)
	}
	s, _, err := floorRead(frames[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	if s != words*(words+1)/2 {
		t.Errorf("sum %d, want %d", s, words*(words+1)/2)
	}
	out := filepath.Join(dir, "out")
	if _, err := Floor(context.Background(), frames, out, 777, 2); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		fi, err := os.Stat(filepath.Join(out, fmt.Sprintf("f%d.chi", i)))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() != 777 {
			t.Errorf("%s: %d bytes, want 777", fi.Name(), fi.Size())
		}
	}
	if _, err := Floor(context.Background(), []string{filepath.Join(dir, "missing.tif")}, out, 10, 1); err == nil {
		t.Error("no error for a missing frame")
	}
}
