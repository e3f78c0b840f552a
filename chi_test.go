package saxs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saxsdog/saxs/internal/pyjson"
)

// writeChiJSON is WriteChi with line 1 given as decoded JSON.
func writeChiJSON(w io.Writer, cal any, c *Curve) error {
	h, err := pyjson.Marshal(cal)
	if err != nil {
		return fmt.Errorf("calibration: %w", err)
	}
	return writeChi(w, h, c)
}

// writeChiFileJSON is WriteChiFile with line 1 given as decoded JSON.
func writeChiFileJSON(path string, cal any, c *Curve) error {
	h, err := pyjson.Marshal(cal)
	if err != nil {
		return fmt.Errorf("calibration: %w", err)
	}
	return writeChiFile(path, h, c)
}

func chiTestCurve() *Curve {
	return &Curve{
		Name:   "R0",
		Q:      []float64{0.1, 2, 1e100},
		I:      []float64{math.NaN(), -3.25, 5e-324},
		Sigma:  []float64{0, math.Inf(1), math.Inf(-1)},
		Params: IntegralParameters{I0: 1.5, I1: math.NaN(), I2: 0},
	}
}

func TestWriteChiExact(t *testing.T) {
	cal := map[string]any{
		"Wavelength": 1.54,
		"Title":      "café",
		"Masks":      []any{map[string]any{"Oversampling": json.Number("2"), "qStop": json.Number("5.0")}},
	}
	var b bytes.Buffer
	require.NoError(t, writeChiJSON(&b, cal, chiTestCurve()))
	// The rows are Python 2.7 '%.18e' % v.
	want := `{"Masks": [{"Oversampling": 2, "qStop": 5.0}], "Title": "caf\u00e9", "Wavelength": 1.54}` + "\n" +
		`{"I0": 1.5, "I1": NaN, "I2": 0.0}` + "\n" +
		`["Scattering Vector  q [$nm^{-1}$]", "Intensity (Count/Pixel)", "Error Margin"]` + "\n" +
		"   3\n" +
		" 1.000000000000000056e-01 nan 0.000000000000000000e+00\n" +
		" 2.000000000000000000e+00 -3.250000000000000000e+00 inf\n" +
		" 1.000000000000000016e+100 4.940656458412465442e-324 -inf\n" +
		" "
	assert.Equal(t, want, b.String())

	// Line 3 is the pyjson encoding of the original's label list.
	labels, err := pyjson.Marshal([]any{"Scattering Vector  q [$nm^{-1}$]", "Intensity (Count/Pixel)", "Error Margin"})
	require.NoError(t, err)
	assert.Equal(t, chiColumnLabels, string(labels))
}

func TestWriteChiNilCalibrationAndEmptyCurve(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteChi(&b, nil, &Curve{}))
	assert.Equal(t, "{}\n"+`{"I0": 0.0, "I1": 0.0, "I2": 0.0}`+"\n"+chiColumnLabels+"\n   0\n ", b.String())

	f, err := ReadChi(&b, "empty.chi")
	require.NoError(t, err)
	assert.Equal(t, 0, f.Len())
}

// TestChiFloat checks the %.18e formatting against values printed by
// Python 2.7 ('%.18e' % v), including three-digit exponents and subnormals.
func TestChiFloat(t *testing.T) {
	cases := []struct {
		v    float64
		want string
	}{
		{1e100, "1.000000000000000016e+100"},
		{1e-100, "1.000000000000000020e-100"},
		{1.5e300, "1.500000000000000079e+300"},
		{5e-324, "4.940656458412465442e-324"},
		{-2.5e-310, "-2.500000000000017066e-310"},
		{0, "0.000000000000000000e+00"},
		{math.Copysign(0, -1), "-0.000000000000000000e+00"},
		{1, "1.000000000000000000e+00"},
		{0.5, "5.000000000000000000e-01"},
		{9.5367431640625e-07, "9.536743164062500000e-07"},
		{123456789012345678.0, "1.234567890123456800e+17"},
		{math.NaN(), "nan"},
		{-math.NaN(), "nan"},
		{math.Inf(1), "inf"},
		{math.Inf(-1), "-inf"},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, string(appendChiFloat(nil, c.v)), "%v", c.v)
	}
}

// TestChiFloatFastPath checks the 128-bit fast path of appendChiFloat
// against strconv's exact multiprecision formatting.
func TestChiFloatFastPath(t *testing.T) {
	check := func(v float64) bool {
		t.Helper()
		got := string(appendChiFloat(nil, v))
		want := strconv.FormatFloat(v, 'e', 18, 64)
		return assert.Equal(t, want, got, "%v (%#x)", v, math.Float64bits(v))
	}
	// Ties at the 20th significant digit round to even (Python 2.7 prints
	// 1.000013351440429688e-01 and 1.000032424926757812e-01).
	assert.Equal(t, "1.000013351440429688e-01", string(appendChiFloat(nil, 104859.0/(1<<20))))
	assert.Equal(t, "1.000032424926757812e-01", string(appendChiFloat(nil, 104861.0/(1<<20))))
	for m := 104857.0; m < 106000; m += 2 {
		check(m / (1 << 20))
	}
	// Powers of ten and two, and their neighbours, across and beyond the
	// fast path's range.
	for k := -25; k <= 25; k++ {
		for _, v := range []float64{math.Pow(10, float64(k)), math.Ldexp(1, 3*k)} {
			for _, w := range []float64{v, math.Nextafter(v, 0), math.Nextafter(v, math.Inf(1)), 9.999999999999999999 * v, 9.5 * v} {
				check(w)
				check(-w)
			}
		}
	}
	r := rand.New(rand.NewPCG(3, 4))
	n := 200000
	if testing.Short() {
		n = 20000
	}
	for i := range n {
		var v float64
		switch i % 3 {
		case 0:
			v = math.Float64frombits(r.Uint64())
		case 1:
			v = (r.Float64()*2 - 1) * math.Pow(10, float64(r.IntN(30)-10))
		default:
			v = float64(r.Int64N(1<<53)) / float64(uint64(1)<<r.IntN(64))
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		if !check(v) {
			return
		}
	}
}

func TestWriteChiErrors(t *testing.T) {
	var b bytes.Buffer
	assert.Error(t, WriteChi(&b, nil, nil))
	c := chiTestCurve()
	c.Sigma = c.Sigma[:2]
	assert.ErrorContains(t, WriteChi(&b, nil, c), "3 q values, 3 intensities and 2 errors")
	c = chiTestCurve()
	c.Sigma = nil
	assert.Error(t, WriteChi(&b, nil, c))
	assert.ErrorContains(t, writeChiJSON(&b, map[string]any{"x": make(chan int)}, chiTestCurve()), "calibration")

	// Writer errors are returned, also for a curve larger than the buffer.
	big := chiSyntheticCurve(5000, 10)
	assert.ErrorIs(t, WriteChi(chiFailWriter{}, nil, big), errChiFail)
	w := &chiLimitWriter{n: 2}
	assert.ErrorIs(t, WriteChi(w, nil, big), errChiFail)
}

var errChiFail = errors.New("write failed")

type chiFailWriter struct{}

func (chiFailWriter) Write([]byte) (int, error) { return 0, errChiFail }

// chiLimitWriter fails after n successful writes.
type chiLimitWriter struct{ n int }

func (w *chiLimitWriter) Write(p []byte) (int, error) {
	if w.n == 0 {
		return 0, errChiFail
	}
	w.n--
	return len(p), nil
}

// chiSyntheticCurve returns an n-bin curve whose intensities are spread
// over the given number of decades around 1 (some negative, one NaN bin).
func chiSyntheticCurve(n, decades int) *Curve {
	r := rand.New(rand.NewPCG(1, 2))
	c := &Curve{Q: make([]float64, n), I: make([]float64, n), Sigma: make([]float64, n)}
	for k := range n {
		c.Q[k] = (float64(k) + 0.5) * 0.0067315313
		c.I[k] = r.ExpFloat64() * math.Pow(10, float64(r.IntN(decades)-decades/2))
		if r.IntN(7) == 0 {
			c.I[k] = -c.I[k]
		}
		c.Sigma[k] = math.Sqrt(math.Abs(c.I[k]))
	}
	c.I[n/2] = math.NaN()
	c.Sigma[n/2] = math.NaN()
	c.Params = IntegralParameters{I0: 12.5, I1: 0.1, I2: math.Inf(1)}
	return c
}

// chiSameFloats compares bit patterns up to NaN payloads.
func chiSameFloats(t *testing.T, want, got []float64, what string) {
	t.Helper()
	require.Len(t, got, len(want), what)
	for k := range want {
		if math.IsNaN(want[k]) {
			assert.True(t, math.IsNaN(got[k]), "%s[%d] = %v, want NaN", what, k, got[k])
			continue
		}
		assert.Equal(t, math.Float64bits(want[k]), math.Float64bits(got[k]), "%s[%d] = %v, want %v", what, k, got[k], want[k])
	}
}

func TestChiRoundTrip(t *testing.T) {
	for _, c := range []*Curve{chiTestCurve(), chiSyntheticCurve(1000, 10), chiSyntheticCurve(1000, 600)} {
		cal := map[string]any{"Geometry": map[string]any{"BeamCenter": []any{808.37, 387.772}}, "Title": "x"}
		var b bytes.Buffer
		require.NoError(t, writeChiJSON(&b, cal, c))
		f, err := ReadChi(&b, "mem.chi")
		require.NoError(t, err)
		require.Len(t, f.Header, 4)
		assert.Equal(t, `{"Geometry": {"BeamCenter": [808.37, 387.772]}, "Title": "x"}`, f.Header[0])
		assert.Equal(t, chiColumnLabels, f.Header[2])
		chiSameFloats(t, c.Q, f.Q, "Q")
		chiSameFloats(t, c.I, f.I, "I")
		chiSameFloats(t, c.Sigma, f.Sigma, "Sigma")
		assert.Equal(t, len(c.Q), f.Len())
	}
}

func TestReadChiReferenceSaxsdog(t *testing.T) {
	path := sharedData(t, "saxsdog")
	f, err := ReadChiFile(path)
	require.NoError(t, err)
	assert.Equal(t, 1003, f.Len())
	require.Len(t, f.I, 1003)
	require.Len(t, f.Sigma, 1003)
	assert.Equal(t, []string{"output/data_buf1_00000.chi", "q [nm^-1]", "Intensity", "   1003"}, f.Header)
	assert.Equal(t, 3.366602370545553665e-03, f.Q[0])

	// Re-writing the rows reproduces the data lines byte for byte.
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	data := raw
	for range 4 {
		data = data[bytes.IndexByte(data, '\n')+1:]
	}
	out := []byte{' '}
	for k := range f.Q {
		out = appendChiRow(out, f.Q[k], f.I[k], f.Sigma[k])
	}
	assert.Equal(t, string(data), string(out))

	// And WriteChi reproduces them after its own (2.0-style) header.
	var b bytes.Buffer
	require.NoError(t, WriteChi(&b, nil, &Curve{Q: f.Q, I: f.I, Sigma: f.Sigma}))
	assert.True(t, bytes.HasSuffix(b.Bytes(), data), "WriteChi data lines differ from the reference")
}

func TestReadChiReferenceFit2d(t *testing.T) {
	f, err := ReadChiFile(sharedData(t, "fit2d"))
	require.NoError(t, err)
	assert.Equal(t, 1002, f.Len())
	require.Len(t, f.I, 1002)
	assert.Nil(t, f.Sigma)
	assert.Equal(t, 3.3657656e-03, f.Q[0])
	assert.Equal(t, 6.7416286e+00, f.Q[1001])
	assert.Equal(t, []string{"buf1_00000.tif: Q-Space Scan", "Q (Inverse Nanometres)", "", "       1002"}, f.Header)
}

func TestReadChiAccepts(t *testing.T) {
	in := "h1\r\nh2\r\n\r\nnot a count\r\n" +
		" 1 nan 3\r\n" +
		"\r\n" + // blank lines are skipped
		"\t2\tNaN\t-inf \r\n" +
		"3 Inf +INF\n" +
		"4 -1.5E+02 1e400\n" +
		"   \n "
	f, err := ReadChi(strings.NewReader(in), "ok.chi")
	require.NoError(t, err)
	assert.Equal(t, []string{"h1", "h2", "", "not a count"}, f.Header)
	assert.Equal(t, []float64{1, 2, 3, 4}, f.Q)
	assert.True(t, math.IsNaN(f.I[0]) && math.IsNaN(f.I[1]))
	assert.Equal(t, []float64{math.Inf(1), -150}, f.I[2:])
	assert.Equal(t, []float64{3, math.Inf(-1), math.Inf(1), math.Inf(1)}, f.Sigma)

	// Two columns, no final newline.
	f, err = ReadChi(strings.NewReader("a\nb\nc\n2\n1 2\n3 4"), "two.chi")
	require.NoError(t, err)
	assert.Equal(t, []float64{1, 3}, f.Q)
	assert.Equal(t, []float64{2, 4}, f.I)
	assert.Nil(t, f.Sigma)

	// Exactly four header lines and nothing else.
	f, err = ReadChi(strings.NewReader("a\nb\nc\nd"), "hdr.chi")
	require.NoError(t, err)
	assert.Equal(t, 0, f.Len())
}

func TestReadChiMalformed(t *testing.T) {
	cases := []struct {
		in   string
		line int
		msg  string
	}{
		{"", 0, "bad.chi: empty file"},
		{"a\nb\nc\n", 3, "bad.chi: line 3: file ends after 3 lines, want 4 header lines"},
		{"a\nb\nc\n   2\n 1 2 3\n 1 2\n ", 6, "bad.chi: line 6: want 3 columns, got 2"},
		{"a\r\nb\r\n\r\n   2\r\n 1 2\r\n 1 2 3\r\n", 6, "bad.chi: line 6: want 2 columns, got 3"},
		{"h\nh\nh\nh\n 1 2 3 4\n", 5, "bad.chi: line 5: want 2 or 3 columns, got 4"},
		{"h\nh\nh\nh\n\n 1\n", 6, "bad.chi: line 6: want 2 or 3 columns, got 1"},
		{"h\nh\nh\nh\n 1 2 3\n 1 x 3\n", 6, `bad.chi: line 6: column 2: invalid number "x"`},
		{"h\nh\nh\nh\n 1 2 3\n 1 2 3 4\n", 6, "bad.chi: line 6: want 3 columns, got 4"},
		{"h\nh\nh\n   3\n 1 2\n 3 4\n", 4, "bad.chi: line 4: header gives 3 rows, file has 2"},
		{"h\nh\nh\n   1\n", 4, "bad.chi: line 4: header gives 1 rows, file has 0"},
	}
	for _, c := range cases {
		_, err := ReadChi(strings.NewReader(c.in), "bad.chi")
		var fe *FormatError
		if assert.True(t, errors.As(err, &fe), "%q: err = %v, want *FormatError", c.in, err) {
			assert.Equal(t, c.msg, err.Error(), "%q", c.in)
			assert.Equal(t, c.line, fe.Line, "%q", c.in)
			assert.Equal(t, int64(-1), fe.Offset)
			assert.Equal(t, "bad.chi", fe.File)
		}
	}
	_, err := ReadChi(chiErrReader{}, "r.chi")
	assert.ErrorContains(t, err, "r.chi")
}

type chiErrReader struct{}

func (chiErrReader) Read([]byte) (int, error) { return 0, errChiFail }

func TestWriteChiFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.chi")
	c := chiSyntheticCurve(100, 10)
	require.NoError(t, writeChiFileJSON(path, map[string]any{"a": 1}, c))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "temporary file left behind")
	assert.Equal(t, "out.chi", entries[0].Name())
	if runtime.GOOS != "windows" {
		st, err := os.Stat(path)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o644), st.Mode().Perm())
	}
	var want bytes.Buffer
	require.NoError(t, writeChiJSON(&want, map[string]any{"a": 1}, c))
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, want.String(), string(got))

	// Overwriting works; a failed write leaves the old file and no temporary.
	require.NoError(t, WriteChiFile(path, nil, chiTestCurve()))
	bad := chiTestCurve()
	bad.I = bad.I[:1]
	err = WriteChiFile(path, nil, bad)
	assert.ErrorContains(t, err, "chi "+path+": ")
	entries, err = os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "temporary file left behind")
	f, err := ReadChiFile(path)
	require.NoError(t, err)
	assert.Equal(t, 3, f.Len())

	// A relative path in the current directory.
	t.Chdir(dir)
	require.NoError(t, WriteChiFile("rel.chi", nil, chiTestCurve()))
	_, err = os.Stat(filepath.Join(dir, "rel.chi"))
	assert.NoError(t, err)
}

func TestWriteChiFileErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "no", "such", "dir", "x.chi")
	err := WriteChiFile(missing, nil, chiTestCurve())
	require.Error(t, err)
	assert.Contains(t, err.Error(), missing)

	// Renaming over a directory fails; the temporary file is removed.
	sub := filepath.Join(dir, "sub")
	require.NoError(t, os.Mkdir(sub, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(sub, "keep"), nil, 0o644))
	err = WriteChiFile(sub, nil, chiTestCurve())
	require.Error(t, err)
	assert.Contains(t, err.Error(), sub)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "temporary file left behind")

	_, err = ReadChiFile(missing)
	assert.ErrorContains(t, err, missing)
}

// BenchmarkWriteChi writes a 1000-row curve with intensities over 8
// decades (1e-4 to 1e4), like real data.
func BenchmarkWriteChi(b *testing.B) {
	c := chiSyntheticCurve(1000, 8)
	cal := map[string]any{"Geometry": map[string]any{"BeamCenter": []any{808.37, 387.772}}, "Title": "bench"}
	b.ReportAllocs()
	for b.Loop() {
		if err := writeChiJSON(io.Discard, cal, c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadChi(b *testing.B) {
	var buf bytes.Buffer
	if err := WriteChi(&buf, nil, chiSyntheticCurve(1000, 8)); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := ReadChi(bytes.NewReader(data), "bench.chi"); err != nil {
			b.Fatal(err)
		}
	}
}
