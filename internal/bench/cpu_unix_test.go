//go:build unix

package bench

import "testing"

// CPU time grows with work done and CoresBusy divides it by wall time.
func TestCPUTime(t *testing.T) {
	c0 := cpuTime()
	x := 0
	for i := range 50_000_000 {
		x ^= i * i
	}
	if c1 := cpuTime(); c1 <= c0 {
		t.Errorf("CPU time %v after %v and a busy loop (%d)", c1, c0, x)
	}
	if b := (Side{Loop: 2e9, CPU: 3e9}).CoresBusy(); b != 1.5 {
		t.Errorf("CoresBusy = %v, want 1.5", b)
	}
}
