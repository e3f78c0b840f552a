//go:build unix

package saxsdogcli

import (
	"bytes"
	"github.com/saxsdog/saxs/internal/testframes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSignalEndsWatch runs the saxsdog command in watch mode, converts a
// frame, sends SIGTERM (and, in a second run, SIGINT) and checks that the
// summary says the run was stopped, with exit status 130 and no error.
func TestSignalEndsWatch(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found:", err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "saxsdog")
	if out, err := exec.Command(goCmd, "build", "-o", bin, "github.com/saxsdog/saxs/cmd/saxsdog").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	flatCal(t, dir)
	data := filepath.Join(dir, "data")
	writeFrame(t, filepath.Join(data, "a.tif"), 2)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		var stdout bytes.Buffer
		stderr := &testframes.SyncBuffer{}
		cmd := exec.Command(bin, "-w", "--settle", "50ms", "--no-cache", "-o", filepath.Join(dir, "out"), "data")
		cmd.Dir = dir
		cmd.Stdout, cmd.Stderr = &stdout, stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(testWait)
		for !strings.Contains(stderr.String(), "msg=watching") || !strings.Contains(stderr.String(), "msg=converted") {
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("%v: the watch did not start:\n%s", sig, stderr.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
		cmd.Process.Signal(sig)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(testWait):
			cmd.Process.Kill()
			<-done
			t.Fatalf("%v: saxsdog did not stop", sig)
		}
		code := cmd.ProcessState.ExitCode()
		want := "stopped (" + map[syscall.Signal]string{syscall.SIGTERM: "terminated", syscall.SIGINT: "interrupt"}[sig] + " signal received) after 1 of 1 frames found"
		if code != ExitInterrupted || !strings.Contains(stdout.String(), "converted 1, skipped 0, failed 0") ||
			!strings.Contains(stdout.String(), want) {
			t.Errorf("%v: exit %d\nstdout %s\nstderr %s", sig, code, stdout.String(), stderr.String())
		}
		if strings.Contains(stderr.String(), "context canceled") {
			t.Errorf("%v: the stop is reported as an error:\n%s", sig, stderr.String())
		}
		os.RemoveAll(filepath.Join(dir, "out"))
	}
}
