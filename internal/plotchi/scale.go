package plotchi

import (
	"fmt"
	"math"
	"strconv"

	"gonum.org/v1/plot"
)

// Scale is an axis scale: [Linear], [Log] or [SymLog].
type Scale string

// The axis scales of the -x and -y options (matplotlib's names).
const (
	Linear Scale = "linear"
	Log    Scale = "log"
	SymLog Scale = "symlog"
)

// ParseScale returns the Scale named s ("linear", "log" or "symlog").
func ParseScale(s string) (Scale, error) {
	switch sc := Scale(s); sc {
	case Linear, Log, SymLog:
		return sc, nil
	}
	return "", fmt.Errorf("unknown axis scale %q (want linear, log or symlog)", s)
}

// keeps reports whether a value can be shown on an axis of scale sc: it
// must be finite, and positive on a log axis.
func (sc Scale) keeps(v float64) bool {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return false
	}
	return sc != Log || v > 0
}

// apply sets the normalizer and ticker of an axis.
func (sc Scale) apply(a *plot.Axis) {
	switch sc {
	case Log:
		a.Scale = LogScale{}
		a.Tick.Marker = LogTicks{}
	case SymLog:
		a.Scale = SymLogScale{LinThresh: 1}
		a.Tick.Marker = SymLogTicks{LinThresh: 1}
	default:
		a.Scale = plot.LinearScale{}
		a.Tick.Marker = plot.DefaultTicks{}
	}
}

// FixRange makes the data range of an axis drawable, on a logarithmic
// axis when log is set: an axis without data gets [0, 1] ([1, 10] on a log
// axis), a log axis whose minimum is not positive starts a decade below
// min(max, 1), and a single value is widened around itself.
func FixRange(a *plot.Axis, log bool) {
	if a.Min > a.Max || math.IsInf(a.Min, 0) || math.IsInf(a.Max, 0) || math.IsNaN(a.Min) || math.IsNaN(a.Max) {
		if log {
			a.Min, a.Max = 1, 10
		} else {
			a.Min, a.Max = 0, 1
		}
		return
	}
	if log && a.Min <= 0 {
		// Only positive data are added to log plots; this guards against
		// callers that add others.
		a.Min = math.Min(a.Max, 1) / 10
		if a.Max <= 0 {
			a.Min, a.Max = 1, 10
		}
	}
	if a.Min == a.Max {
		switch {
		case log:
			a.Min, a.Max = a.Min/math.Sqrt(10), a.Max*math.Sqrt(10)
		case a.Min == 0:
			a.Min, a.Max = -1, 1
		default:
			d := math.Abs(a.Min) / 10
			a.Min, a.Max = a.Min-d, a.Max+d
		}
	}
}

// LogScale is a logarithmic axis normalizer like plot.LogScale, except that
// it does not panic on non-positive values: an invalid range falls back to
// a linear one and a non-positive value maps to the bottom of the axis.
type LogScale struct{}

// Normalize returns the fractional logarithmic distance of x between min
// and max.
func (LogScale) Normalize(min, max, x float64) float64 {
	if min <= 0 || max <= 0 {
		return plot.LinearScale{}.Normalize(min, max, x)
	}
	if x <= 0 {
		return 0
	}
	lmin := math.Log(min)
	return (math.Log(x) - lmin) / (math.Log(max) - lmin)
}

// LogTicks marks the decades of a log axis, labelled, with the multiples
// 2…9 as minor ticks. When the range holds fewer than two decades the
// minor ticks are labelled too. A non-positive range gives no ticks.
type LogTicks struct{}

// Ticks returns the tick marks between vmin and vmax.
func (LogTicks) Ticks(vmin, vmax float64) []plot.Tick {
	if vmin <= 0 || vmax <= 0 || math.IsInf(vmin, 0) || math.IsInf(vmax, 0) || vmin > vmax {
		return nil
	}
	lo := int(math.Floor(math.Log10(vmin)))
	hi := int(math.Ceil(math.Log10(vmax)))
	majors := 0
	for k := lo; k <= hi; k++ {
		if v := math.Pow10(k); v >= vmin && v <= vmax {
			majors++
		}
	}
	step := max(1, (hi-lo+7)/8) // at most about 8 labelled decades
	var ticks []plot.Tick
	for k := lo; k <= hi; k++ {
		dec := math.Pow10(k)
		for m := 1; m < 10; m++ {
			v := dec * float64(m)
			if v < vmin || v > vmax {
				continue
			}
			t := plot.Tick{Value: v}
			if m == 1 && (k-lo)%step == 0 || majors < 2 && step == 1 {
				t.Label = tickLabel(v)
			}
			ticks = append(ticks, t)
		}
	}
	return ticks
}

// SymLogScale is matplotlib's "symlog" axis normalizer (base 10, linscale
// 1): linear for |x| ≤ LinThresh, logarithmic outside, symmetric about 0.
type SymLogScale struct {
	// LinThresh is the half-width of the linear range around 0; values ≤ 0
	// mean 1.
	LinThresh float64
}

func (s SymLogScale) thresh() float64 {
	if s.LinThresh > 0 {
		return s.LinThresh
	}
	return 1
}

// transform is matplotlib's SymmetricalLogTransform with base 10 and
// linscale 1.
func (s SymLogScale) transform(x float64) float64 {
	t := s.thresh()
	const linscaleAdj = 1 / (1 - 1/10.0)
	if math.Abs(x) <= t {
		return x * linscaleAdj
	}
	return math.Copysign(t*(linscaleAdj+math.Log10(math.Abs(x)/t)), x)
}

// Normalize returns the fractional symlog distance of x between min and
// max.
func (s SymLogScale) Normalize(min, max, x float64) float64 {
	fmin, fmax := s.transform(min), s.transform(max)
	if fmax == fmin {
		return 0.5
	}
	return (s.transform(x) - fmin) / (fmax - fmin)
}

// SymLogTicks marks a symlog axis: 0, ±LinThresh and the decades beyond
// (labelled), with the multiples 2…9 of each decade as minor ticks.
type SymLogTicks struct {
	// LinThresh is the half-width of the linear range around 0; values ≤ 0
	// mean 1.
	LinThresh float64
}

// Ticks returns the tick marks between vmin and vmax.
func (s SymLogTicks) Ticks(vmin, vmax float64) []plot.Tick {
	if math.IsNaN(vmin) || math.IsNaN(vmax) || math.IsInf(vmin, 0) || math.IsInf(vmax, 0) || vmin > vmax {
		return nil
	}
	t := SymLogScale(s).thresh()
	// Decades above the threshold, on either side.
	top := math.Max(math.Abs(vmin), math.Abs(vmax))
	ndec := 0
	if top > t {
		ndec = int(math.Ceil(math.Log10(top / t)))
	}
	step := max(1, (2*ndec+1+8)/9) // at most about 9 labelled values
	var ticks []plot.Tick
	add := func(v float64, label bool) {
		if v < vmin || v > vmax {
			return
		}
		tk := plot.Tick{Value: v}
		if label {
			tk.Label = tickLabel(v)
		}
		ticks = append(ticks, tk)
	}
	add(0, true)
	for k := 0; k <= ndec; k++ {
		dec := t * math.Pow10(k)
		for m := 1; m < 10; m++ {
			if k == ndec && m > 1 {
				break
			}
			lab := m == 1 && k%step == 0
			add(dec*float64(m), lab)
			add(-dec*float64(m), lab)
		}
	}
	// Minor ticks inside the linear range.
	for m := 1; m < 10; m++ {
		add(t*float64(m)/10, false)
		add(-t*float64(m)/10, false)
	}
	return ticks
}

// tickLabel formats a tick value compactly: 0.01, 1, 1000, 1e+06.
func tickLabel(v float64) string {
	if a := math.Abs(v); a != 0 && (a >= 1e5 || a < 1e-3) {
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}
