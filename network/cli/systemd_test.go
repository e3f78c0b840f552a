package cli

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const unitFile = "../../contrib/systemd/saxsdogserver.service"

// The unit file of the README parses: systemd-analyze verify (Debian
// systemd) when it is there, and in any case the settings the README
// promises are in it, and ExecStart is a command line saxsdogserver
// accepts.
func TestSystemdUnit(t *testing.T) {
	b, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			settings[k] = v
		}
	}
	for k, want := range map[string]string{"Restart": "on-failure", "KillSignal": "SIGTERM",
		"StandardError": "journal", "WantedBy": "multi-user.target"} {
		if settings[k] != want {
			t.Errorf("%s=%q, want %q", k, settings[k], want)
		}
	}
	args := strings.Fields(settings["ExecStart"])
	if len(args) < 2 || filepath.Base(args[0]) != "saxsdogserver" {
		t.Fatalf("ExecStart=%q does not run saxsdogserver", settings["ExecStart"])
	}
	var stderr strings.Builder
	if code := ServerMain(append(args[1:], "--help"), io.Discard, &stderr); code != ExitOK {
		t.Errorf("ExecStart's arguments %q: exit %d: %s", args[1:], code, stderr.String())
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("no systemd-analyze (Debian package systemd): the unit file was checked by its settings only")
	}
	// verify needs the ExecStart binary to exist: a copy of the unit that
	// runs a stand-in under a temporary folder.
	dir := t.TempDir()
	bin := filepath.Join(dir, "saxsdogserver")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	unit := strings.ReplaceAll(string(b), args[0], bin)
	p := filepath.Join(dir, "saxsdogserver.service")
	if err := os.WriteFile(p, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, analyze, "verify", "--man=no", p).CombinedOutput()
	// verify exits 0 after unknown keys and bad values ("ignoring"), and
	// without a running systemd (a container) it may fail on the
	// system's own units: every message about ours counts, only those.
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "saxsdogserver.service") {
			t.Errorf("systemd-analyze verify: %s", l)
		}
	}
	if err != nil {
		t.Logf("systemd-analyze verify exited with %v:\n%s", err, out)
	}
}
