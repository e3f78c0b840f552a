package saxs

import "math"

// binRule is how sub-pixels are assigned to radial bins.
type binRule int

const (
	// ruleQ is the original 2.0 rule: bins uniform in q of width
	// 1/scale with scale = (1/max q)·(max r/px)/PixelPerRadialElement, so
	// that a bin is PixelPerRadialElement pixels wide at the farthest point.
	ruleQ binRule = iota
	// ruleRange is the RadialBins extension: Count bins uniform in q on
	// [Start, Stop).
	ruleRange
	// ruleLegacy is the earliest saxsdog: bins uniform in 2θ with the same
	// width rule, centres (k+0.5)/scale converted to q.
	ruleLegacy
)

// binning maps sub-pixel points to bin labels 0..n-1.
type binning struct {
	rule  binRule
	n     int     // number of labels
	scale float64 // labels per nm⁻¹ (ruleQ), per radian (ruleLegacy)
	start float64 // ruleRange: lower edge, nm⁻¹
	span  float64 // ruleRange: Stop - Start, nm⁻¹
	inv   float64 // ruleRange: Count/span
}

// newBinning sets up the bins of mask configuration m on the detector, for
// sub-pixel coordinates ys, xs.
func newBinning(dt *detector, m *MaskConfig, legacy bool, ys, xs []float64) binning {
	if legacy {
		maxT := maxOnPerimeter(ys, xs, dt.twoTheta)
		maxR := maxOnPerimeter(ys, xs, func(x, y float64) float64 { return math.Hypot(x, y) * dt.px })
		scale := (1 / maxT) * maxR / dt.px / m.PixelPerRadialElement
		return binning{rule: ruleLegacy, scale: scale, n: int(maxT*scale) + 1}
	}
	if rb := m.RadialBins; rb != nil {
		span := rb.Stop - rb.Start
		return binning{rule: ruleRange, n: rb.Count, start: rb.Start, span: span, inv: float64(rb.Count) / span}
	}
	maxQ := maxOnPerimeter(ys, xs, dt.q)
	maxR := maxOnPerimeter(ys, xs, func(x, y float64) float64 { return math.Hypot(x, y) * dt.px })
	scale := (1 / maxQ) * maxR / dt.px / m.PixelPerRadialElement
	return binning{rule: ruleQ, scale: scale, n: int(maxQ*scale) + 1}
}

// label returns the bin of the point (x, y), or -1 when it lies outside the
// bins.
func (bn *binning) label(dt *detector, x, y float64) int {
	switch bn.rule {
	case ruleLegacy:
		return bn.clip(dt.twoTheta(x, y) * bn.scale)
	case ruleRange:
		return bn.clip((dt.q(x, y) - bn.start) * bn.inv)
	}
	return bn.clip(dt.q(x, y) * bn.scale)
}

// clip truncates a fractional label (as the original's int()) and rejects
// labels outside 0..n-1.
func (bn *binning) clip(v float64) int {
	if !(v >= 0) || v >= float64(bn.n) { // also rejects NaN
		return -1
	}
	return int(v)
}

// centre returns q in nm⁻¹ at the centre of bin k.
func (bn *binning) centre(dt *detector, k int) float64 {
	switch bn.rule {
	case ruleLegacy:
		return dt.qOfTwoTheta((float64(k) + 0.5) / bn.scale)
	case ruleRange:
		return bn.start + (float64(k)+0.5)*bn.span/float64(bn.n)
	}
	return (float64(k) + 0.5) / bn.scale
}
