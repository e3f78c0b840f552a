package saxs

import (
	"context"
	"fmt"
	"math/bits"
	"slices"
	"sync"
)

// Operator is the integration operator of one curve: the sparse matrix A
// whose entry A[p, k] is the share of pixel p's sub-pixels that fall in
// bin k, zero for masked pixels. It is stored pixel-major, so
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
// Without a per-pixel correction all weights are small integers and the
// sums are exact; with one (polarization, solid angle, flat), the factor
// corr_p is kept as a float64, exactly as computed: storing it as float32
// would save 4 bytes per pixel but cost a relative error up to 6e-8, and
// the float64 kernel is no slower (BenchmarkKernelCorr on a Pilatus 1M at
// oversampling 3: 0.71 ms per frame against 0.75 ms with float32).
type Operator struct {
	rows, cols int
	ov2        int // sub-pixels per pixel
	nbins      int

	none  uint16    // bin value of pixels that are masked or in the exception list: nbins
	bin   []uint16  // per pixel: first bin, or none
	split []uint8   // per pixel: sub-pixels in bin[p]; ov2-split are in bin[p]+1
	corr  []float64 // per pixel correction factor, nil when none

	xpix []int32  // exception entries, sorted by pixel
	xbin []uint16 // their bins
	xcnt []uint8  // their sub-pixel counts

	count []int64 // N_k: unmasked sub-pixels per bin

	spans []span // runs of pixels in the compact form, derived from bin

	// code packs bin and split of each pixel in the compact form as
	// bin<<histShift | split, for sumCountsHist; nil when the bins do not
	// fit in 16 bits that way. Derived from bin and split.
	code []uint16
}

// Dims returns the number of pixels and of bins: the operator maps an
// image of Dims()[0] pixels to Dims()[1] bins.
func (op *Operator) Dims() (pixels, bins int) { return op.rows * op.cols, op.nbins }

// At returns A[p, k], the fraction of pixel p (row-major index) that falls
// in bin k, 0 for a masked pixel. It panics if p is outside [0, pixels) or
// k outside [0, bins) (see Dims), as gonum's mat does.
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
// pixel count of bin k. It panics if k is outside [0, bins) (see Dims).
func (op *Operator) Area(k int) float64 {
	if uint(k) >= uint(op.nbins) {
		panic(fmt.Sprintf("saxs: Operator.Area(%d) out of range %d bins", k, op.nbins))
	}
	return float64(op.count[k]) / float64(op.ov2)
}

// Bytes returns the memory the operator's arrays take.
func (op *Operator) Bytes() int {
	return 2*len(op.bin) + len(op.split) + 2*len(op.code) + 8*len(op.corr) + 7*len(op.xpix) + 8*len(op.count) + 8*len(op.spans)
}

// ScaleMat builds an operator from explicit sub-pixel labels: labels holds
// one bin per sub-pixel of a (rows·ov) × (cols·ov) grid in row-major order,
// -1 for none, and pixel (y, x) collects its ov×ov sub-pixels
// (y·ov+a, x·ov+b), a, b in [0, ov). Masked pixels (mask may be nil) get no
// weight. This is the original's labelstosparse followed by scalemat; New
// computes the labels on the fly instead of storing them.
func ScaleMat(labels []int32, rows, cols, ov, nbins int, mask *Mask) (*Operator, error) {
	if ov < 1 || ov > MaxOversampling {
		return nil, fmt.Errorf("saxs: ScaleMat: oversampling %d out of range 1..%d", ov, MaxOversampling)
	}
	if rows < 1 || cols < 1 || rows > maxPixels || cols > maxPixels || rows*cols > maxPixels {
		return nil, fmt.Errorf("saxs: ScaleMat: unsupported size %d × %d pixels", rows, cols)
	}
	if len(labels) != rows*ov*cols*ov {
		return nil, fmt.Errorf("saxs: ScaleMat: got %d labels for %d×%d pixels at oversampling %d", len(labels), rows, cols, ov)
	}
	if nbins < 1 || nbins > MaxBins {
		return nil, fmt.Errorf("saxs: ScaleMat: bin count %d out of range 1..%d", nbins, MaxBins)
	}
	if mask != nil && (mask.Rows != rows || mask.Cols != cols) {
		return nil, &SizeError{What: "mask", Rows: mask.Rows, Cols: mask.Cols, WantRows: rows, WantCols: cols}
	}
	for i, l := range labels {
		if l < -1 || int(l) >= nbins {
			return nil, fmt.Errorf("saxs: ScaleMat: label %d of sub-pixel %d out of range -1..%d", l, i, nbins-1)
		}
	}
	w := cols * ov
	return assemble(context.Background(), rows, cols, ov, nbins, mask, 1, func(r int, sub [][]int32) {
		for a := range ov {
			copy(sub[a], labels[(r*ov+a)*w:(r*ov+a+1)*w])
		}
	})
}

// assemble builds an operator; rowLabels fills sub[a][b] with the labels of
// sub-pixel row r·ov+a for every sub-pixel column b. Rows are processed by
// workers goroutines, which check ctx every assembleCheckRows rows; when
// ctx is done assemble returns ctx.Err().
func assemble(ctx context.Context, rows, cols, ov, nbins int, mask *Mask, workers int, rowLabels func(r int, sub [][]int32)) (*Operator, error) {
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
				if (r-r0)%assembleCheckRows == 0 && ctx.Err() != nil {
					return
				}
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
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, pt := range parts {
		op.xpix = append(op.xpix, pt.xpix...)
		op.xbin = append(op.xbin, pt.xbin...)
		op.xcnt = append(op.xcnt, pt.xcnt...)
		for k, n := range pt.count {
			op.count[k] += n
		}
	}
	op.findSpans()
	return op, nil
}

// assembleCheckRows is how often (in detector rows) assemble checks its
// context: every row, under a millisecond of work at the largest sizes
// (a Pilatus 1M row at Oversampling 4), so that a context whose Err
// yields the processor (a server's build) keeps its other goroutines
// waiting no longer than that.
const assembleCheckRows = 1

// withCorrection sets the per-pixel correction factors (nil for none).
func (op *Operator) withCorrection(corr []float64) {
	defer op.packCodes()
	if corr == nil {
		op.corr = nil
		return
	}
	op.corr = slices.Clone(corr)
}

// The accumulator of one integration, filled by sumCounts or sumFloat.
// Pixel p with first bin b, split c and value v adds v to T_b and c·v to
// U_b; then S_k = U_k + ov²·T_(k-1) − U_(k-1) (the pixel's c·v in bin b
// and (ov²−c)·v in bin b+1). Accumulating T and U in the same place, and
// alternating two lanes between consecutive pixels, keeps the loop free of
// waits on the previous pixel's store. Layout: acc[4b+2·lane] = T,
// acc[4b+2·lane+1] = U for bins 0..nbins, then nbins direct sums for the
// exception entries.
const lanes = 2

// accLen returns the length of the accumulator. The loops index it through
// a fixed-size array of accFixed elements (4·65536: every uint16 bin fits),
// which spares them a bounds check per access; only the first accUsed
// elements are ever written, so the rest costs address space, not memory.
func (op *Operator) accLen() int { return accFixed + op.nbins }

// accUsed returns the length of the part of the accumulator in use.
func (op *Operator) accUsed() int { return 4*(op.nbins+1) + op.nbins }

const accFixed = 4 << 16

// binSum returns S_k from an accumulator.
func binSum[T int64 | float64](op *Operator, acc []T, k int) T {
	t := func(j int) T { return acc[4*j] + acc[4*j+2] }
	u := func(j int) T { return acc[4*j+1] + acc[4*j+3] }
	s := u(k) + acc[4*(op.nbins+1)+k]
	if k > 0 {
		s += T(op.ov2)*t(k-1) - u(k-1)
	}
	return s
}

// span is a run [p0, p1) of consecutive pixels that are in the compact
// form (not masked, not exceptions).
type span struct{ p0, p1 int32 }

// findSpans derives the runs of pixels in the compact form, and the
// packed codes of sumCountsHist.
func (op *Operator) findSpans() {
	defer op.packCodes()
	op.spans = op.spans[:0]
	in := false
	for p, b := range op.bin {
		switch {
		case b != op.none && !in:
			op.spans = append(op.spans, span{int32(p), int32(len(op.bin))})
			in = true
		case b == op.none && in:
			op.spans[len(op.spans)-1].p1 = int32(p)
			in = false
		}
	}
}

// clip returns the part of s inside [p0, p1), possibly empty.
func (s span) clip(p0, p1 int) (int, int) {
	return max(int(s.p0), p0), min(int(s.p1), p1)
}

// histFixed is the size of one lane of the histogram of sumCountsHist:
// every uint16 code, so that the loop has no bounds check (512 KB per lane,
// of which only the first histUsed elements are written).
const histFixed = 1 << 16

// packCodes derives op.code from bin and split, or sets it to nil when
// the codes of the bins do not fit in 16 bits or when the operator has a
// per-pixel correction (integration is then in floating point, by the
// per-pixel kernel).
func (op *Operator) packCodes() {
	sh := op.histShift()
	if op.histUsed() == 0 || op.corr != nil {
		op.code = nil
		return
	}
	if len(op.code) != len(op.bin) {
		op.code = make([]uint16, len(op.bin))
	}
	for p, b := range op.bin {
		if b == op.none {
			op.code[p] = 0 // not read: outside the spans
			continue
		}
		op.code[p] = b<<sh | uint16(op.split[p])
	}
}

// histShift returns the number of bits of a pixel's split in the index of
// the histogram of sumCountsHist: bin<<histShift | split.
func (op *Operator) histShift() int { return bits.Len(uint(op.ov2)) }

// histUsed returns the number of histogram elements per lane that
// sumCountsHist writes, or 0 when the histogram does not fit in histFixed
// (then sumCounts uses sumCountsTU).
func (op *Operator) histUsed() int {
	n := (op.nbins + 1) << op.histShift()
	if n > histFixed || op.nbins+1 > histFixed>>op.histShift() {
		return 0
	}
	return n
}

// sumCounts accumulates the pixels p in [p0, p1) of an integer image
// without correction, exactly, into accs (the T, U and direct sums
// described at lanes). hist is scratch for sumCountsHist of 2·histFixed
// elements, or nil to use sumCountsTU.
func (op *Operator) sumCounts(img []int32, accs, hist []int64, p0, p1 int) {
	if hist == nil || op.code == nil {
		op.sumCountsTU(img, accs, p0, p1)
		return
	}
	op.sumCountsHist(img, accs, hist, p0, p1)
}

// sumCountsHist is sumCounts by histogram: pixel p with first bin b and
// split c adds its count v to H[b, c], at its packed code (one
// read-modify-write per pixel, no multiplication, 2 bytes of operator per
// pixel instead of 3); then T_b = Σ_c H[b, c]
// and U_b = Σ_c c·H[b, c] are folded into accs. Integer sums are exact, so
// the result equals sumCountsTU's bit for bit. Two lanes alternate between
// consecutive pixels, which mostly share (b, c), so that a store does not
// wait for the previous pixel's.
func (op *Operator) sumCountsHist(img []int32, accs, hist []int64, p0, p1 int) {
	used := op.histUsed()
	h0 := (*[histFixed]int64)(hist[:histFixed])
	h1 := (*[histFixed]int64)(hist[histFixed : 2*histFixed])
	clear(h0[:used])
	clear(h1[:used])
	sh := op.histShift()
	for _, sp := range op.spans {
		a, z := sp.clip(p0, p1)
		if a >= z {
			continue
		}
		code := op.code[a:z]
		n := len(code)
		im := img[a:z][:n]
		// Four pixels per iteration, i the last of them (fewer
		// instructions than two per iteration or array pointers, by
		// callgrind).
		i := 3
		for ; i < n; i += 4 {
			h0[code[i-3]] += int64(im[i-3])
			h1[code[i-2]] += int64(im[i-2])
			h0[code[i-1]] += int64(im[i-1])
			h1[code[i]] += int64(im[i])
		}
		for i -= 3; i < n; i++ {
			h0[code[i]] += int64(im[i])
		}
	}
	for b := range op.nbins {
		var t, u int64
		for c := range op.ov2 + 1 {
			v := h0[b<<sh+c] + h1[b<<sh+c]
			t += v
			u += int64(c) * v
		}
		accs[4*b] += t
		accs[4*b+1] += u
	}
	op.sumExceptions(img, accs, p0, p1)
}

// sumCountsTU is sumCounts with T and U accumulated per pixel (two
// read-modify-writes and a multiplication per pixel); it needs no
// histogram, whatever the number of bins.
func (op *Operator) sumCountsTU(img []int32, accs []int64, p0, p1 int) {
	acc := (*[accFixed]int64)(accs[:accFixed])
	for _, sp := range op.spans {
		a, z := sp.clip(p0, p1)
		if a >= z {
			continue
		}
		bins := op.bin[a:z]
		n := len(bins)
		split := op.split[a:z][:n]
		im := img[a:z][:n]
		i := 0
		for ; i+lanes <= n; i += lanes {
			b0, c0, v0 := int(bins[i])*4, int64(split[i]), int64(im[i])
			b1, c1, v1 := int(bins[i+1])*4+2, int64(split[i+1]), int64(im[i+1])
			acc[b0] += v0
			acc[b0+1] += c0 * v0
			acc[b1] += v1
			acc[b1+1] += c1 * v1
		}
		if i < n {
			b, c, v := int(bins[i])*4, int64(split[i]), int64(im[i])
			acc[b] += v
			acc[b+1] += c * v
		}
	}
	op.sumExceptions(img, accs, p0, p1)
}

// sumExceptions adds the exception entries of the pixels in [p0, p1) to
// the direct sums of accs.
func (op *Operator) sumExceptions(img []int32, accs []int64, p0, p1 int) {
	direct := accs[4*(op.nbins+1):]
	x0, x1 := op.exceptions(p0, p1)
	for i := x0; i < x1; i++ {
		direct[op.xbin[i]] += int64(op.xcnt[i]) * int64(img[op.xpix[i]])
	}
}

// sumFloat accumulates corr_p·img_p for the pixels p in [p0, p1).
func sumFloat[T int32 | float64](op *Operator, img []T, accs []float64, p0, p1 int) {
	acc := (*[accFixed]float64)(accs[:accFixed])
	for _, sp := range op.spans {
		a, z := sp.clip(p0, p1)
		if a >= z {
			continue
		}
		bins := op.bin[a:z]
		n := len(bins)
		split := op.split[a:z][:n]
		im := img[a:z][:n]
		if op.corr == nil {
			i := 0
			for ; i+lanes <= n; i += lanes {
				b0, c0, v0 := int(bins[i])*4, float64(split[i]), float64(im[i])
				b1, c1, v1 := int(bins[i+1])*4+2, float64(split[i+1]), float64(im[i+1])
				acc[b0] += v0
				acc[b0+1] += c0 * v0
				acc[b1] += v1
				acc[b1+1] += c1 * v1
			}
			if i < n {
				b, c, v := int(bins[i])*4, float64(split[i]), float64(im[i])
				acc[b] += v
				acc[b+1] += c * v
			}
			continue
		}
		corr := op.corr[a:z][:n]
		i := 0
		for ; i+lanes <= n; i += lanes {
			b0, c0, v0 := int(bins[i])*4, float64(split[i]), float64(im[i])*corr[i]
			b1, c1, v1 := int(bins[i+1])*4+2, float64(split[i+1]), float64(im[i+1])*corr[i+1]
			acc[b0] += v0
			acc[b0+1] += c0 * v0
			acc[b1] += v1
			acc[b1+1] += c1 * v1
		}
		if i < n {
			b, c, v := int(bins[i])*4, float64(split[i]), float64(im[i])*corr[i]
			acc[b] += v
			acc[b+1] += c * v
		}
	}
	direct := accs[4*(op.nbins+1):]
	x0, x1 := op.exceptions(p0, p1)
	for i := x0; i < x1; i++ {
		p := op.xpix[i]
		v := float64(img[p])
		if op.corr != nil {
			v *= op.corr[p]
		}
		direct[op.xbin[i]] += float64(op.xcnt[i]) * v
	}
}

// sumFloatVar is sumFloat that also adds, in the same pass, the variance
// sums Σ_p n[p,k]²·corr_p²·img_p of the propagated Poisson errors to vl:
// two interleaved lanes, vl[2k] and vl[2k+1] for bin k (2·(nbins+1)
// elements; see varianceSums), the lane alternating with the pixel as in
// acc.
func sumFloatVar[T int32 | float64](op *Operator, img []T, accs, vl []float64, p0, p1 int) {
	acc := (*[accFixed]float64)(accs[:accFixed])
	vl = vl[:2*(op.nbins+1)]
	ov2 := float64(op.ov2)
	for _, sp := range op.spans {
		a, z := sp.clip(p0, p1)
		if a >= z {
			continue
		}
		bins := op.bin[a:z]
		n := len(bins)
		split := op.split[a:z][:n]
		im := img[a:z][:n]
		// Pixel i adds v = g·img to T, c·v to U and c²·g·v, (ov²−c)²·g·v
		// to the variance lanes of its bins b and b+1 (g = corr, or 1).
		add := func(i, lane int, g float64) {
			b, c := int(bins[i]), float64(split[i])
			v := float64(im[i]) * g
			w := v * g
			t := 4*b + 2*lane
			acc[t] += v
			acc[t+1] += c * v
			r := ov2 - c
			j := 2*b + lane
			vl[j] += c * c * w
			vl[j+2] += r * r * w
		}
		i := 0
		if op.corr == nil {
			for ; i+lanes <= n; i += lanes {
				add(i, 0, 1)
				add(i+1, 1, 1)
			}
			if i < n {
				add(i, 0, 1)
			}
			continue
		}
		corr := op.corr[a:z][:n]
		for ; i+lanes <= n; i += lanes {
			add(i, 0, corr[i])
			add(i+1, 1, corr[i+1])
		}
		if i < n {
			add(i, 0, corr[i])
		}
	}
	direct := accs[4*(op.nbins+1):]
	x0, x1 := op.exceptions(p0, p1)
	for i := x0; i < x1; i++ {
		p := op.xpix[i]
		v := float64(img[p])
		w := v
		if op.corr != nil {
			v *= op.corr[p]
			w = v * op.corr[p]
		}
		c := float64(op.xcnt[i])
		direct[op.xbin[i]] += c * v
		vl[2*int(op.xbin[i])] += c * c * w
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

// binCount returns N_k, the number of unmasked sub-pixels in bin k.
func (op *Operator) binCount(k int) int64 { return op.count[k] }

// spread returns, for every bin k (and one spare element), the sum
// Σ_p n[p,k]·(corr_p·img_p − m_p)² over the pixels, where m_p is mean
// mapped back to pixel p (see pixelMean); mean has nbins+1 elements. img
// must have the operator's size.
func (op *Operator) spread(img *Image, mean []float64) []float64 {
	dev := make([]float64, op.nbins+1)
	for p := range op.bin {
		if op.bin[p] == op.none && !op.hasExceptions(p) {
			continue
		}
		var v float64
		if img.Counts != nil {
			v = float64(img.Counts[p])
		} else {
			v = img.Values[p]
		}
		if op.corr != nil {
			v *= op.corr[p]
		}
		d := v - op.pixelMean(p, mean)
		op.addPixel(p, d*d, dev)
	}
	return dev
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

// firstException returns the index of pixel p's first exception entry
// (len(op.xpix) or an entry of a later pixel when it has none).
func (op *Operator) firstException(p int) int {
	i, _ := slices.BinarySearch(op.xpix, int32(p))
	return i
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
