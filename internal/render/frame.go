package render

import (
	"cmp"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"

	"github.com/saxsdog/saxs"
)

// The colour scale of the frame picture runs between these percentiles of
// the unmasked positive pixels, so that a few hot pixels or a dark corner
// do not flatten it.
const (
	LowPercentile  = 0.5
	HighPercentile = 99.9
)

// Palette layout of the frame picture: the levels of the colour map, then
// the mask colour and the colour of invalid pixels.
const (
	levels       = 254
	maskIndex    = levels
	invalidIndex = levels + 1
)

// Colours of the frame picture outside the colour map: masked pixels are
// magenta, and unmasked pixels with a negative or NaN value (the gaps
// between detector modules, which Pilatus marks with -1, and bad pixels,
// -2) are grey. Neither colour occurs in viridis.
var (
	maskColor    = color.RGBA{R: 0xff, G: 0x00, B: 0xff, A: 0xff}
	invalidColor = color.RGBA{R: 0x80, G: 0x80, B: 0x80, A: 0xff}
)

// FramePNG writes a picture of a detector frame to w as a PNG image of
// img.Cols × img.Rows pixels, row 0 at the top. Each pixel value v is shown
// as log10(1 + max(v, 0)) on the viridis colour map, which spans the
// [LowPercentile] to [HighPercentile] percentiles of the unmasked positive
// pixels; values outside are clipped to its ends. Pixels that mask (which
// may be nil) excludes are magenta; other pixels with a negative or NaN
// value are grey.
//
// The image is paletted (one byte per pixel) and compressed for speed.
func FramePNG(w io.Writer, img *saxs.Image, mask *saxs.Mask) error {
	m, err := FrameImage(img, mask)
	if err != nil {
		return err
	}
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(w, m); err != nil {
		return fmt.Errorf("render: writing PNG: %w", err)
	}
	return nil
}

// FrameImage returns the picture that [FramePNG] encodes. Only an image
// without pixels or samples, or a mask of another size, is an error.
func FrameImage(img *saxs.Image, mask *saxs.Mask) (*image.Paletted, error) {
	if img == nil {
		return nil, errors.New("render: nil image")
	}
	n := img.Rows * img.Cols
	switch {
	case img.Rows <= 0 || img.Cols <= 0:
		return nil, fmt.Errorf("render: empty image (%d × %d pixels)", img.Rows, img.Cols)
	case (img.Counts == nil) == (img.Values == nil):
		return nil, errors.New("render: image must have exactly one of Counts and Values")
	case img.Counts != nil && len(img.Counts) != n, img.Values != nil && len(img.Values) != n:
		return nil, fmt.Errorf("render: image has %d × %d pixels but %d samples",
			img.Rows, img.Cols, max(len(img.Counts), len(img.Values)))
	}
	var masked []bool
	if mask != nil {
		if mask.Rows != img.Rows || mask.Cols != img.Cols || len(mask.Masked) != n {
			return nil, fmt.Errorf("render: mask of %d × %d pixels (%d values) does not fit an image of %d × %d",
				mask.Rows, mask.Cols, len(mask.Masked), img.Rows, img.Cols)
		}
		masked = mask.Masked
	}
	out := image.NewPaletted(image.Rect(0, 0, img.Cols, img.Rows), palette())
	// A new Paletted image has Stride == Cols: pixel (r, c) is Pix[r*Cols+c],
	// the layout of saxs.Image.
	if img.Counts != nil {
		colorize(out.Pix, img.Counts, masked, true)
	} else {
		colorize(out.Pix, img.Values, masked, false)
	}
	return out, nil
}

// palette returns the palette of the frame picture: [levels] entries
// sampled evenly from viridis, then the mask and invalid colours.
func palette() color.Palette {
	pal := make(color.Palette, levels+2)
	for i := range levels {
		j := 3 * ((i*255 + (levels-1)/2) / (levels - 1))
		pal[i] = color.RGBA{R: viridis[j], G: viridis[j+1], B: viridis[j+2], A: 0xff}
	}
	pal[maskIndex] = maskColor
	pal[invalidIndex] = invalidColor
	return pal
}

// sample is the type of an image's samples.
type sample interface{ ~int32 | ~float64 }

// lutMax bounds the lookup table of colour indices for integer images.
const lutMax = 1 << 16

// colorize writes the palette index of each pixel of pix to dst. integer
// says that the samples are whole numbers, for which small values are
// looked up in a table instead of taking a logarithm each.
func colorize[T sample](dst []uint8, pix []T, masked []bool, integer bool) {
	loV, hiV := percentiles(pix, masked)
	// The colour scale: log1p(v) from l0 (index 0) to l1 (top index).
	l0, l1 := math.Log1p(loV), math.Log1p(hiV)
	if !(l1 > l0) {
		// All positive pixels are equal (shown at the top), or there are
		// none (everything that is not invalid is 0, shown at the bottom).
		l0 = 0
		if !(l1 > l0) {
			l1 = 1
		}
	}
	loCut, hiCut := math.Expm1(l0), math.Expm1(l1)
	scale := (levels - 1) / (l1 - l0)
	index := func(f float64) uint8 {
		switch {
		case f <= loCut:
			return 0
		case f >= hiCut:
			return levels - 1
		}
		k := int((math.Log1p(f)-l0)*scale + 0.5)
		return uint8(min(max(k, 0), levels-1))
	}
	var lut []uint8
	if integer {
		lut = make([]uint8, int(min(math.Ceil(hiCut), lutMax, float64(len(pix)))))
		for v := range lut {
			lut[v] = index(float64(v))
		}
	}
	nlut := float64(len(lut))
	for i, v := range pix {
		f := float64(v)
		switch {
		case masked != nil && masked[i]:
			dst[i] = maskIndex
		case f < 0 || f != f:
			dst[i] = invalidIndex
		case f < nlut:
			dst[i] = lut[int(f)]
		default:
			dst[i] = index(f)
		}
	}
}

// percentiles returns the [LowPercentile] and [HighPercentile] percentiles
// (nearest rank) of the unmasked, positive, finite values of pix; 0, 0 if
// there are none.
func percentiles[T sample](pix []T, masked []bool) (lo, hi float64) {
	vals := make([]T, 0, len(pix))
	for i, v := range pix {
		// v-v == 0 is false for ±Inf and NaN.
		if v > 0 && v-v == 0 && (masked == nil || !masked[i]) {
			vals = append(vals, v)
		}
	}
	if len(vals) == 0 {
		return 0, 0
	}
	rank := func(p float64) int { return int(p/100*float64(len(vals)-1) + 0.5) }
	kLo, kHi := rank(LowPercentile), rank(HighPercentile)
	hi = float64(selectKth(vals, kHi))
	// selectKth leaves the values of rank below kHi in vals[:kHi].
	lo = float64(selectKth(vals[:kHi+1], kLo))
	return lo, hi
}

// selectKth partially sorts a so that a[k] is the value of rank k, with no
// greater value before it and no smaller one after, and returns a[k]
// (Hoare's selection with a median-of-three pivot).
func selectKth[T cmp.Ordered](a []T, k int) T {
	lo, hi := 0, len(a)-1
	for lo < hi {
		pivot := median3(a[lo], a[lo+(hi-lo)/2], a[hi])
		i, j := lo, hi
		for i <= j {
			for a[i] < pivot {
				i++
			}
			for a[j] > pivot {
				j--
			}
			if i <= j {
				a[i], a[j] = a[j], a[i]
				i++
				j--
			}
		}
		// Now a[lo..j] ≤ pivot, a[j+1..i-1] = pivot and a[i..hi] ≥ pivot.
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return a[k]
		}
	}
	return a[k]
}

// median3 returns the median of a, b and c.
func median3[T cmp.Ordered](a, b, c T) T {
	if a > b {
		a, b = b, a
	}
	if b > c {
		b = c
	}
	return max(a, b)
}

// viridis is matplotlib's viridis colour map (Stéfan van der Walt and
// Nathaniel J. Smith, CC0): its 256 entries as 8-bit R, G, B.
const viridis = "\x44\x01\x54\x44\x02\x56\x45\x04\x57\x45\x05\x59\x46\x07\x5a\x46" +
	"\x08\x5c\x46\x0a\x5d\x46\x0b\x5e\x47\x0d\x60\x47\x0e\x61\x47\x10" +
	"\x63\x47\x11\x64\x47\x13\x65\x48\x14\x67\x48\x16\x68\x48\x17\x69" +
	"\x48\x18\x6a\x48\x1a\x6c\x48\x1b\x6d\x48\x1c\x6e\x48\x1d\x6f\x48" +
	"\x1f\x70\x48\x20\x71\x48\x21\x73\x48\x23\x74\x48\x24\x75\x48\x25" +
	"\x76\x48\x26\x77\x48\x28\x78\x48\x29\x79\x47\x2a\x7a\x47\x2c\x7a" +
	"\x47\x2d\x7b\x47\x2e\x7c\x47\x2f\x7d\x46\x30\x7e\x46\x32\x7e\x46" +
	"\x33\x7f\x46\x34\x80\x45\x35\x81\x45\x37\x81\x45\x38\x82\x44\x39" +
	"\x83\x44\x3a\x83\x44\x3b\x84\x43\x3d\x84\x43\x3e\x85\x42\x3f\x85" +
	"\x42\x40\x86\x42\x41\x86\x41\x42\x87\x41\x44\x87\x40\x45\x88\x40" +
	"\x46\x88\x3f\x47\x88\x3f\x48\x89\x3e\x49\x89\x3e\x4a\x89\x3e\x4c" +
	"\x8a\x3d\x4d\x8a\x3d\x4e\x8a\x3c\x4f\x8a\x3c\x50\x8b\x3b\x51\x8b" +
	"\x3b\x52\x8b\x3a\x53\x8b\x3a\x54\x8c\x39\x55\x8c\x39\x56\x8c\x38" +
	"\x58\x8c\x38\x59\x8c\x37\x5a\x8c\x37\x5b\x8d\x36\x5c\x8d\x36\x5d" +
	"\x8d\x35\x5e\x8d\x35\x5f\x8d\x34\x60\x8d\x34\x61\x8d\x33\x62\x8d" +
	"\x33\x63\x8d\x32\x64\x8e\x32\x65\x8e\x31\x66\x8e\x31\x67\x8e\x31" +
	"\x68\x8e\x30\x69\x8e\x30\x6a\x8e\x2f\x6b\x8e\x2f\x6c\x8e\x2e\x6d" +
	"\x8e\x2e\x6e\x8e\x2e\x6f\x8e\x2d\x70\x8e\x2d\x71\x8e\x2c\x71\x8e" +
	"\x2c\x72\x8e\x2c\x73\x8e\x2b\x74\x8e\x2b\x75\x8e\x2a\x76\x8e\x2a" +
	"\x77\x8e\x2a\x78\x8e\x29\x79\x8e\x29\x7a\x8e\x29\x7b\x8e\x28\x7c" +
	"\x8e\x28\x7d\x8e\x27\x7e\x8e\x27\x7f\x8e\x27\x80\x8e\x26\x81\x8e" +
	"\x26\x82\x8e\x26\x82\x8e\x25\x83\x8e\x25\x84\x8e\x25\x85\x8e\x24" +
	"\x86\x8e\x24\x87\x8e\x23\x88\x8e\x23\x89\x8e\x23\x8a\x8d\x22\x8b" +
	"\x8d\x22\x8c\x8d\x22\x8d\x8d\x21\x8e\x8d\x21\x8f\x8d\x21\x90\x8d" +
	"\x21\x91\x8c\x20\x92\x8c\x20\x92\x8c\x20\x93\x8c\x1f\x94\x8c\x1f" +
	"\x95\x8b\x1f\x96\x8b\x1f\x97\x8b\x1f\x98\x8b\x1f\x99\x8a\x1f\x9a" +
	"\x8a\x1e\x9b\x8a\x1e\x9c\x89\x1e\x9d\x89\x1f\x9e\x89\x1f\x9f\x88" +
	"\x1f\xa0\x88\x1f\xa1\x88\x1f\xa1\x87\x1f\xa2\x87\x20\xa3\x86\x20" +
	"\xa4\x86\x21\xa5\x85\x21\xa6\x85\x22\xa7\x85\x22\xa8\x84\x23\xa9" +
	"\x83\x24\xaa\x83\x25\xab\x82\x25\xac\x82\x26\xad\x81\x27\xad\x81" +
	"\x28\xae\x80\x29\xaf\x7f\x2a\xb0\x7f\x2c\xb1\x7e\x2d\xb2\x7d\x2e" +
	"\xb3\x7c\x2f\xb4\x7c\x31\xb5\x7b\x32\xb6\x7a\x34\xb6\x79\x35\xb7" +
	"\x79\x37\xb8\x78\x38\xb9\x77\x3a\xba\x76\x3b\xbb\x75\x3d\xbc\x74" +
	"\x3f\xbc\x73\x40\xbd\x72\x42\xbe\x71\x44\xbf\x70\x46\xc0\x6f\x48" +
	"\xc1\x6e\x4a\xc1\x6d\x4c\xc2\x6c\x4e\xc3\x6b\x50\xc4\x6a\x52\xc5" +
	"\x69\x54\xc5\x68\x56\xc6\x67\x58\xc7\x65\x5a\xc8\x64\x5c\xc8\x63" +
	"\x5e\xc9\x62\x60\xca\x60\x63\xcb\x5f\x65\xcb\x5e\x67\xcc\x5c\x69" +
	"\xcd\x5b\x6c\xcd\x5a\x6e\xce\x58\x70\xcf\x57\x73\xd0\x56\x75\xd0" +
	"\x54\x77\xd1\x53\x7a\xd1\x51\x7c\xd2\x50\x7f\xd3\x4e\x81\xd3\x4d" +
	"\x84\xd4\x4b\x86\xd5\x49\x89\xd5\x48\x8b\xd6\x46\x8e\xd6\x45\x90" +
	"\xd7\x43\x93\xd7\x41\x95\xd8\x40\x98\xd8\x3e\x9b\xd9\x3c\x9d\xd9" +
	"\x3b\xa0\xda\x39\xa2\xda\x37\xa5\xdb\x36\xa8\xdb\x34\xaa\xdc\x32" +
	"\xad\xdc\x30\xb0\xdd\x2f\xb2\xdd\x2d\xb5\xde\x2b\xb8\xde\x29\xba" +
	"\xde\x28\xbd\xdf\x26\xc0\xdf\x25\xc2\xdf\x23\xc5\xe0\x21\xc8\xe0" +
	"\x20\xca\xe1\x1f\xcd\xe1\x1d\xd0\xe1\x1c\xd2\xe2\x1b\xd5\xe2\x1a" +
	"\xd8\xe2\x19\xda\xe3\x19\xdd\xe3\x18\xdf\xe3\x18\xe2\xe4\x18\xe5" +
	"\xe4\x19\xe7\xe4\x19\xea\xe5\x1a\xec\xe5\x1b\xef\xe5\x1c\xf1\xe5" +
	"\x1d\xf4\xe6\x1e\xf6\xe6\x20\xf8\xe6\x21\xfb\xe7\x23\xfd\xe7\x25"
