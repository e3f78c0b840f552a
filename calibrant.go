package saxs

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Calibrant is a powder or a layered crystal with known lattice spacings,
// whose rings on a detector frame fix the geometry (see [Calibrate]).
type Calibrant struct {
	// Name is the short name ("AgBh", "LaB6", ...), or the file name of a
	// user list.
	Name string
	// Source says where the spacings come from.
	Source string
	// D holds the lattice spacings in Å, decreasing, each once.
	D []float64
}

// calibrantMinD is the smallest spacing listed for the built-in
// calibrants, in Å: 2θ = 180° at λ = 1 Å is d = 0.5 Å.
const calibrantMinD = 0.5

// Lattice parameters of the built-in calibrants, in Å.
const (
	// AgBhD001 is the long spacing of silver behenate, 58.380 Å:
	// T. C. Huang, H. Toraya, T. N. Blanton, Y. Wu, "X-ray powder
	// diffraction analysis of silver behenate, a possible low-angle
	// diffraction standard", J. Appl. Cryst. 26 (1993) 180–184.
	AgBhD001 = 58.380
	// LaB6A is the cubic lattice parameter of LaB6 (Pm-3m), NIST SRM 660c
	// (certificate, 2014): a = 0.415 6826 nm at 22.5 °C.
	LaB6A = 4.156826
	// CeO2A is the cubic lattice parameter of CeO2 (fluorite, Fm-3m),
	// NIST SRM 674b (certificate): a = 0.541 1651 nm at 22.5 °C.
	CeO2A = 5.411651
	// SiA is the cubic lattice parameter of silicon (diamond, Fd-3m),
	// NIST SRM 640e (certificate, 2015): a = 0.543 1144 nm at 22.5 °C.
	SiA = 5.431144
	// Al2O3A and Al2O3C are the hexagonal lattice parameters of corundum
	// α-Al2O3 (R-3c, hexagonal axes), the phase of NIST SRM 676a: L.
	// Lutterotti, P. Scardi, J. Appl. Cryst. 23 (1990) 246–252
	// (Crystallography Open Database entry 1000032), a = 4.76050 Å,
	// c = 12.9956 Å.
	Al2O3A, Al2O3C = 4.76050, 12.9956
)

// Calibrants returns the built-in calibrants, a new copy on every call:
// AgBh (silver behenate, the orders 1..50 of d001 = [AgBhD001]), LaB6
// ([LaB6A], every reflection of the primitive cubic lattice), CeO2
// ([CeO2A], face-centred: h, k, l all even or all odd), Si ([SiA],
// diamond: all odd, or all even with h+k+l divisible by 4) and Al2O3
// (corundum, [Al2O3A], [Al2O3C]: the reflection conditions of R-3c,
// −h+k+l = 3n and l even when one of h, k, −h−k is 0). The crystals list
// every spacing down to 0.5 Å; reflections of the same spacing are listed
// once.
func Calibrants() []*Calibrant {
	agbh := make([]float64, 50)
	for n := range agbh {
		agbh[n] = AgBhD001 / float64(n+1)
	}
	return []*Calibrant{
		{Name: "AgBh", Source: "silver behenate, d001 = 58.380 Å (Huang et al., J. Appl. Cryst. 26 (1993) 180)", D: agbh},
		{Name: "LaB6", Source: "NIST SRM 660c, a = 4.156826 Å, Pm-3m", D: cubicSpacings(LaB6A, func(h, k, l int) bool { return true })},
		{Name: "CeO2", Source: "NIST SRM 674b, a = 5.411651 Å, Fm-3m", D: cubicSpacings(CeO2A, fccAllowed)},
		{Name: "Si", Source: "NIST SRM 640e, a = 5.431144 Å, Fd-3m", D: cubicSpacings(SiA, func(h, k, l int) bool {
			if !fccAllowed(h, k, l) {
				return false
			}
			return h%2 != 0 || (h+k+l)%4 == 0
		})},
		{Name: "Al2O3", Source: "corundum (NIST SRM 676a phase), a = 4.76050 Å, c = 12.9956 Å, R-3c (Lutterotti & Scardi, J. Appl. Cryst. 23 (1990) 246)", D: corundumSpacings(Al2O3A, Al2O3C)},
	}
}

// CalibrantByName returns the built-in calibrant of that name (case does
// not matter), or an error listing the names.
func CalibrantByName(name string) (*Calibrant, error) {
	var names []string
	for _, c := range Calibrants() {
		if strings.EqualFold(c.Name, name) {
			return c, nil
		}
		names = append(names, c.Name)
	}
	return nil, fmt.Errorf("saxs: unknown calibrant %q (built in: %s; or a file of d-spacings)", name, strings.Join(names, ", "))
}

// fccAllowed reports whether h, k, l are all even or all odd.
func fccAllowed(h, k, l int) bool { return (h%2 == 0) == (k%2 == 0) && (k%2 == 0) == (l%2 == 0) }

// cubicSpacings returns the distinct spacings a/sqrt(h²+k²+l²) ≥
// calibrantMinD of the reflections h ≥ k ≥ l ≥ 0 that allowed accepts,
// decreasing.
func cubicSpacings(a float64, allowed func(h, k, l int) bool) []float64 {
	hmax := int(a / calibrantMinD)
	seen := map[int]bool{}
	for h := 1; h <= hmax; h++ {
		for k := 0; k <= h; k++ {
			for l := 0; l <= k; l++ {
				n := h*h + k*k + l*l
				if float64(n) > (a/calibrantMinD)*(a/calibrantMinD) || !allowed(h, k, l) {
					continue
				}
				seen[n] = true
			}
		}
	}
	ns := make([]int, 0, len(seen))
	for n := range seen {
		ns = append(ns, n)
	}
	slices.Sort(ns)
	d := make([]float64, len(ns))
	for i, n := range ns {
		d[i] = a / math.Sqrt(float64(n))
	}
	return d
}

// corundumSpacings returns the distinct spacings ≥ calibrantMinD of the
// hexagonal lattice a, c under the reflection conditions of R-3c
// (obverse setting): −h+k+l = 3n, and l even for the reflections with one
// of h, k, i = −h−k zero. 1/d² = 4/3·(h²+hk+k²)/a² + l²/c².
func corundumSpacings(a, c float64) []float64 {
	hmax := int(2*a/(math.Sqrt(3)*calibrantMinD)) + 1
	lmax := int(c/calibrantMinD) + 1
	type key struct{ m, l int }
	seen := map[key]bool{}
	for h := -hmax; h <= hmax; h++ {
		for k := -hmax; k <= hmax; k++ {
			for l := 0; l <= lmax; l++ {
				if h == 0 && k == 0 && l == 0 {
					continue
				}
				if ((-h+k+l)%3+3)%3 != 0 {
					continue
				}
				if (h == 0 || k == 0 || h+k == 0) && l%2 != 0 {
					continue
				}
				m := h*h + h*k + k*k
				inv := 4.0/3*float64(m)/(a*a) + float64(l*l)/(c*c)
				if inv > 1/(calibrantMinD*calibrantMinD) {
					continue
				}
				seen[key{m, l}] = true
			}
		}
	}
	var d []float64
	for kk := range seen {
		d = append(d, 1/math.Sqrt(4.0/3*float64(kk.m)/(a*a)+float64(kk.l*kk.l)/(c*c)))
	}
	slices.Sort(d)
	slices.Reverse(d)
	return slices.CompactFunc(d, func(x, y float64) bool { return math.Abs(x-y) <= 1e-12*x })
}

// TwoTheta returns the full scattering angles 2θ in radians of the
// calibrant's rings at wavelength lambda (Å), in the order of D (so
// increasing), for the spacings that scatter at all (d > λ/2).
func (c *Calibrant) TwoTheta(lambda float64) []float64 {
	var t []float64
	for _, d := range c.D {
		s := lambda / (2 * d)
		if s >= 1 || !(s > 0) {
			break
		}
		t = append(t, 2*math.Asin(s))
	}
	return t
}

// maxCalibrantFile bounds a d-spacing file.
const maxCalibrantFile = 1 << 20

// ParseCalibrant reads a list of d-spacings in Å: one number per line;
// blank lines and text after '#' are ignored (so pyFAI's .D files read
// too). name names the calibrant and the source in errors. The spacings
// are sorted decreasing and duplicates dropped.
func ParseCalibrant(data []byte, name string) (*Calibrant, error) {
	c := &Calibrant{Name: name, Source: "d-spacings from " + name}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		t, _, _ := strings.Cut(sc.Text(), "#")
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		if f := strings.Fields(t); len(f) > 1 {
			return nil, &FormatError{File: name, Line: line, Msg: fmt.Sprintf("want one d-spacing in Å per line, got %q", t)}
		}
		d, err := strconv.ParseFloat(t, 64)
		if err != nil || !(d > 0) || math.IsInf(d, 0) {
			return nil, &FormatError{File: name, Line: line, Msg: fmt.Sprintf("d-spacing must be a positive number of Å, got %q", t)}
		}
		c.D = append(c.D, d)
	}
	if err := sc.Err(); err != nil {
		return nil, &FormatError{File: name, Offset: -1, Msg: "reading", Err: err}
	}
	if len(c.D) == 0 {
		return nil, &FormatError{File: name, Offset: -1, Msg: "no d-spacings"}
	}
	slices.Sort(c.D)
	slices.Reverse(c.D)
	c.D = slices.Compact(c.D)
	return c, nil
}

// ReadCalibrantFile reads a d-spacing file (see [ParseCalibrant]); the
// calibrant is named after the file.
func ReadCalibrantFile(path string) (*Calibrant, error) {
	data, err := readRegular(path, maxCalibrantFile, "d-spacing file")
	if err != nil {
		return nil, err
	}
	return ParseCalibrant(data, path)
}
