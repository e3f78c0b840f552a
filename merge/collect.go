package merge

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/saxsdog/saxs"
	"github.com/saxsdog/saxs/internal/pyjson"
)

// frameExts are the extensions of the frames CollectFrames reads.
var frameExts = map[string]bool{".tif": true, ".tiff": true, ".cbf": true, ".edf": true}

// pilatusTime is the time line of a Pilatus header, "# 2014-07-21T15:33:12.345".
var pilatusTime = regexp.MustCompile(`(?m)^#\s*(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?)`)

// HeaderTime returns the time stamp of a frame's header, read in loc: the
// Pilatus header line "# YYYY-MM-DDTHH:MM:SS.sss" of the description
// (millisecond resolution) or else the TIFF DateTime "YYYY:MM:DD HH:MM:SS".
// ok is false when there is neither.
func HeaderTime(img *saxs.Image, loc *time.Location) (t time.Time, ok bool) {
	if m := pilatusTime.FindStringSubmatch(img.Description); m != nil {
		if t, err := time.ParseInLocation("2006-01-02T15:04:05", m[1], loc); err == nil {
			return t, true
		}
	}
	if img.DateTime != "" {
		if t, err := time.ParseInLocation("2006:01:02 15:04:05", strings.TrimSpace(img.DateTime), loc); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// chiName splits a saxsdog .chi name into the frame's base name and the
// curve kind: x_cR1.chi gives x and R1, x.chi gives x and R0.
var chiName = regexp.MustCompile(`^(.*)_c([RS]\d+)\.chi$`)

func splitChi(name string) (base, kind string) {
	if m := chiName.FindStringSubmatch(name); m != nil {
		return m[1], m[2]
	}
	return strings.TrimSuffix(name, ".chi"), "R0"
}

// ChiParams returns the integral parameters of line 2 of a saxsdog 2.0
// .chi header ({"I0":..,"I1":..,"I2":..}, NaN allowed); ok is false for
// other layouts.
func ChiParams(c *saxs.ChiFile) (p saxs.IntegralParameters, ok bool) {
	if len(c.Header) < 2 {
		return p, false
	}
	v, err := pyjson.Decode([]byte(c.Header[1]))
	m, isMap := v.(map[string]any)
	if err != nil || !isMap {
		return p, false
	}
	num := func(k string) (float64, bool) {
		switch x := m[k].(type) {
		case float64:
			return x, true
		case json.Number:
			f, err := x.Float64()
			return f, err == nil
		}
		return math.NaN(), false
	}
	var ok0, ok1, ok2 bool
	p.I0, ok0 = num("I0")
	p.I1, ok1 = num("I1")
	p.I2, ok2 = num("I2")
	return p, ok0 && ok1 && ok2
}

// CollectFrames reads the header of every frame (.tif, .tiff, .cbf, .edf)
// below frameDir and the saxsdog .chi files below chiDir (none if ""); see
// CollectFramesChi.
func CollectFrames(frameDir, chiDir string, loc *time.Location, curves bool) (frames []*Frame, problems []error, err error) {
	var chis []string
	if chiDir != "" {
		err := filepath.WalkDir(chiDir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				problems = append(problems, err)
				return nil
			}
			if d.Type().IsRegular() && strings.HasSuffix(d.Name(), ".chi") {
				chis = append(chis, path)
			}
			return nil
		})
		if err != nil {
			return nil, problems, err
		}
	}
	frames, more, err := CollectFramesChi(context.Background(), frameDir, chis, loc, curves)
	return frames, append(problems, more...), err
}

// CollectFramesChi reads the header of every frame (.tif, .tiff, .cbf,
// .edf) below frameDir and the saxsdog .chi files chis (matched to the
// frames by base name: x.tif with x.chi, x_cR0.chi, x_cR1.chi, ...),
// giving each frame its time stamp (HeaderTime in loc), exposure and
// integral parameters, and with curves its curves. A frame or .chi file
// that cannot be read is returned in problems and left out (or without
// parameters); it does not stop the others. It stops with ctx's error
// when ctx ends.
func CollectFramesChi(ctx context.Context, frameDir string, chiPaths []string, loc *time.Location, curves bool) (frames []*Frame, problems []error, err error) {
	type chiRef struct{ path, kind string }
	chis := map[string][]chiRef{}
	for _, p := range chiPaths {
		b, k := splitChi(filepath.Base(p))
		chis[b] = append(chis[b], chiRef{p, k})
	}
	var paths []string
	err = filepath.WalkDir(frameDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			problems = append(problems, err)
			return nil
		}
		if d.Type().IsRegular() && frameExts[strings.ToLower(filepath.Ext(d.Name()))] {
			paths = append(paths, path)
		}
		return nil
	})
	if err != nil {
		return nil, problems, err
	}
	sort.Strings(paths)
	var img saxs.Image
	for _, path := range paths {
		if err := ctx.Err(); err != nil {
			return nil, problems, err
		}
		src, err := saxs.OpenFrames(path)
		if err != nil {
			problems = append(problems, fmt.Errorf("frame %s: %w", path, err))
			continue
		}
		if src.Len() != 1 {
			src.Close()
			problems = append(problems, fmt.Errorf("frame %s: %d frames in one file have no time stamps of their own, skipped", path, src.Len()))
			continue
		}
		err = src.ReadFrame(0, &img)
		info := src.Info(0)
		src.Close()
		if err != nil {
			problems = append(problems, fmt.Errorf("frame %s: %w", path, err))
			continue
		}
		f := &Frame{File: path, Exposure: info.ExposureTime, Params: map[string]saxs.IntegralParameters{}}
		if t, ok := HeaderTime(&img, loc); ok {
			f.Time = t
		} else {
			problems = append(problems, fmt.Errorf("frame %s: no time stamp (Pilatus date line or TIFF DateTime) in its header, skipped", path))
			continue
		}
		base := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
		seen := map[string]bool{}
		for _, c := range chis[base] {
			if seen[c.kind] {
				problems = append(problems, fmt.Errorf("frame %s: two .chi files of kind %s (%s); neither used", path, c.kind, c.path))
				delete(f.Params, c.kind)
				delete(f.Curves, c.kind)
				continue
			}
			seen[c.kind] = true
			cf, err := saxs.ReadChiFile(c.path)
			if err != nil {
				problems = append(problems, err)
				continue
			}
			if p, ok := ChiParams(cf); ok {
				f.Params[c.kind] = p
			}
			if curves {
				if f.Curves == nil {
					f.Curves = map[string]*saxs.ChiFile{}
				}
				f.Curves[c.kind] = cf
			}
		}
		frames = append(frames, f)
	}
	return frames, problems, nil
}
