package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saxsdog/saxs/network"
)

func workerMain(args []string, out, errb *bytes.Buffer) int { return WorkerMain(args, out, errb) }

func TestClusterUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		main func([]string, *bytes.Buffer, *bytes.Buffer) int
		args []string
		want string
	}{
		{workerMain, []string{dir}, "--nats URL is required"},
		{workerMain, []string{"--nats", "nats://127.0.0.1:1"}, "exactly one SERVERDIR"},
		{workerMain, []string{"--nats", "nats://127.0.0.1:1", "-t", "0", dir}, "--threads"},
		{workerMain, []string{"--nats", "nats://127.0.0.1:1", "--no-cache", "--cache-dir", dir, dir}, "--no-cache and --cache-dir exclude each other"},
		{serverMain, []string{"--nats", "nats://127.0.0.1:1", "--nats-embed", "127.0.0.1:0", dir}, "exclude each other"},
		{serverMain, []string{"--state-dir", dir, dir}, "--state-dir needs --nats-embed"},
		{serverMain, []string{"--nats-embed", "127.0.0.1:0", "--max-deliver", "0", dir}, "--max-deliver"},
	} {
		st, _, errs := run(c.main, c.args...)
		assert.Equal(t, ExitUsage, st, "%v", c.args)
		assert.Contains(t, errs, c.want, "%v", c.args)
	}
	st, out, _ := run(workerMain, "--help")
	assert.Equal(t, ExitOK, st)
	assert.Contains(t, out, "--nats-creds")
	assert.Contains(t, out, "--metrics-addr")
}

// freePort returns a port free on 127.0.0.1 a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// lineWatcher copies a process's output and finds the first match of a
// pattern in it.
type lineWatcher struct {
	mu   sync.Mutex
	text strings.Builder
}

func (w *lineWatcher) run(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		w.mu.Lock()
		w.text.WriteString(sc.Text() + "\n")
		w.mu.Unlock()
	}
}

func (w *lineWatcher) find(re *regexp.Regexp) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := re.FindStringSubmatch(w.text.String())
	if m == nil {
		return ""
	}
	return m[1]
}

func (w *lineWatcher) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.text.String()
}

// TestClusterCommands runs saxsdogserver --nats-embed (with a token) and
// saxsdogworker as processes on 127.0.0.1: a worker without the token is
// refused, one with it converts the frames of a queue, serves its
// metrics, and both stop cleanly on SIGTERM.
func TestClusterCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the commands")
	}
	bin := t.TempDir()
	out, err := exec.Command("go", "build", "-o", bin, "../../cmd/saxsdogserver", "../../cmd/saxsdogworker").CombinedOutput()
	require.NoError(t, err, string(out))
	dir := t.TempDir()
	natsPort, repPort := freePort(t), freePort(t)
	conf := filepath.Join(t.TempDir(), "net.json")
	require.NoError(t, os.WriteFile(conf, fmt.Appendf(nil, `[{"Server":"tcp://127.0.0.1:%d","Feeder":"tcp://127.0.0.1:%d","Secret":"%s","Name":"head"}]`,
		repPort, freePort(t), secret), 0o600))
	start := func(name string, args ...string) (*exec.Cmd, *lineWatcher) {
		cmd := exec.Command(filepath.Join(bin, name), args...)
		pr, pw := io.Pipe()
		cmd.Stdout, cmd.Stderr = pw, pw
		require.NoError(t, cmd.Start())
		w := &lineWatcher{}
		go w.run(pr)
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_, _ = cmd.Process.Wait()
			_ = pw.Close()
		})
		return cmd, w
	}
	natsURL := fmt.Sprintf("nats://127.0.0.1:%d", natsPort)
	server, hlog := start("saxsdogserver", "--netconf", conf, "--nats-embed", fmt.Sprintf("127.0.0.1:%d", natsPort),
		"--nats-token", "s3cret-token", "--state-dir", t.TempDir(), dir)
	ready := regexp.MustCompile(`msg=(listening)`)
	waitUntil(t, "the server", func() bool { return hlog.find(ready) != "" }, hlog)

	refused := exec.Command(filepath.Join(bin, "saxsdogworker"), "--nats", natsURL, dir)
	ro, _ := refused.CombinedOutput()
	assert.Equal(t, ExitFailed, refused.ProcessState.ExitCode(), "a worker without the token: %s", ro)
	assert.Contains(t, strings.ToLower(string(ro)), "authorization")

	worker, wlog := start("saxsdogworker", "--nats", natsURL, "--nats-token", "s3cret-token", "-t", "1",
		"--no-cache", "--metrics-addr", "127.0.0.1:0", dir)
	metricsURL := regexp.MustCompile(`msg=metrics url=(\S+)`)
	waitUntil(t, "the worker's metrics", func() bool { return wlog.find(metricsURL) != "" }, wlog)

	ctx := context.Background()
	c := &network.Client{Addr: fmt.Sprintf("tcp://127.0.0.1:%d", repPort), Secret: secret, Timeout: time.Minute}
	cal, atts, err := network.LoadNew("../../testdata/sample/cal2.json")
	require.NoError(t, err)
	cal["Directory"] = []any{"run1"}
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "run1"), 0o755))
	r, err := c.Do(ctx, "new", network.Obj{"calibration": cal}, atts)
	require.NoError(t, err)
	require.Equal(t, network.ResultNewQueue, r.Result, string(r.Raw))
	frames, err := filepath.Glob("../../testdata/sample/frames/run1/*.tif")
	require.NoError(t, err)
	for _, f := range frames {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "run1", filepath.Base(f)), b, 0o644))
	}
	waitUntil(t, "the frames converted", func() bool {
		r, err := c.Do(ctx, "stat", nil, nil)
		require.NoError(t, err)
		st, _ := r.Map()["stat"].(map[string]any)
		n, _ := st["images processed"].(json.Number)
		return n.String() == fmt.Sprint(len(frames))
	}, hlog)
	for _, f := range frames {
		name := strings.TrimSuffix(filepath.Base(f), ".tif")
		for _, k := range []string{"_cR0.chi", "_cR1.chi"} {
			_, err := os.Stat(filepath.Join(dir, "work", name+k))
			assert.NoError(t, err)
		}
	}
	// The worker counts a frame after the head has its result: wait for
	// the count instead of reading it once.
	want := fmt.Sprintf(`saxs_frames_done_total{role="worker"} %d`, len(frames))
	waitUntil(t, "the worker's metrics to count every frame", func() bool {
		resp, err := http.Get(wlog.find(metricsURL))
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		return strings.Contains(string(body), want)
	}, wlog)

	for _, p := range []*exec.Cmd{worker, server} {
		require.NoError(t, p.Process.Signal(syscall.SIGTERM))
		st, err := p.Process.Wait()
		require.NoError(t, err)
		assert.Equal(t, 0, st.ExitCode(), "%s stops cleanly on SIGTERM", p.Path)
	}
}

// waitUntil polls cond every 20 ms for up to 30 s.
func waitUntil(t *testing.T, what string, cond func() bool, log fmt.Stringer) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; log:\n%s", what, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
