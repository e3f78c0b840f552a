package testframes

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/saxsdog/saxs/internal/filelist"
)

// ChiIntegrals reads the .chi file at path as text, without the library's
// reader: header holds the integral parameters of its second line, and
// computed those recomputed from its q and I columns by the original's
// rule (spec §3.3) for [qStart, qStop]: qStop clamped to the largest q,
// e the first bin with q ≥ qStop, s the first with q ≥ qStart, Δq = q₁-q₀,
// I0 = Σ I·Δq, I1 = Σ I·q·Δq, I2 = Σ I·q²·Δq over [s, e), NaN bins left
// out.
func ChiIntegrals(tb testing.TB, path string, qStart, qStop float64) (header, computed [3]float64) {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	if len(lines) < 5 {
		tb.Fatalf("%s: %d lines", path, len(lines))
	}
	var h map[string]string
	if err := json.Unmarshal([]byte(quoteNumbers(lines[1])), &h); err != nil {
		tb.Fatalf("%s: line 2 %q: %v", path, lines[1], err)
	}
	for k, key := range []string{"I0", "I1", "I2"} {
		if header[k], err = strconv.ParseFloat(h[key], 64); err != nil {
			tb.Fatalf("%s: line 2 %s: %v", path, key, err)
		}
	}
	var q, in []float64
	for _, l := range lines[4:] {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 {
			tb.Fatalf("%s: data line %q", path, l)
		}
		qv, err1 := strconv.ParseFloat(f[0], 64)
		iv, err2 := strconv.ParseFloat(f[1], 64)
		if err1 != nil || err2 != nil {
			tb.Fatalf("%s: data line %q", path, l)
		}
		q, in = append(q, qv), append(in, iv)
	}
	if len(q) < 2 {
		tb.Fatalf("%s: %d rows", path, len(q))
	}
	maxQ := q[len(q)-1]
	if qStop > maxQ {
		qStop = maxQ
	}
	first := func(limit float64) int {
		for k, v := range q {
			if v >= limit {
				return k
			}
		}
		return len(q)
	}
	s, e := first(qStart), first(qStop)
	dq := q[1] - q[0]
	for k := s; k < e; k++ {
		if math.IsNaN(in[k]) {
			continue
		}
		computed[0] += in[k]
		computed[1] += in[k] * q[k]
		computed[2] += in[k] * q[k] * q[k]
	}
	for k := range computed {
		computed[k] *= dq
	}
	return header, computed
}

// quoteNumbers turns {"I0": 1.5, ...} into {"I0": "1.5", ...} so that
// NaN and the exact digits survive decoding.
func quoteNumbers(line string) string {
	line = strings.TrimSuffix(strings.TrimPrefix(line, "{"), "}")
	var parts []string
	for _, kv := range strings.Split(line, ", ") {
		k, v, _ := strings.Cut(kv, ": ")
		parts = append(parts, k+": "+strconv.Quote(v))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// CheckLiveList checks the live file list at list against the .chi files
// chis (absolute paths): one line per file, each parsable, naming the
// file relative to the folder that holds results/, with the integral
// parameters of the file's second line (equal as float64) and of its
// columns recomputed by ChiIntegrals (relative 1e-9); qRange gives
// [qStart, qStop] of a file's curve. It returns the lines.
func CheckLiveList(tb testing.TB, list string, chis []string, qRange func(chi string) (float64, float64)) []string {
	tb.Helper()
	data, err := os.ReadFile(list)
	if err != nil {
		tb.Fatalf("live file list: %v", err)
	}
	text := string(data)
	if !strings.HasSuffix(text, "\n") {
		tb.Errorf("%s does not end with a newline", list)
	}
	lines := strings.SplitAfter(strings.TrimSuffix(text, "\n"), "\n")
	if text == "" {
		lines = nil
	}
	if len(lines) != len(chis) {
		tb.Errorf("%s: %d lines, want %d (one per .chi file):\n%s", list, len(lines), len(chis), text)
	}
	base := filepath.Dir(filepath.Dir(list))
	want := map[string]bool{}
	for _, c := range chis {
		want[c] = true
	}
	seen := map[string]bool{}
	worst := 0.0 // largest relative difference from the recomputed values
	for _, line := range lines {
		e, err := filelist.ParseLine(line)
		if err != nil {
			tb.Errorf("%s: %v", list, err)
			continue
		}
		chi := filepath.FromSlash(e.Path)
		if !filepath.IsAbs(chi) {
			chi = filepath.Join(base, chi)
		}
		if !want[chi] {
			tb.Errorf("%s: line %q names %s, not one of the .chi files", list, line, chi)
			continue
		}
		if seen[chi] {
			tb.Errorf("%s: %s listed twice", list, chi)
		}
		seen[chi] = true
		lo, hi := qRange(chi)
		header, computed := ChiIntegrals(tb, chi, lo, hi)
		got := [3]float64{e.I0, e.I1, e.I2}
		for k := range got {
			if got[k] != header[k] && !(math.IsNaN(got[k]) && math.IsNaN(header[k])) {
				tb.Errorf("%s: I%d = %v in the list, %v in the .chi header", chi, k, got[k], header[k])
			}
			d := math.Abs(got[k] - computed[k])
			if d > 1e-9*math.Max(math.Abs(computed[k]), 1e-300) {
				tb.Errorf("%s: I%d = %v in the list, %v from the .chi columns", chi, k, got[k], computed[k])
			}
			if computed[k] != 0 {
				worst = math.Max(worst, d/math.Abs(computed[k]))
			}
		}
	}
	tb.Logf("%s: %d lines; integral parameters equal to the .chi headers, within %.3g (relative) of the .chi columns", filepath.Base(list), len(lines), worst)
	return lines
}
