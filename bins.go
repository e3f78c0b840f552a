package saxs

import (
	"fmt"
	"math"
)

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
	// rulePhi is Phi-mode (MaskConfig.PhiMode): n bins uniform in the
	// azimuth χ on [chiLo, chiLo+span) for the sub-pixels whose radial
	// coordinate lies in the band [start, stop) (the mask's qStart, qStop).
	rulePhi
)

// binning maps sub-pixel points to bin labels 0..n-1.
type binning struct {
	rule  binRule
	n     int     // number of labels
	scale float64 // labels per nm⁻¹ (ruleQ), per radian (ruleLegacy)
	start float64 // ruleRange: lower edge, nm⁻¹; rulePhi: lower edge of χ, radians
	span  float64 // ruleRange: Stop - Start, nm⁻¹; rulePhi: width of the χ range, radians
	inv   float64 // ruleRange: Count/span; rulePhi: n/span
	unit  Unit    // radial unit of ruleQ, ruleRange and rulePhi's band ("" or UnitQnm: q in nm⁻¹)
	// bandLo, bandHi are rulePhi's radial band [qStart, qStop) in unit;
	// degLo, degSpan its χ range in degrees, for the bin centres.
	bandLo, bandHi float64
	degLo, degSpan float64
	// sector: only points with chiLo ≤ χ < chiHi (radians, in (−π, π];
	// chiLo > chiHi wraps through ±π) are binned, when hasChi.
	hasChi       bool
	chiLo, chiHi float64
}

// binError is a mask configuration whose bins the geometry cannot make:
// Field is the JSON key below the mask ("" for the mask itself).
type binError struct {
	Field, Msg string
}

// newBinningReduction sets up the bins of mask configuration m on the
// detector, for sub-pixel coordinates ys, xs, with the radial unit and the
// bins of the reduction options red (nil for none; legacy ignores them).
// It checks that the numbers of the binning are finite and that there are
// between 1 and MaxBins bins.
func newBinningReduction(dt *detector, m *MaskConfig, legacy bool, ys, xs []float64, red *Reduction) (binning, *binError) {
	u := red.unit()
	if legacy {
		u, red = UnitQnm, nil
	}
	maxR := maxOnPerimeter(ys, xs, func(x, y float64) float64 { return math.Hypot(x, y) * dt.px })
	maxQ := maxOnPerimeter(ys, xs, func(x, y float64) float64 { return dt.radial(u, x, y) })
	if !(maxQ > 0 && maxQ < math.MaxFloat64 && maxR > 0 && maxR < math.MaxFloat64) {
		return binning{}, &binError{Msg: fmt.Sprintf("the detector reaches no usable q (largest q %g nm⁻¹, largest radius %g mm)", maxQ, maxR)}
	}
	if m.PhiMode {
		return newPhiBinning(m, u, maxQ, maxR, red)
	}
	rb := m.RadialBins
	if red != nil && (red.Bins > 0 || red.Range != nil) {
		lo, hi := 0.0, maxQ
		if red.Range != nil {
			lo, hi = red.Range[0], red.Range[1]
		}
		n := red.Bins
		if n == 0 { // the width of the PixelPerRadialElement rule
			scale := (1 / maxQ) * maxR / dt.px / m.PixelPerRadialElement
			n = int(math.Ceil((hi - lo) * scale))
		}
		if !(n >= 1 && n <= MaxBins) {
			return binning{}, &binError{Field: "PixelPerRadialElement",
				Msg: fmt.Sprintf("the range [%g, %g] %s makes %d bins at %g pixels per radial element, not 1 to %d: set Reduction.Bins", lo, hi, u, n, m.PixelPerRadialElement, MaxBins)}
		}
		rb = &RadialBins{Start: lo, Stop: hi, Count: n}
	}
	if rb != nil {
		if rb.Start >= maxQ {
			if u == UnitQnm {
				return binning{}, &binError{Field: "RadialBins/Start",
					Msg: fmt.Sprintf("Start %g nm⁻¹ is beyond the largest q on the detector, %.6g nm⁻¹: no pixel falls in the bins", rb.Start, maxQ)}
			}
			return binning{}, &binError{Field: "RadialBins/Start",
				Msg: fmt.Sprintf("Start %g %s is beyond the largest value on the detector, %.6g %s: no pixel falls in the bins", rb.Start, u, maxQ, u)}
		}
		span := rb.Stop - rb.Start
		return binning{rule: ruleRange, n: rb.Count, start: rb.Start, span: span, inv: float64(rb.Count) / span, unit: u}, nil
	}
	rule, maxV := ruleQ, maxQ
	if legacy {
		rule, maxV = ruleLegacy, maxOnPerimeter(ys, xs, dt.twoTheta)
	}
	scale := (1 / maxV) * maxR / dt.px / m.PixelPerRadialElement
	nf := maxV * scale
	if !(scale > 0 && scale < math.MaxFloat64 && nf >= 0 && nf < MaxBins) {
		return binning{}, &binError{Field: "PixelPerRadialElement",
			Msg: fmt.Sprintf("%g pixels per radial element give %.4g radial bins, more than the %d supported: raise PixelPerRadialElement", m.PixelPerRadialElement, nf+1, MaxBins)}
	}
	return binning{rule: rule, scale: scale, n: int(nf) + 1, unit: u}, nil
}

// newPhiBinning sets up the χ bins of the Phi-mode mask m: PhiBins (or
// the fork's ceil(2·maxR/PixelPerRadialElement), maxR in mm) bins over
// the full circle or Reduction.ChiRange, for the band [qStart, qStop) in
// unit u, which must reach the detector (maxQ, its largest value in u).
// Reduction.Bins and Range do not apply: they are radial.
func newPhiBinning(m *MaskConfig, u Unit, maxQ, maxR float64, red *Reduction) (binning, *binError) {
	if m.QStart >= maxQ {
		return binning{}, &binError{Field: "qStart",
			Msg: fmt.Sprintf("Phi-mode band qStart %g to qStop %g %s starts beyond the largest value on the detector, %.6g %s: no pixel falls in the band", m.QStart, m.QStop, u, maxQ, u)}
	}
	n := m.PhiBins
	if n == 0 {
		nf := math.Ceil(2 * maxR / m.PixelPerRadialElement)
		if !(nf >= 1 && nf <= MaxBins) {
			return binning{}, &binError{Field: "PixelPerRadialElement",
				Msg: fmt.Sprintf("%g pixels per radial element give %.4g azimuthal bins in Phi-mode, not 1 to %d: set PhiBins", m.PixelPerRadialElement, nf, MaxBins)}
		}
		n = int(nf)
	}
	lo, span := -180.0, 360.0 // degrees
	if red != nil && red.ChiRange != nil {
		lo = chiDegrees(red.ChiRange[0])
		if lo == 180 { // the same bins, centres from −180° on
			lo = -180
		}
		hi := chiDegrees(red.ChiRange[1])
		if hi <= lo {
			hi += 360
		}
		span = hi - lo
	}
	rlo, rspan := lo*math.Pi/180, span*math.Pi/180
	return binning{rule: rulePhi, n: n, start: rlo, span: rspan, inv: float64(n) / rspan, unit: u,
		bandLo: m.QStart, bandHi: m.QStop, degLo: lo, degSpan: span}, nil
}

// label returns the bin of the point (x, y), or -1 when it lies outside the
// bins.
func (bn *binning) label(dt *detector, x, y float64) int {
	if bn.hasChi && !bn.inSector(dt, x, y) {
		return -1
	}
	switch bn.rule {
	case rulePhi:
		if v := bn.coord(dt, x, y); !(v >= bn.bandLo && v < bn.bandHi) {
			return -1
		}
		c := dt.chi(x, y)
		if c < bn.start {
			c += 2 * math.Pi
		}
		return bn.clip((c - bn.start) * bn.inv)
	case ruleLegacy:
		return bn.clip(dt.twoTheta(x, y) * bn.scale)
	case ruleRange:
		return bn.clip((bn.coord(dt, x, y) - bn.start) * bn.inv)
	}
	return bn.clip(bn.coord(dt, x, y) * bn.scale)
}

// clip truncates a fractional label (as the original's int()) and rejects
// labels outside 0..n-1.
func (bn *binning) clip(v float64) int {
	if !(v >= 0) || v >= float64(bn.n) { // also rejects NaN
		return -1
	}
	return int(v)
}

// centre returns the radial coordinate (q in nm⁻¹, or in the binning's
// unit) at the centre of bin k; in Phi-mode, χ in degrees.
func (bn *binning) centre(dt *detector, k int) float64 {
	switch bn.rule {
	case ruleLegacy:
		return dt.qOfTwoTheta((float64(k) + 0.5) / bn.scale)
	case ruleRange:
		return bn.start + (float64(k)+0.5)*bn.span/float64(bn.n)
	case rulePhi:
		return bn.degLo + (float64(k)+0.5)*bn.degSpan/float64(bn.n)
	}
	return (float64(k) + 0.5) / bn.scale
}

// coord returns the radial coordinate of the point (x, y) in the binning's
// unit.
func (bn *binning) coord(dt *detector, x, y float64) float64 {
	if bn.unit == UnitQnm || bn.unit == "" {
		return dt.q(x, y)
	}
	return dt.radial(bn.unit, x, y)
}

// inSector reports whether the point (x, y) lies in the binning's sector
// (by its azimuth χ around the beam, see detector.chi).
func (bn *binning) inSector(dt *detector, x, y float64) bool {
	chi := dt.chi(x, y)
	if bn.chiLo <= bn.chiHi {
		return chi >= bn.chiLo && chi < bn.chiHi
	}
	return chi >= bn.chiLo || chi < bn.chiHi
}

// withSector restricts the binning to the sector of the reduction options.
func (bn binning) withSector(red *Reduction) binning {
	if red == nil || red.ChiRange == nil || bn.rule == rulePhi { // rulePhi bins on the sector itself
		return bn
	}
	bn.hasChi = true
	bn.chiLo, bn.chiHi = chiRadians(red.ChiRange[0]), chiRadians(red.ChiRange[1])
	return bn
}

// chiRadians converts χ in degrees to radians in (−π, π].
func chiRadians(deg float64) float64 { return chiDegrees(deg) * math.Pi / 180 }

// chiDegrees returns the angle deg in (−180, 180].
func chiDegrees(deg float64) float64 {
	d := math.Mod(deg, 360)
	switch {
	case d > 180:
		d -= 360
	case d <= -180:
		d += 360
	}
	return d
}
