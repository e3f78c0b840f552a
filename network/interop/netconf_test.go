package interop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runEnv is run with extra environment variables.
func runEnv(t *testing.T, extra []string, path string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = append(env(t), extra...)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// The 0.3.0 netconf layout (one object, no Name) works for the server and
// the leash; SAXSDOG_NETWORK names the file; a missing file is an error
// that says how to create one.
func TestNetconfLayoutsAndEnvironment(t *testing.T) {
	server, leashBin := binary(t, "saxsdogserver"), binary(t, "saxsleash")
	e := newEntry(t, "", "0303030303030303030303030303030303")
	b, _ := json.Marshal(map[string]string{"Server": e.Server, "Feeder": e.Feeder, "Secret": e.Secret})
	conf := filepath.Join(t.TempDir(), "old-netconf")
	if err := os.WriteFile(conf, b, 0o600); err != nil {
		t.Fatal(err)
	}
	srv := start(t, 5*time.Minute, server, "--netconf", conf, "-o", t.TempDir(), t.TempDir())
	waitServer(t, conf, srv)
	out, err := runEnv(t, []string{"SAXSDOG_NETWORK=" + conf}, leashBin, "--timeout", leashTimeout, "stat")
	if err != nil || !strings.Contains(out, `"stat"`) {
		t.Errorf("saxsleash stat with SAXSDOG_NETWORK and a 0.3.0 netconf: %v\n%s", err, out)
	}
	out, err = run(t, time.Minute, leashBin, "--netconf", filepath.Join(t.TempDir(), "missing"), "--timeout", "1s", "stat")
	if err == nil || !strings.Contains(out, "saxsnetconf") {
		t.Errorf("saxsleash with a missing netconf: %v\n%s\nwant a failure that names saxsnetconf", err, out)
	}
	if err := os.WriteFile(conf, []byte(`{"Server": 5}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, time.Minute, leashBin, "--netconf", conf, "--timeout", "1s", "stat"); err == nil {
		t.Errorf("saxsleash with an invalid netconf: exit 0\n%s", out)
	}
}

// -N picks one entry to serve, -p moves its port, and the leash reaches it
// with -N and -S; the entry not served does not answer.
func TestServerNumberAndPort(t *testing.T) {
	server := binary(t, "saxsdogserver")
	a, b := newEntry(t, "A", "a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0"), newEntry(t, "B", "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0")
	conf := writeNetconf(t, t.TempDir(), a, b)
	port := freePort(t)
	srv := start(t, 5*time.Minute, server, "--netconf", conf, "-N", "1", "-p", fmt.Sprint(port), "-o", t.TempDir(), t.TempDir())
	url := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	waitFor(t, time.Minute, "server B on -p", func() bool {
		if srv.exited() {
			t.Fatalf("the server exited:\n%s", srv.out.String())
		}
		r, _, err := leashReply(t, conf, "-N", "1", "-S", url, "stat")
		return err == nil && r.Result == "stat"
	})
	if _, err := run(t, time.Minute, binary(t, "saxsleash"), "--netconf", conf, "-N", "0", "--timeout", "1s", "stat"); err == nil {
		t.Errorf("entry 0 answered although only -N 1 is served")
	}
	// B's secret does not open A's... and A's secret is refused by B.
	if r, _, err := leashReply(t, conf, "-N", "0", "-S", url, "stat"); err == nil || r.Result != "AuthenticationError" {
		t.Errorf("entry 0's secret at server B: %v %q, want AuthenticationError", err, r.Result)
	}
}

// saxsdogserver refuses to start, with a message and a non-zero exit, on a
// missing SERVERDIR, -R with -o, and a command port already in use.
func TestServerStartErrors(t *testing.T) {
	server := binary(t, "saxsdogserver")
	e := newEntry(t, "Queue1", "e4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e4")
	conf := writeNetconf(t, t.TempDir(), e)
	fails := func(what string, args ...string) {
		t.Helper()
		out, err := run(t, 30*time.Second, server, args...)
		if err == nil || errors.Is(err, context.DeadlineExceeded) || strings.TrimSpace(out) == "" {
			t.Errorf("%s: %v, want an exit with an error message\n%s", what, err, out)
		}
	}
	fails("a missing SERVERDIR", "--netconf", conf, filepath.Join(t.TempDir(), "missing"))
	fails("-R with -o", "--netconf", conf, "-R", "../work", "-o", t.TempDir(), t.TempDir())
	l, err := net.Listen("tcp", strings.TrimPrefix(e.Server, "tcp://"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fails("the command port in use", "--netconf", conf, "-o", t.TempDir(), t.TempDir())
}
