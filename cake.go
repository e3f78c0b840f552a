package saxs

import (
	"context"
	"fmt"
	"math"
)

// CakeResult is a 2-D integration I(radial, χ) of a frame (Reduction.Cake):
// I has one row per χ bin and one column per radial bin, the mean
// corrected intensity of the sub-pixels in each (NaN where none falls),
// dark-subtracted and normalised as the curves are (no background).
type CakeResult struct {
	// Radial holds the centres of the radial bins, in Unit.
	Radial []float64
	// Chi holds the centres of the χ bins in degrees (pyFAI's χ around
	// the beam axis, see Reduction.ChiRange).
	Chi []float64
	// Unit is the unit of Radial.
	Unit Unit
	// I is the cake: Rows = len(Chi), Cols = len(Radial), in Values.
	I *Image
}

// cakeOp is the operator of the cake: bin k = c·nq + q.
type cakeOp struct {
	op       *Operator
	nq, nchi int
	radial   []float64
	chi      []float64
	unit     Unit
	dark     []float64 // the dark's cake, nil for none
}

// buildCake builds the cake operator of mask 0 (its mask m, oversampling
// and the reduction's unit, Range and ChiRange).
func buildCake(ctx context.Context, cal *Calibration, dt *detector, m *Mask, corr []float64, workers int) (*cakeOp, error) {
	red := cal.Reduction
	nq, nchi := red.Cake[0], red.Cake[1]
	mc := &cal.Masks[0]
	ov := mc.Oversampling
	ys, xs := dt.ys(ov, true), dt.xs(ov, true)
	u := red.unit()
	lo, hi := 0.0, maxOnPerimeter(ys, xs, func(x, y float64) float64 { return dt.radial(u, x, y) })
	if red.Range != nil {
		lo, hi = red.Range[0], red.Range[1]
	}
	clo, chi := -math.Pi, math.Pi
	if red.ChiRange != nil {
		clo, chi = chiRadians(red.ChiRange[0]), chiRadians(red.ChiRange[1])
		if chi <= clo {
			chi += 2 * math.Pi
		}
	}
	qinv, cinv := float64(nq)/(hi-lo), float64(nchi)/(chi-clo)
	op, err := assemble(ctx, dt.rows, dt.cols, ov, nq*nchi, m, workers, func(r int, sub [][]int32) {
		for a := range ov {
			y := ys[r*ov+a]
			row := sub[a]
			for b, x := range xs {
				row[b] = -1
				qf := (dt.radial(u, x, y) - lo) * qinv
				if !(qf >= 0 && qf < float64(nq)) {
					continue
				}
				c := dt.chi(x, y)
				if c < clo {
					c += 2 * math.Pi
				}
				cf := (c - clo) * cinv
				if !(cf >= 0 && cf < float64(nchi)) {
					continue
				}
				row[b] = int32(int(cf)*nq + int(qf))
			}
		}
	})
	if err != nil {
		return nil, err
	}
	op.withCorrection(corr)
	co := &cakeOp{op: op, nq: nq, nchi: nchi, unit: u}
	for k := range nq {
		co.radial = append(co.radial, lo+(float64(k)+0.5)*(hi-lo)/float64(nq))
	}
	for k := range nchi {
		co.chi = append(co.chi, (clo+(float64(k)+0.5)*(chi-clo)/float64(nchi))*180/math.Pi)
	}
	return co, nil
}

// means returns the mean corrected value of img in every bin of op (NaN
// where the bin is empty).
func (op *Operator) means(img *Image) []float64 {
	s := &sums{f: make([]float64, op.accLen())}
	accumulate(op, img, false, false, s, 0, len(op.bin))
	out := make([]float64, op.nbins)
	for k := range out {
		if n := op.count[k]; n > 0 {
			out[k] = binSum(op, s.f, k) / float64(n)
		} else {
			out[k] = math.NaN()
		}
	}
	return out
}

// Cake integrates img into the 2-D cake of the calibration's
// Reduction.Cake; it is an error when the calibration has none. It
// allocates the result.
func (ig *Integrator) Cake(img *Image) (*CakeResult, error) {
	return ig.CakeFrame(img, "")
}

// CakeFrame is Cake for the frame read from the file name (see
// IntegrateFrameTo).
func (ig *Integrator) CakeFrame(img *Image, name string) (*CakeResult, error) {
	cc := ig.cake
	if cc == nil {
		return nil, fmt.Errorf("saxs: the calibration has no Reduction.Cake")
	}
	g := &ig.cal.Geometry
	if err := img.check(g.Imagesize[0], g.Imagesize[1]); err != nil {
		return nil, err
	}
	norm, err := ig.NormFactor(img, name)
	if err != nil {
		return nil, err
	}
	v := cc.op.means(img)
	for k := range v {
		if cc.dark != nil {
			v[k] -= cc.dark[k]
		}
		v[k] /= norm
	}
	return &CakeResult{Radial: cc.radial, Chi: cc.chi, Unit: cc.unit,
		I: &Image{Rows: cc.nchi, Cols: cc.nq, Values: v}}, nil
}

// setupCake builds the cake operator when the reduction options ask for
// one, with the flat and the corrections of the curves.
func (ig *Integrator) setupCake(ctx context.Context, dt *detector, mask0 *Mask, corr func() []float64, workers int) error {
	red := ig.cal.Reduction
	if red == nil || red.Cake == nil {
		return nil
	}
	cc, err := buildCake(ctx, ig.cal, dt, mask0, corr(), workers)
	if err != nil {
		return fmt.Errorf("saxs: building the cake: %w", err)
	}
	ig.cake = cc
	return nil
}

// setDark integrates the dark into the cake (called with the dark image
// by setupReduction).
func (cc *cakeOp) setDark(dark *Image) { cc.dark = cc.op.means(dark) }
