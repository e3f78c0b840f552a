package saxs

import (
	"fmt"
	"slices"
	"sync"
)

// lanes is the number of interleaved accumulators per bin. Consecutive
// pixels add into different lanes, so that an update does not wait for the
// previous pixel's store to the same bin (store-to-load forwarding latency
// would otherwise bound the loop).
const lanes = 4

// Operator is the integration operator of one curve: the sparse matrix A
// whose entry A[p, k] is the share of pixel p's sub-pixels that fall in
// bin k, zero for masked pixels (spec §2.4). It is stored pixel-major, so
// that integrating an image is one pass over its pixels:
//
//	S_k = Σ_p n[p,k]·corr_p·img_p,   I_k = S_k / N_k
//
// where n[p,k] = ov²·A[p,k] is the integer number of sub-pixels, corr_p the
// optional polarization correction and N_k = Σ_p n[p,k] = ov²·Area_k.
//
// Most pixels lie in one bin or in two adjacent ones, so each pixel is
// stored as its first bin (uint16) and the number of its sub-pixels in that
// bin (uint8); the remaining ov² − n sub-pixels are in the next bin. Pixels
// in other patterns (three or more bins, a gap, partly outside the bins)
// are kept in a short exception list. For a Pilatus 1M at ov = 3 the
// operator takes about 3 MB.
//
// Without polarization correction all weights are small integers and the
// sums are exact; with it, the per-pixel correction is a float32 (relative
// error below 6e-8).
type Operator struct {
	rows, cols int
	ov2        int // sub-pixels per pixel
	nbins      int

	none  uint16    // bin value of pixels that are masked or in the exception list: nbins
	bin   []uint16  // per pixel: first bin, or none
	split []uint8   // per pixel: sub-pixels in bin[p]; ov2-split are in bin[p]+1
	corr  []float32 // per pixel correction factor, nil when none

	xpix []int32  // exception entries, sorted by pixel
	xbin []uint16 // their bins
	xcnt []uint8  // their sub-pixel counts

	count []int64 // N_k: unmasked sub-pixels per bin
}

// Dims returns the number of pixels and of bins: the operator maps an
// image of Dims()[0] pixels to Dims()[1] bins.
func (op *Operator) Dims() (pixels, bins int) { return op.rows * op.cols, op.nbins }

// At returns A[p, k], the fraction of pixel p (row-major index) that falls
// in bin k, 0 for a masked pixel.
func (op *Operator) At(p, k int) float64 {
	if p < 0 || p >= len(op.bin) || k < 0 || k >= op.nbins {
		panic(fmt.Sprintf("saxs: Operator.At(%d, %d) out of range %d×%d", p, k, len(op.bin), op.nbins))
	}
	return float64(op.subpixels(p, k)) / float64(op.ov2)
}

func (op *Operator) subpixels(p, k int) int {
	if b := op.bin[p]; b != op.none {
		b := int(b)
		switch k {
		case b:
			return int(op.split[p])
		case b + 1:
			return op.ov2 - int(op.split[p])
		}
		return 0
	}
	i, _ := slices.BinarySearch(op.xpix, int32(p))
	for ; i < len(op.xpix) && op.xpix[i] == int32(p); i++ {
		if int(op.xbin[i]) == k {
			return int(op.xcnt[i])
		}
	}
	return 0
}

// Area returns Area_k = Σ_p A[p, k], the masked, oversampling-weighted
// pixel count of bin k.
func (op *Operator) Area(k int) float64 { return float64(op.count[k]) / float64(op.ov2) }

// Bytes returns the memory the operator's arrays take.
func (op *Operator) Bytes() int {
	return 2*len(op.bin) + len(op.split) + 4*len(op.corr) + 7*len(op.xpix) + 8*len(op.count)
}

// ScaleMat builds an operator from explicit sub-pixel labels: labels holds
// one bin per sub-pixel of a (rows·ov) × (cols·ov) grid in row-major order,
// -1 for none, and pixel (y, x) collects its ov×ov sub-pixels
// (y·ov+a, x·ov+b), a, b in [0, ov). Masked pixels (mask may be nil) get no
// weight. This is the original's labelstosparse followed by scalemat; New
// computes the labels on the fly instead of storing them.
func ScaleMat(labels []int32, rows, cols, ov, nbins int, mask *Mask) (*Operator, error) {
	if ov < 1 || ov > MaxOversampling {
		return nil, fmt.Errorf("oversampling %d out of range 1..%d", ov, MaxOversampling)
	}
	if len(labels) != rows*ov*cols*ov {
		return nil, fmt.Errorf("got %d labels for %d×%d pixels at oversampling %d", len(labels), rows, cols, ov)
	}
	if nbins < 1 || nbins > MaxBins {
		return nil, fmt.Errorf("bin count %d out of range 1..%d", nbins, MaxBins)
	}
	if mask != nil && (mask.Rows != rows || mask.Cols != cols) {
		return nil, &SizeError{What: "mask", Rows: mask.Rows, Cols: mask.Cols, WantRows: rows, WantCols: cols}
	}
	for i, l := range labels {
		if l < -1 || int(l) >= nbins {
			return nil, fmt.Errorf("label %d of sub-pixel %d out of range -1..%d", l, i, nbins-1)
		}
	}
	w := cols * ov
	return assemble(rows, cols, ov, nbins, mask, 1, func(r int, sub [][]int32) {
		for a := range ov {
			copy(sub[a], labels[(r*ov+a)*w:(r*ov+a+1)*w])
		}
	}), nil
}

// assemble builds an operator; rowLabels fills sub[a][b] with the labels of
// sub-pixel row r·ov+a for every sub-pixel column b. Rows are processed by
// workers goroutines.
func assemble(rows, cols, ov, nbins int, mask *Mask, workers int, rowLabels func(r int, sub [][]int32)) *Operator {
	npix := rows * cols
	op := &Operator{
		rows: rows, cols: cols, ov2: ov * ov, nbins: nbins, none: uint16(nbins),
		bin:   make([]uint16, npix),
		split: make([]uint8, npix),
		count: make([]int64, nbins),
	}
	workers = max(1, min(workers, rows))
	type part struct {
		xpix  []int32
		xbin  []uint16
		xcnt  []uint8
		count []int64
	}
	parts := make([]part, workers)
	var wg sync.WaitGroup
	for wi := range workers {
		r0, r1 := rows*wi/workers, rows*(wi+1)/workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			pt := &parts[wi]
			pt.count = make([]int64, nbins)
			sub := make([][]int32, ov)
			for a := range sub {
				sub[a] = make([]int32, cols*ov)
			}
			pix := make([]int32, ov*ov)
			for r := r0; r < r1; r++ {
				rowLabels(r, sub)
				for c := range cols {
					p := r*cols + c
					op.bin[p] = op.none
					if mask != nil && mask.Masked[p] {
						continue
					}
					// Gather the pixel's labels and find the smallest.
					lo, valid := int32(-1), 0
					for a := range ov {
						for b, l := range sub[a][c*ov : c*ov+ov] {
							pix[a*ov+b] = l
							if l >= 0 {
								valid++
								if lo < 0 || l < lo {
									lo = l
								}
							}
						}
					}
					if valid == 0 {
						continue
					}
					n0, n1 := 0, 0
					for _, l := range pix {
						switch l {
						case lo:
							n0++
						case lo + 1:
							n1++
						}
					}
					if n0+n1 == len(pix) && (n1 == 0 || int(lo)+1 < nbins) {
						op.bin[p], op.split[p] = uint16(lo), uint8(n0)
						pt.count[lo] += int64(n0)
						if n1 > 0 {
							pt.count[lo+1] += int64(n1)
						}
						continue
					}
					// Exception: tally the distinct labels.
					slices.Sort(pix)
					for i := 0; i < len(pix); {
						j := i
						for j < len(pix) && pix[j] == pix[i] {
							j++
						}
						if pix[i] >= 0 {
							pt.xpix = append(pt.xpix, int32(p))
							pt.xbin = append(pt.xbin, uint16(pix[i]))
							pt.xcnt = append(pt.xcnt, uint8(j-i))
							pt.count[pix[i]] += int64(j - i)
						}
						i = j
					}
				}
			}
		}()
	}
	wg.Wait()
	for _, pt := range parts {
		op.xpix = append(op.xpix, pt.xpix...)
		op.xbin = append(op.xbin, pt.xbin...)
		op.xcnt = append(op.xcnt, pt.xcnt...)
		for k, n := range pt.count {
			op.count[k] += n
		}
	}
	return op
}

// withCorrection sets the per-pixel correction factors (nil for none).
func (op *Operator) withCorrection(corr []float64) {
	if corr == nil {
		op.corr = nil
		return
	}
	op.corr = make([]float32, len(corr))
	for i, v := range corr {
		op.corr[i] = float32(v)
	}
}

// accLen returns the length of the accumulator that sumCounts and sumFloat
// fill: lanes per bin, for the bins and the two bins that absorb the pixels
// marked none (their split is 0, so they add to bins nbins and nbins+1),
// which spares the loop a branch.
func (op *Operator) accLen() int { return (op.nbins + 2) * lanes }

// sumCounts adds Σ_p n[p,k]·img_p to acc[k·lanes+lane] for the pixels p in
// [p0, p1), without correction. acc has accLen elements.
func (op *Operator) sumCounts(img []int32, acc []int64, p0, p1 int) {
	ov2 := int64(op.ov2)
	bins := op.bin[p0:p1]
	n := len(bins)
	split := op.split[p0:p1][:n]
	img = img[p0:p1][:n]
	i := 0
	for ; i+lanes <= n; i += lanes {
		b0, c0, v0 := int(bins[i])*lanes, int64(split[i]), int64(img[i])
		b1, c1, v1 := int(bins[i+1])*lanes+1, int64(split[i+1]), int64(img[i+1])
		b2, c2, v2 := int(bins[i+2])*lanes+2, int64(split[i+2]), int64(img[i+2])
		b3, c3, v3 := int(bins[i+3])*lanes+3, int64(split[i+3]), int64(img[i+3])
		acc[b0] += c0 * v0
		acc[b0+lanes] += (ov2 - c0) * v0
		acc[b1] += c1 * v1
		acc[b1+lanes] += (ov2 - c1) * v1
		acc[b2] += c2 * v2
		acc[b2+lanes] += (ov2 - c2) * v2
		acc[b3] += c3 * v3
		acc[b3+lanes] += (ov2 - c3) * v3
	}
	for ; i < n; i++ {
		b, c, v := int(bins[i])*lanes, int64(split[i]), int64(img[i])
		acc[b] += c * v
		acc[b+lanes] += (ov2 - c) * v
	}
	x0, x1 := op.exceptions(p0, p1)
	for i := x0; i < x1; i++ {
		acc[int(op.xbin[i])*lanes] += int64(op.xcnt[i]) * int64(img[int(op.xpix[i])-p0])
	}
}

// sumFloat adds Σ_p n[p,k]·corr_p·img_p to acc[k·lanes+lane] for the pixels
// p in [p0, p1). acc has accLen elements.
func sumFloat[T int32 | float64](op *Operator, img []T, acc []float64, p0, p1 int) {
	ov2 := float64(op.ov2)
	bins := op.bin[p0:p1]
	n := len(bins)
	split := op.split[p0:p1][:n]
	img = img[p0:p1][:n]
	if op.corr == nil {
		i := 0
		for ; i+lanes <= n; i += lanes {
			b0, c0, v0 := int(bins[i])*lanes, float64(split[i]), float64(img[i])
			b1, c1, v1 := int(bins[i+1])*lanes+1, float64(split[i+1]), float64(img[i+1])
			b2, c2, v2 := int(bins[i+2])*lanes+2, float64(split[i+2]), float64(img[i+2])
			b3, c3, v3 := int(bins[i+3])*lanes+3, float64(split[i+3]), float64(img[i+3])
			acc[b0] += c0 * v0
			acc[b0+lanes] += (ov2 - c0) * v0
			acc[b1] += c1 * v1
			acc[b1+lanes] += (ov2 - c1) * v1
			acc[b2] += c2 * v2
			acc[b2+lanes] += (ov2 - c2) * v2
			acc[b3] += c3 * v3
			acc[b3+lanes] += (ov2 - c3) * v3
		}
		for ; i < n; i++ {
			b, c, v := int(bins[i])*lanes, float64(split[i]), float64(img[i])
			acc[b] += c * v
			acc[b+lanes] += (ov2 - c) * v
		}
	} else {
		corr := op.corr[p0:p1][:n]
		i := 0
		for ; i+lanes <= n; i += lanes {
			b0, c0, v0 := int(bins[i])*lanes, float64(split[i]), float64(img[i])*float64(corr[i])
			b1, c1, v1 := int(bins[i+1])*lanes+1, float64(split[i+1]), float64(img[i+1])*float64(corr[i+1])
			b2, c2, v2 := int(bins[i+2])*lanes+2, float64(split[i+2]), float64(img[i+2])*float64(corr[i+2])
			b3, c3, v3 := int(bins[i+3])*lanes+3, float64(split[i+3]), float64(img[i+3])*float64(corr[i+3])
			acc[b0] += c0 * v0
			acc[b0+lanes] += (ov2 - c0) * v0
			acc[b1] += c1 * v1
			acc[b1+lanes] += (ov2 - c1) * v1
			acc[b2] += c2 * v2
			acc[b2+lanes] += (ov2 - c2) * v2
			acc[b3] += c3 * v3
			acc[b3+lanes] += (ov2 - c3) * v3
		}
		for ; i < n; i++ {
			b, c, v := int(bins[i])*lanes, float64(split[i]), float64(img[i])*float64(corr[i])
			acc[b] += c * v
			acc[b+lanes] += (ov2 - c) * v
		}
	}
	x0, x1 := op.exceptions(p0, p1)
	for i := x0; i < x1; i++ {
		p := int(op.xpix[i])
		v := float64(img[p-p0])
		if op.corr != nil {
			v *= float64(op.corr[p])
		}
		acc[int(op.xbin[i])*lanes] += float64(op.xcnt[i]) * v
	}
}

// exceptions returns the range of exception entries of pixels in [p0, p1).
func (op *Operator) exceptions(p0, p1 int) (int, int) {
	if p0 == 0 && p1 == len(op.bin) {
		return 0, len(op.xpix)
	}
	i0, _ := slices.BinarySearch(op.xpix, int32(p0))
	i1, _ := slices.BinarySearch(op.xpix, int32(p1))
	return i0, i1
}

// pixelMean returns Σ_k A[p,k]·v_k for pixel p: the bin values v mapped back
// to the pixel, weighted by its shares (0 for a masked pixel).
func (op *Operator) pixelMean(p int, v []float64) float64 {
	if b := int(op.bin[p]); b != int(op.none) {
		c := float64(op.split[p])
		s := c * v[b]
		if n := float64(op.ov2) - c; n > 0 {
			s += n * v[b+1]
		}
		return s / float64(op.ov2)
	}
	i, _ := slices.BinarySearch(op.xpix, int32(p))
	s := 0.0
	for ; i < len(op.xpix) && op.xpix[i] == int32(p); i++ {
		s += float64(op.xcnt[i]) * v[op.xbin[i]]
	}
	return s / float64(op.ov2)
}

// hasExceptions reports whether pixel p has exception entries.
func (op *Operator) hasExceptions(p int) bool {
	_, found := slices.BinarySearch(op.xpix, int32(p))
	return found
}

// addPixel adds n[p,k]·v to acc[k] for every bin k of pixel p.
func (op *Operator) addPixel(p int, v float64, acc []float64) {
	if b := op.bin[p]; b != op.none {
		c := float64(op.split[p])
		acc[b] += c * v
		acc[b+1] += (float64(op.ov2) - c) * v
		return
	}
	i, _ := slices.BinarySearch(op.xpix, int32(p))
	for ; i < len(op.xpix) && op.xpix[i] == int32(p); i++ {
		acc[op.xbin[i]] += float64(op.xcnt[i]) * v
	}
}
