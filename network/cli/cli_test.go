package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saxsdog/saxs/internal/batch"
	"github.com/saxsdog/saxs/internal/plotchi"
	"github.com/saxsdog/saxs/network"
)

const secret = "0123456789abcdef0123456789abcd"

func run(main func([]string, *bytes.Buffer, *bytes.Buffer) int, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	st := main(args, &out, &errb)
	return st, out.String(), errb.String()
}

func netconfMain(args []string, out, errb *bytes.Buffer) int {
	return NetconfMain(args, strings.NewReader(""), out, errb)
}
func leashMain(args []string, out, errb *bytes.Buffer) int  { return LeashMain(args, out, errb) }
func serverMain(args []string, out, errb *bytes.Buffer) int { return ServerMain(args, out, errb) }
func feederMain(args []string, out, errb *bytes.Buffer) int { return FeederMain(args, out, errb) }

func TestNetconf(t *testing.T) {
	p := filepath.Join(t.TempDir(), "net.json")
	st, out, errs := run(netconfMain, "--no-edit", "--netconf", p)
	require.Equal(t, ExitOK, st, errs)
	assert.Contains(t, out, "created "+p)
	fi, err := os.Stat(p)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	nc, err := network.LoadNetConf(p)
	require.NoError(t, err)
	first := nc.Entries[0].Secret

	st, out, _ = run(netconfMain, "--no-edit", "--netconf", p)
	require.Equal(t, ExitOK, st)
	assert.NotContains(t, out, "created")
	nc, _ = network.LoadNetConf(p)
	assert.Equal(t, first, nc.Entries[0].Secret, "an existing file keeps its secret")

	st, _, _ = run(netconfMain, "-n", "--no-edit", "--netconf", p)
	require.Equal(t, ExitOK, st)
	nc, _ = network.LoadNetConf(p)
	assert.NotEqual(t, first, nc.Entries[0].Secret, "-n makes a new one")

	// A 0.3.0 file is validated and rewritten in its layout.
	require.NoError(t, os.WriteFile(p, []byte(`{"Server":"tcp://h:1","Feeder":"tcp://h:2","Secret":"`+secret+`"}`), 0o644))
	st, _, errs = run(netconfMain, "--no-edit", "--netconf", p)
	require.Equal(t, ExitOK, st, errs)
	b, _ := os.ReadFile(p)
	assert.Equal(t, "{\n    \"Server\": \"tcp://h:1\",\n    \"Feeder\": \"tcp://h:2\",\n    \"Secret\": \""+secret+"\"\n}\n", string(b))

	require.NoError(t, os.WriteFile(p, []byte(`{"Server": "nonsense"}`), 0o600))
	st, _, errs = run(netconfMain, "--no-edit", "--netconf", p)
	assert.Equal(t, ExitFailed, st)
	assert.Contains(t, errs, "saxsnetconf")
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		tool string
		main func([]string, *bytes.Buffer, *bytes.Buffer) int
		args []string
	}{
		{"saxsleash", leashMain, nil},
		{"saxsleash", leashMain, []string{"frobnicate"}},
		{"saxsleash", leashMain, []string{"stat", "extra"}},
		{"saxsleash", leashMain, []string{"--bogus", "stat"}},
		{"saxsleash", leashMain, []string{"stat", "-o", "x.svg"}},
		{"saxsdogserver", serverMain, nil},
		{"saxsdogserver", serverMain, []string{"-R", "a", "-o", "b", "dir"}},
		{"saxsdogserver", serverMain, []string{"--format", "chi,xml", "dir"}},
		{"saxsdogserver", serverMain, []string{"--format", "dat", "dir"}},
		{"saxsdogserver", serverMain, []string{"--stream", "dcu:9999", "dir"}},
		{"saxsfeeder", feederMain, nil},
		{"saxsnetconf", netconfMain, []string{"extra"}},
	} {
		st, _, errs := run(tc.main, tc.args...)
		assert.Equal(t, ExitUsage, st, "%s %v", tc.tool, tc.args)
		assert.True(t, strings.HasPrefix(errs, tc.tool+": "), errs)
		assert.True(t, strings.HasSuffix(errs, "\nRun '"+tc.tool+" --help' for usage.\n"), errs)
	}
	for _, m := range []func([]string, *bytes.Buffer, *bytes.Buffer) int{leashMain, serverMain, feederMain, netconfMain} {
		st, out, _ := run(m, "--help")
		assert.Equal(t, ExitOK, st)
		assert.True(t, strings.HasPrefix(out, "Usage: "), out)
		st, out, _ = run(m, "--version")
		assert.Equal(t, ExitOK, st)
		assert.NotEmpty(t, out)
	}
}

// writeNetConf writes a configuration for a server at addr.
func writeNetConf(t *testing.T, addr string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "net.json")
	b := fmt.Sprintf(`[{"Name":"T","Server":%q,"Feeder":"tcp://127.0.0.1:1","Secret":%q}]`, addr, secret)
	require.NoError(t, os.WriteFile(p, []byte(b), mode))
	require.NoError(t, os.Chmod(p, mode))
	return p
}

func TestLeashNoAnswer(t *testing.T) {
	p := writeNetConf(t, "tcp://127.0.0.1:9", 0o600)
	st, _, errs := run(leashMain, "--netconf", p, "--timeout", "300ms", "stat")
	assert.Equal(t, ExitFailed, st)
	assert.Equal(t, "saxsleash: no server answered at tcp://127.0.0.1:9 within 300ms\n", errs)
}

func TestLeashMissingNetconf(t *testing.T) {
	st, _, errs := run(leashMain, "--netconf", filepath.Join(t.TempDir(), "none"), "stat")
	assert.Equal(t, ExitUsage, st)
	assert.Contains(t, errs, "saxsnetconf")
}

func TestLeashAgainstServer(t *testing.T) {
	dir := t.TempDir()
	nc := &network.NetConf{Entries: []network.Entry{{Server: "tcp://127.0.0.1:1", Feeder: "tcp://127.0.0.1:2", Secret: secret}}}
	s, err := network.NewServer(network.ServerConfig{Dir: dir, NetConf: nc, Bind: "tcp://127.0.0.1:0", Feeder: "-",
		Threads: 2, Watch: batch.Watch{Settle: 50 * time.Millisecond}})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, s.Listen(ctx))
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	defer func() { cancel(); <-done }()
	p := writeNetConf(t, s.Endpoint(), 0o644)

	st, out, errs := run(leashMain, "--netconf", p, "stat")
	require.Equal(t, ExitOK, st, errs)
	assert.Equal(t, "{\n    \"data\": {\n        \"stat\": {}\n    },\n    \"result\": \"stat\"\n}\n", out)
	assert.Contains(t, errs, "readable by others", "a group-readable configuration gets a warning")

	// A queue on the sample: the calibration's Directory is ".".
	sample, err := filepath.Abs("../../testdata/sample")
	require.NoError(t, err)
	st, out, errs = run(leashMain, "--netconf", p, "new", filepath.Join(sample, "cal2.json"))
	require.Equal(t, ExitOK, st, errs)
	assert.Contains(t, out, `"result": "new queue"`)

	st, _, errs = run(leashMain, "--netconf", p, "plot", "-o", filepath.Join(dir, "none.svg"))
	assert.Equal(t, ExitFailed, st, "no curve yet")
	assert.Contains(t, errs, "no curve")

	b, err := os.ReadFile(filepath.Join(sample, "frames", "run1", "sample_00001.tif"))
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "run1"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "run1", "f.tif"), b, 0o644))
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, _, _ = run(leashMain, "--netconf", p, "plot", "-o", filepath.Join(dir, "curve.png"))
		if st == ExitOK || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	require.Equal(t, ExitOK, st)
	for _, f := range []string{"curve.png", "curve_cR1.png"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		require.NoError(t, err)
		assert.True(t, bytes.HasPrefix(b, []byte("\x89PNG")), f)
	}

	// -s, -k, -x and -y: the curves drawn as plotchi draws the .chi files
	// the server wrote, with the same options.
	st, _, errs = run(leashMain, "--netconf", p, "plot", "-o", filepath.Join(dir, "shaped.svg"), "-s", "3", "-k", "2", "-x", "log", "-y", "symlog")
	require.Equal(t, ExitOK, st, errs)
	opt := plotchi.DefaultOptions()
	opt.Skip, opt.Clip, opt.XScale, opt.YScale, opt.Title = 3, 2, plotchi.Log, plotchi.SymLog, "f"
	for i, f := range []string{"shaped.svg", "shaped_cR1.svg"} {
		chi := filepath.Join(dir, "work", fmt.Sprintf("f_cR%d.chi", i))
		series, err := plotchi.Load(chi)
		require.NoError(t, err)
		series[0].Name = "f"
		want := filepath.Join(dir, "want.svg")
		require.NoError(t, plotchi.WriteFile(want, series, opt))
		wb, _ := os.ReadFile(want)
		gb, err := os.ReadFile(filepath.Join(dir, f))
		require.NoError(t, err)
		assert.True(t, bytes.Equal(wb, gb), "%s differs from plotchi's drawing of %s", f, chi)
	}
	for _, bad := range [][]string{{"plot", "-s", "3"}, {"stat", "-x", "log"}, {"plot", "-o", "x.svg", "-y", "cubic"}, {"plot", "-o", "x.gif"}} {
		st, _, errs = run(leashMain, append([]string{"--netconf", p}, bad...)...)
		assert.Equal(t, ExitUsage, st, "%v: %s", bad, errs)
	}

	masks := filepath.Join(dir, "masks")
	st, _, errs = run(leashMain, "--netconf", p, "get", "--save-masks", masks)
	require.Equal(t, ExitOK, st, errs)
	want, _ := os.ReadFile(filepath.Join(sample, "mask.msk"))
	got, err := os.ReadFile(filepath.Join(masks, "mask.msk"))
	require.NoError(t, err)
	assert.Equal(t, want, got)

	st, out, _ = run(leashMain, "--netconf", p, "listdir", "run1")
	require.Equal(t, ExitOK, st)
	assert.Contains(t, out, `"path": "f.tif"`)
	for _, bad := range []string{"..", "/etc", "run1/../.."} {
		st, _, _ = run(leashMain, "--netconf", p, "listdir", bad)
		assert.Equal(t, ExitFailed, st, bad)
	}

	// The additions to the 2.0 replies come only when asked for; --plain
	// asks as the original leash does.
	for _, tc := range []struct{ cmd, addition string }{{"stat", `"frames per sec": `}, {"fileslist", `"Failed": `}} {
		st, out, errs = run(leashMain, "--netconf", p, tc.cmd)
		require.Equal(t, ExitOK, st, errs)
		assert.Contains(t, out, tc.addition, tc.cmd)
		st, out, errs = run(leashMain, "--netconf", p, "--plain", tc.cmd)
		require.Equal(t, ExitOK, st, errs)
		assert.NotContains(t, out, tc.addition, "--plain "+tc.cmd)
	}
	assert.Contains(t, out, `"Radial0": [`)

	st, out, _ = run(leashMain, "--netconf", p, "abort")
	require.Equal(t, ExitOK, st)
	assert.Contains(t, out, `"images processed": 1`)
}

func TestIndentKeepsNaN(t *testing.T) {
	got := string(Indent([]byte(`{"result":"plot","data":{"a":[NaN,1.50,-Infinity],"b":{}}}`)))
	assert.Equal(t, "{\n    \"data\": {\n        \"a\": [\n            NaN,\n            1.5,\n            -Infinity\n        ],\n        \"b\": {}\n    },\n    \"result\": \"plot\"\n}\n", got)
}

// TestIssue7CommandLines parses the command lines of issue 7 (and the
// original's letters) with a configuration that does not exist: each gets
// as far as loading it, so every flag was accepted, and says how to create
// it.
func TestIssue7CommandLines(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none")
	dir := t.TempDir()
	for _, tc := range []struct {
		tool string
		main func([]string, *bytes.Buffer, *bytes.Buffer) int
		args []string
	}{
		{"saxsdogserver", serverMain, []string{"--netconf", missing, "-N", "0", "-p", "9999", "-t", "2", "-R", "../work", dir}},
		{"saxsdogserver", serverMain, []string{"--netconf", missing, "-N", "0", "-p", "9999", "-t", "2", "-o", dir, dir}},
		{"saxsdogserver", serverMain, []string{"--netconf=" + missing, "--serverno=0", "--port=9999", "--threads=2", "--relpath=../work", "--strict", "--verbose", dir}},
		{"saxsfeeder", feederMain, []string{"--netconf", missing, "-N", "0", "-p", "9999", dir}},
		{"saxsfeeder", feederMain, []string{"--netconf", missing, "--serverno", "0", "--replay", "--verbose", dir}},
		{"saxsleash", leashMain, []string{"--netconf", missing, "-N", "0", "-S", "tcp://127.0.0.1:9", "--timeout", "1s", "stat"}},
		{"saxsleash", leashMain, []string{"--netconf", missing, "plot", "-o", "x.svg", "--follow"}},
		{"saxsleash", leashMain, []string{"--netconf", missing, "get", "--save-masks", dir}},
		{"saxsleash", leashMain, []string{"--netconf", missing, "--plain", "listdir", "a/b"}},
	} {
		st, out, errs := run(tc.main, tc.args...)
		assert.Equal(t, ExitUsage, st, "%s %v", tc.tool, tc.args)
		assert.Empty(t, out)
		assert.True(t, strings.HasPrefix(errs, tc.tool+": "), errs)
		assert.Contains(t, errs, "saxsnetconf", "%s %v: %s", tc.tool, tc.args, errs)
		assert.NotContains(t, errs, "flag", "%s %v: %s", tc.tool, tc.args, errs)
	}
}
