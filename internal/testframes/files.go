package testframes

import (
	"bytes"
	"os"
	"testing"
	"time"
)

// FileState is what a test compares of an output file to tell whether it
// was rewritten: its bytes and its modification time.
type FileState struct {
	Data  []byte
	MTime time.Time
}

// Same reports whether s and o have the same bytes and time stamp.
func (s FileState) Same(o FileState) bool {
	return bytes.Equal(s.Data, o.Data) && s.MTime.Equal(o.MTime)
}

// FileStates returns the state of each file of paths.
func FileStates(t testing.TB, paths []string) map[string]FileState {
	t.Helper()
	out := map[string]FileState{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		out[p] = FileState{data, fi.ModTime()}
	}
	return out
}

// AgeFiles sets the frames' time stamps two hours back and the outputs'
// one hour back: the outputs stay newer than their frames (so that a
// resume test finds them up to date), and a rewrite shows in the time
// stamp.
func AgeFiles(t testing.TB, frames, outputs []string) {
	t.Helper()
	old := time.Now().Add(-time.Hour)
	for _, f := range frames {
		if err := os.Chtimes(f, old.Add(-time.Hour), old.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range outputs {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
}
