package plotchi

import (
	"bytes"
	"encoding/xml"
	"errors"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saxsdog/saxs"
)

// referenceFile returns the path of a file of the shared saxsdog reference
// data (../shared/data/saxsdog-reference from the repository root), or
// skips the test when it is absent.
func referenceFile(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join("..", "..", "..", "shared", "data", "saxsdog-reference", name)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s not found; reference-data test skipped", p)
	}
	return p
}

// syntheticChi writes a curve with NaN, zero and negative intensities to
// dir with saxs.WriteChiFile and returns its path.
func syntheticChi(t testing.TB, dir, name string, scale float64) string {
	t.Helper()
	n := 300
	c := &saxs.Curve{Q: make([]float64, n), I: make([]float64, n), Sigma: make([]float64, n)}
	for k := range n {
		q := (float64(k) + 0.5) * 0.02
		c.Q[k] = q
		c.I[k] = scale * (1e4*math.Exp(-q*q*4) + 5 + 3*math.Sin(q*7))
		c.Sigma[k] = math.Sqrt(c.I[k])
	}
	c.I[0], c.Sigma[0] = math.NaN(), math.NaN() // empty bin
	c.I[1], c.Sigma[1] = 0, 0                   // legacy empty bin
	c.I[n/2] = -2                               // negative (background-subtracted)
	c.Sigma[n/2] = math.NaN()
	p := filepath.Join(dir, name)
	require.NoError(t, saxs.WriteChiFile(p, &saxs.Calibration{Title: name}, c))
	return p
}

// checkOutput checks that path is a well-formed file of its format and, for
// PNG, of the given pixel size.
func checkOutput(t *testing.T, path string, width, height int) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NotEmpty(t, data)
	switch filepath.Ext(path) {
	case ".svg":
		d := xml.NewDecoder(bytes.NewReader(data))
		sawSVG := false
		for {
			tok, err := d.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err, "%s is not well-formed XML", path)
			if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "svg" {
				sawSVG = true
			}
		}
		assert.True(t, sawSVG, "%s has no <svg> element", path)
		assert.Contains(t, string(data), "<svg")
	case ".png":
		img, err := png.Decode(bytes.NewReader(data))
		require.NoError(t, err)
		assert.Equal(t, width, img.Bounds().Dx(), "PNG width")
		assert.Equal(t, height, img.Bounds().Dy(), "PNG height")
	case ".pdf":
		assert.True(t, bytes.HasPrefix(data, []byte("%PDF")), "%s does not start with %%PDF", path)
	default:
		t.Fatalf("unexpected output %s", path)
	}
}

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	rc := Run(args, &stdout, &stderr)
	return rc, stdout.String(), stderr.String()
}

func TestRunReferenceFiles(t *testing.T) {
	sd := referenceFile(t, "saxsdog")
	f2 := referenceFile(t, "fit2d")
	dir := t.TempDir()
	for _, ext := range []string{"svg", "png", "pdf"} {
		for _, tc := range []struct {
			name string
			args []string
		}{
			{"plain", nil},
			{"log", []string{"-l", "-x", "log"}},
			{"compare", []string{"-c"}},
			{"compare-symlog", []string{"--compare", "-y", "symlog", "-n", "-t", "saxsdog vs fit2d"}},
		} {
			out := filepath.Join(dir, tc.name+"."+ext)
			args := append(append([]string{"-o", out}, tc.args...), f2, sd)
			rc, stdout, stderr := run(t, args...)
			require.Equal(t, ExitOK, rc, "plotchi %v: %s", args, stderr)
			assert.Empty(t, stdout)
			assert.Empty(t, stderr)
			checkOutput(t, out, 800, 600)
		}
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 12, "temporary files left behind")
}

func TestRunSynthetic(t *testing.T) {
	dir := t.TempDir()
	a := syntheticChi(t, dir, "a.chi", 1)
	b := syntheticChi(t, dir, "b.chi", 1.1)
	for _, tc := range []struct {
		out  string
		args []string
	}{
		{"lin.svg", []string{"-k", "0", "-s", "3"}},
		{"log.png", []string{"--log", "--size", "640x480"}},
		{"loglog.pdf", []string{"-x", "log", "-y", "log", "--clip=2"}},
		{"symlog.svg", []string{"-y", "symlog", "-x", "symlog"}},
		{"cmp.png", []string{"-c", "--size=300x900"}},
		{"cmp-log.pdf", []string{"-c", "-l", "-x", "log"}},
		{"cmp-log.svg", []string{"-c", "-l"}},
		{"all-skipped.svg", []string{"-s", "1000"}},
		{"UPPER.SVG", nil},
	} {
		out := filepath.Join(dir, tc.out)
		args := append(append([]string{"-o", out}, tc.args...), a, b)
		rc, _, stderr := run(t, args...)
		require.Equal(t, ExitOK, rc, "plotchi %v: %s", args, stderr)
		w, h := 800, 600
		switch tc.out {
		case "log.png":
			w, h = 640, 480
		case "cmp.png":
			w, h = 300, 900
		}
		if tc.out == "UPPER.SVG" {
			data, err := os.ReadFile(out)
			require.NoError(t, err)
			assert.Contains(t, string(data), "<svg")
			continue
		}
		checkOutput(t, out, w, h)
		if tc.out == "all-skipped.svg" {
			assert.Contains(t, stderr, "no points left")
		}
	}
	// A single file, one point.
	one := filepath.Join(dir, "one.chi")
	require.NoError(t, saxs.WriteChiFile(one, nil, &saxs.Curve{Q: []float64{1}, I: []float64{5}, Sigma: []float64{1}}))
	for _, extra := range [][]string{nil, {"-l", "-x", "log"}, {"-y", "symlog"}} {
		out := filepath.Join(dir, "one.png")
		rc, _, stderr := run(t, append(append([]string{"-k", "0", "-o", out}, extra...), one)...)
		require.Equal(t, ExitOK, rc, stderr)
		checkOutput(t, out, 800, 600)
	}
}

func TestRunDefaultOutput(t *testing.T) {
	if runtime.GOOS == "darwin" {
		t.Skip("would open the figure with open(1)")
	}
	dir := t.TempDir()
	a := syntheticChi(t, dir, "a.chi", 1)
	t.Setenv("DISPLAY", "")
	t.Setenv("WAYLAND_DISPLAY", "")
	t.Chdir(dir)
	rc, stdout, stderr := run(t, a)
	require.Equal(t, ExitOK, rc, stderr)
	want, err := filepath.Abs(DefaultOut)
	require.NoError(t, err)
	assert.Equal(t, want+"\n", stdout)
	checkOutput(t, filepath.Join(dir, DefaultOut), 0, 0)
}

func TestRunFlags(t *testing.T) {
	dir := t.TempDir()
	a := syntheticChi(t, dir, "a.chi", 1)
	bad := filepath.Join(dir, "bad.chi")
	require.NoError(t, os.WriteFile(bad, []byte("h\nh\nh\n2\n1 2 3\n1 2\n"), 0o644))
	out := filepath.Join(dir, "x.svg")

	rc, stdout, stderr := run(t, "--help")
	assert.Equal(t, ExitOK, rc)
	assert.Contains(t, stdout, "Usage: plotchi [options] CHIFILE...")
	for _, opt := range []string{"--out", "--compare", "--log", "--no-legend", "--title", "--skip", "--clip", "--xscale", "--yscale", "--size", "second panel"} {
		assert.Contains(t, stdout, opt)
	}
	assert.Empty(t, stderr)
	rc, stdout, _ = run(t, "-h")
	assert.Equal(t, ExitOK, rc)
	assert.Contains(t, stdout, "Usage:")

	for _, tc := range []struct {
		args []string
		rc   int
		msg  string
	}{
		{nil, ExitUsage, "no CHIFILE given"},
		{[]string{"-o", out}, ExitUsage, "no CHIFILE given"},
		{[]string{"--bogus", a}, ExitUsage, "unknown flag: --bogus"},
		{[]string{"-c", "-o", out, a}, ExitUsage, "--compare needs"},
		{[]string{"-x", "cubic", a}, ExitUsage, `unknown axis scale "cubic"`},
		{[]string{"-y", "LOG", a}, ExitUsage, `unknown axis scale "LOG"`},
		{[]string{"-s", "-1", a}, ExitUsage, "--skip must not be negative"},
		{[]string{"-k", "-2", a}, ExitUsage, "--clip must not be negative"},
		{[]string{"-k", "x", a}, ExitUsage, "invalid argument"},
		{[]string{"--size", "0x10", a}, ExitUsage, "invalid size"},
		{[]string{"--size", "800", a}, ExitUsage, "invalid size"},
		{[]string{"-o", filepath.Join(dir, "x.jpg"), a}, ExitUsage, "unsupported output format"},
		{[]string{"-o", filepath.Join(dir, "noext"), a}, ExitUsage, "unsupported output format"},
		{[]string{"-o", out, filepath.Join(dir, "missing.chi")}, ExitError, "missing.chi"},
		{[]string{"-o", out, bad}, ExitError, "bad.chi: line 6: want 3 columns, got 2"},
		{[]string{"-o", filepath.Join(dir, "no", "dir", "x.svg"), a}, ExitError, filepath.Join(dir, "no", "dir", "x.svg")},
	} {
		rc, stdout, stderr := run(t, tc.args...)
		assert.Equal(t, tc.rc, rc, "%v: %s", tc.args, stderr)
		assert.Contains(t, stderr, tc.msg, "%v", tc.args)
		assert.Empty(t, stdout, "%v", tc.args)
	}

	// GNU-style: options after the files, "--" ends the options, and a
	// file named like an option.
	dash := filepath.Join(dir, "-n.chi")
	require.NoError(t, os.Rename(syntheticChi(t, dir, "tmp.chi", 2), dash))
	rc, _, stderr = run(t, a, "-o", out, "--title=T", "-n", "--", dash)
	require.Equal(t, ExitOK, rc, stderr)
	checkOutput(t, out, 0, 0)
}

func TestFigure(t *testing.T) {
	s := Series{Name: "s", Q: []float64{1, 2, 3, 4, 5}, I: []float64{10, 20, math.NaN(), 40, 50}}
	opt := DefaultOptions()
	assert.Equal(t, 0, opt.Clip, "nothing is clipped by default")

	// The original's default --clip 1 drops the last point; --clip 0 keeps
	// it (the original's [skip:-0] plotted nothing).
	opt.Clip = 1
	ps, err := Figure([]Series{s}, opt)
	require.NoError(t, err)
	require.Len(t, ps, 1)
	assert.Equal(t, 1.0, ps[0].X.Min)
	assert.Equal(t, 4.0, ps[0].X.Max)
	assert.Equal(t, "s", ps[0].Title.Text)
	assert.Equal(t, "q [1/nm]", ps[0].X.Label.Text)
	assert.Equal(t, "Intensity [counts/pixel]", ps[0].Y.Label.Text)
	opt.Clip, opt.Skip = 0, 1
	ps, err = Figure([]Series{s}, opt)
	require.NoError(t, err)
	assert.Equal(t, 2.0, ps[0].X.Min)
	assert.Equal(t, 5.0, ps[0].X.Max)
	assert.Equal(t, 50.0, ps[0].Y.Max)

	// Log axes leave out non-positive values instead of panicking.
	neg := Series{Name: "neg", Q: []float64{0, 1, 2, 3}, I: []float64{-1, 0, 3, 4}, Err: []float64{5, 1, 1, 5}}
	opt = DefaultOptions()
	opt.Clip, opt.XScale, opt.YScale, opt.Title = 0, Log, Log, "title"
	ps, err = Figure([]Series{neg}, opt)
	require.NoError(t, err)
	assert.Equal(t, 2.0, ps[0].X.Min)
	assert.Equal(t, "title", ps[0].Title.Text)
	assert.Equal(t, 3.0, ps[0].X.Max)
	assert.Equal(t, 0.01, ps[0].Y.Min) // the band I−err = −1 is clipped at 0.01
	assert.Equal(t, 9.0, ps[0].Y.Max)
	var buf bytes.Buffer
	require.NoError(t, Render(&buf, "svg", []Series{neg}, opt))
	// Nothing positive at all.
	neg.I = []float64{-1, 0, -3, math.NaN()}
	require.NoError(t, Render(&buf, "png", []Series{neg}, opt))

	// Compare mode: two panels sharing the q range.
	ref := Series{Name: "ref", Q: []float64{1, 2, 3}, I: []float64{10, 10, 0}}
	oth := Series{Name: "other", Q: []float64{0.5, 2.5, 3.5}, I: []float64{11, 12, 13}}
	opt = DefaultOptions()
	opt.Compare = true
	ps, err = Figure([]Series{ref, oth}, opt)
	require.NoError(t, err)
	require.Len(t, ps, 2)
	assert.Equal(t, ps[0].X.Min, ps[1].X.Min)
	assert.Equal(t, ps[0].X.Max, ps[1].X.Max)
	assert.Equal(t, "other", ps[0].Title.Text)
	_, err = Figure([]Series{ref}, opt)
	assert.Error(t, err)

	_, err = Figure(nil, DefaultOptions())
	assert.Error(t, err)
	_, err = Figure([]Series{{Name: "x", Q: []float64{1}, I: nil}}, DefaultOptions())
	assert.ErrorContains(t, err, "x: columns of different lengths")
	opt = DefaultOptions()
	opt.XScale = "bogus"
	_, err = Figure([]Series{s}, opt)
	assert.Error(t, err)
	assert.Error(t, Render(&buf, "gif", []Series{s}, DefaultOptions()))
	opt = DefaultOptions()
	opt.Width = 0
	assert.Error(t, Render(&buf, "png", []Series{s}, opt))
}

func TestKeptRange(t *testing.T) {
	for _, c := range []struct{ n, skip, clip, lo, hi int }{
		{10, 0, 1, 0, 9},
		{10, 0, 0, 0, 10},
		{10, 2, 3, 2, 7},
		{10, 8, 5, 8, 8},
		{10, 20, 0, 10, 10},
		{0, 0, 1, 0, 0},
	} {
		lo, hi := keptRange(c.n, c.skip, c.clip)
		assert.Equal(t, [2]int{c.lo, c.hi}, [2]int{lo, hi}, "%+v", c)
	}
}

func TestInterp(t *testing.T) {
	xp := []float64{1, 2, 4}
	fp := []float64{10, 20, 0}
	// numpy.interp: clamped at the ends, linear inside.
	for _, c := range []struct{ x, want float64 }{
		{0, 10}, {1, 10}, {1.5, 15}, {2, 20}, {3, 10}, {4, 0}, {5, 0},
	} {
		assert.InDelta(t, c.want, interp(c.x, xp, fp), 1e-12, "interp(%v)", c.x)
	}
	assert.True(t, math.IsNaN(interp(math.NaN(), xp, fp)))
	assert.True(t, math.IsNaN(interp(1, nil, nil)))
	assert.True(t, math.IsNaN(interp(1.5, []float64{1, 2}, []float64{math.NaN(), 1})))
}

func TestScales(t *testing.T) {
	for _, s := range []string{"linear", "log", "symlog"} {
		sc, err := ParseScale(s)
		require.NoError(t, err)
		assert.Equal(t, Scale(s), sc)
	}
	_, err := ParseScale("Log")
	assert.Error(t, err)

	// LogScale never panics.
	var ls LogScale
	assert.InDelta(t, 0.5, ls.Normalize(1, 100, 10), 1e-12)
	assert.Equal(t, 0.0, ls.Normalize(1, 100, -5))
	assert.InDelta(t, 0.5, ls.Normalize(-1, 1, 0), 1e-12)
	assert.Empty(t, LogTicks{}.Ticks(-1, 10))
	assert.Empty(t, LogTicks{}.Ticks(0, 10))
	ticks := LogTicks{}.Ticks(0.05, 2000)
	var labels []string
	for _, tk := range ticks {
		if tk.Label != "" {
			labels = append(labels, tk.Label)
		}
	}
	assert.Equal(t, []string{"0.1", "1", "10", "100", "1000"}, labels)
	// Less than two decades: the minor ticks are labelled too.
	labels = labels[:0]
	for _, tk := range (LogTicks{}).Ticks(2, 8) {
		labels = append(labels, tk.Label)
	}
	assert.Equal(t, []string{"2", "3", "4", "5", "6", "7", "8"}, labels)

	// SymLog: linear within ±1, symmetric, monotonic.
	sl := SymLogScale{LinThresh: 1}
	assert.InDelta(t, 0.5, sl.Normalize(-100, 100, 0), 1e-12)
	assert.InDelta(t, 1-sl.Normalize(-100, 100, 10), sl.Normalize(-100, 100, -10), 1e-12)
	prev := math.Inf(-1)
	for x := -1000.0; x <= 1000; x += 0.5 {
		v := sl.Normalize(-1000, 1000, x)
		require.Greater(t, v, prev, "symlog not increasing at %v", x)
		prev = v
	}
	assert.InDelta(t, sl.transform(0.5)*2, sl.transform(1), 1e-12)
	assert.Equal(t, 0.5, sl.Normalize(3, 3, 3))
	assert.Equal(t, SymLogScale{}.Normalize(-10, 10, 1), sl.Normalize(-10, 10, 1))
	labels = labels[:0]
	for _, tk := range (SymLogTicks{LinThresh: 1}).Ticks(-50, 500) {
		if tk.Label != "" {
			labels = append(labels, tk.Label)
		}
	}
	assert.ElementsMatch(t, []string{"0", "1", "-1", "10", "-10", "100"}, labels)
	assert.Empty(t, SymLogTicks{}.Ticks(math.NaN(), 1))
	assert.Equal(t, "1e+06", tickLabel(1e6))
	assert.Equal(t, "0.001", tickLabel(0.001))
	assert.Equal(t, "0.0001", tickLabel(1e-4))
	assert.Equal(t, "1e-05", tickLabel(1e-5))
}

func TestFormat(t *testing.T) {
	for in, want := range map[string]string{"a.svg": "svg", "b.PNG": "png", "dir.x/c.Pdf": "pdf"} {
		got, err := Format(in)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
	for _, in := range []string{"a.jpg", "svg", "a.svg.gz", ""} {
		_, err := Format(in)
		assert.Error(t, err, in)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	a := syntheticChi(t, dir, "a.chi", 1)
	ss, err := Load(a)
	require.NoError(t, err)
	require.Len(t, ss, 1)
	assert.Equal(t, a, ss[0].Name)
	assert.Len(t, ss[0].Q, 300)
	assert.Len(t, ss[0].Err, 300)
	_, err = Load(a, filepath.Join(dir, "nope.chi"))
	assert.ErrorContains(t, err, "nope.chi")
}

func TestWriteFileNoTempLeft(t *testing.T) {
	dir := t.TempDir()
	s := Series{Name: "s", Q: []float64{1, 2}, I: []float64{1, 2}}
	bad := DefaultOptions()
	bad.Width = -1
	err := WriteFile(filepath.Join(dir, "x.png"), []Series{s}, bad)
	assert.ErrorContains(t, err, "x.png")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries)
	require.NoError(t, WriteFile(filepath.Join(dir, "x.png"), []Series{s}, DefaultOptions()))
	entries, err = os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1)
	assert.True(t, strings.HasSuffix(entries[0].Name(), "x.png"))
}
