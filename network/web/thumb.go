package web

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/png"

	"github.com/saxsdog/saxs"
)

// ThumbnailSize is the longer side of a mask thumbnail in pixels.
const ThumbnailSize = 240

// maskThumbnail draws m scaled to fit size × size pixels (never enlarged
// more than 4 times): masked pixels dark red, the others light grey, a
// thumbnail pixel covering both blended by the masked fraction. Row 0 is
// at the top, as in render.FramePNG.
func maskThumbnail(m *saxs.Mask, size int) ([]byte, error) {
	if m.Rows <= 0 || m.Cols <= 0 || len(m.Masked) != m.Rows*m.Cols {
		return nil, errors.New("empty mask")
	}
	scale := float64(size) / float64(max(m.Rows, m.Cols))
	scale = min(scale, 4)
	w, h := max(1, int(float64(m.Cols)*scale)), max(1, int(float64(m.Rows)*scale))
	pal := make(color.Palette, 17)
	free, masked := [3]float64{226, 230, 236}, [3]float64{200, 30, 60}
	for i := range pal {
		f := float64(i) / 16
		pal[i] = color.RGBA{uint8(free[0] + f*(masked[0]-free[0])), uint8(free[1] + f*(masked[1]-free[1])),
			uint8(free[2] + f*(masked[2]-free[2])), 255}
	}
	out := image.NewPaletted(image.Rect(0, 0, w, h), pal)
	for y := range h {
		r0, r1 := y*m.Rows/h, max((y+1)*m.Rows/h, y*m.Rows/h+1)
		for x := range w {
			c0, c1 := x*m.Cols/w, max((x+1)*m.Cols/w, x*m.Cols/w+1)
			n, k := 0, 0
			for r := r0; r < r1; r++ {
				row := m.Masked[r*m.Cols : (r+1)*m.Cols]
				for c := c0; c < c1; c++ {
					n++
					if row[c] {
						k++
					}
				}
			}
			out.Pix[y*out.Stride+x] = uint8((k*16 + n/2) / n)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, out); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
