package web

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/saxsdog/saxs"
	"github.com/saxsdog/saxs/internal/render"
)

// DefaultCalibrateTimeout bounds one calibration of the Calibrate tab.
const DefaultCalibrateTimeout = time.Minute

// maxDSpacingText bounds a custom list of d-spacings.
const maxDSpacingText = 1 << 20

// calibrateFunc is the signature of saxs.Calibrate (a Server field, so
// that a test can make it fail).
type calibrateFunc func(ctx context.Context, img *saxs.Image, o saxs.CalibrateOptions) (*saxs.CalibrationResult, error)

// CalibrantInfo is one entry of /api/calibrants.
type CalibrantInfo struct {
	Name   string  `json:"name"`
	Source string  `json:"source"`
	N      int     `json:"n"`    // number of spacings
	DMax   float64 `json:"dmax"` // the largest spacing, Å
}

// handleCalibrants lists saxs.Calibrants.
func (s *Server) handleCalibrants(w http.ResponseWriter, r *http.Request) {
	out := []CalibrantInfo{}
	for _, c := range saxs.Calibrants() {
		out = append(out, CalibrantInfo{Name: c.Name, Source: c.Source, N: len(c.D), DMax: c.D[0]})
	}
	writeJSON(w, http.StatusOK, out)
}

// uploadedFile is a file picked in the page.
type uploadedFile struct {
	Filename string `json:"filename"`
	Data     []byte `json:"data"` // base64 in JSON
}

// calibrateRequest is the body of /api/calibrate.
type calibrateRequest struct {
	// Frame is the calibrant frame: TIFF, CBF, EDF or HDF5 (its first
	// frame is used).
	Frame uploadedFile `json:"frame"`
	// Calibrant is a built-in calibrant's name; DSpacings, when not
	// blank, is a custom list instead (one d in Å per line, as a
	// d-spacing file), named DSpacingsName.
	Calibrant     string `json:"calibrant"`
	DSpacings     string `json:"dspacings"`
	DSpacingsName string `json:"dspacingsName"`
	// Wavelength (Å) and PixelSize (µm); 0: the frame header's.
	Wavelength float64 `json:"wavelength"`
	PixelSize  float64 `json:"pixelSize"`
	// DistanceMM and BeamCenter ([y from the bottom, x], pixels) are
	// optional start values (0 and empty: found from the rings).
	DistanceMM float64   `json:"distanceMM"`
	BeamCenter []float64 `json:"beamCenter"`
	// RefineWavelength also refines the wavelength.
	RefineWavelength bool `json:"refineWavelength"`
	// Mask is the mask file of the calibration being edited, if any.
	Mask *uploadedFile `json:"mask"`
}

// jsonNum is a float64 that is null in JSON when it is not finite.
type jsonNum float64

// MarshalJSON writes the number, or null for NaN and ±Inf.
func (f jsonNum) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

// Uncertainty is one standard deviation of each refined value; null
// where undefined (the tilt plane rotation at zero tilt), 0 for values
// not refined.
type Uncertainty struct {
	DistanceMM   jsonNum    `json:"distanceMM"`
	BeamCenter   [2]jsonNum `json:"beamCenter"`
	TiltAngleDeg jsonNum    `json:"tiltAngleDeg"`
	TiltRotDeg   jsonNum    `json:"tiltRotDeg"`
	Wavelength   jsonNum    `json:"wavelength"`
}

// RingResidual is the fit of one calibrant ring.
type RingResidual struct {
	Ring        int     `json:"ring"` // 1 for the calibrant's largest spacing
	D           jsonNum `json:"d"`    // Å
	TwoThetaDeg jsonNum `json:"twoThetaDeg"`
	Points      int     `json:"points"`
	RMSDeg      jsonNum `json:"rmsDeg"` // RMS Δ2θ, degrees
}

// CalibrateReply is the reply of /api/calibrate.
type CalibrateReply struct {
	Frame     string `json:"frame"`
	Calibrant string `json:"calibrant"`
	// Geometry is the fitted geometry (the calibration's Geometry
	// object: BeamCenter [y from the bottom, x], fit2d tilt).
	Geometry   saxs.Geometry  `json:"geometry"`
	Wavelength float64        `json:"wavelength"`
	Sigma      Uncertainty    `json:"sigma"`
	Rings      []RingResidual `json:"rings"`
	RMSDeg     jsonNum        `json:"rmsDeg"`
	Points     int            `json:"points"` // control points of the fit
	Iterations int            `json:"iterations"`
	Seconds    float64        `json:"seconds"`
	// Notes say where values came from (the frame header).
	Notes []string `json:"notes"`
	// PNG is a data: URL of the frame with the fitted rings (red) and the
	// control points (white).
	PNG string `json:"png"`
	// Poni is the geometry as a pyFAI .poni file.
	Poni string `json:"poni"`
}

// calibrateProblem is a refused calibration: the HTTP status and the
// message.
type calibrateProblem struct {
	status int
	stage  string
	err    error
}

func (p *calibrateProblem) Error() string { return p.err.Error() }
func (p *calibrateProblem) Unwrap() error { return p.err }

func problem(status int, stage string, format string, a ...any) *calibrateProblem {
	return &calibrateProblem{status: status, stage: stage, err: fmt.Errorf(format, a...)}
}

// handleCalibrate finds the geometry of an uploaded calibrant frame with
// saxs.Calibrate, one calibration at a time, bounded by the request and
// CalibrateTimeout. Refusals are JSON errors with the stage that failed
// ("request", "frame", "mask", "options", "centre", "rings", "fit",
// "time"); a panic is a 500 with the message (ServeHTTP), not a broken
// connection.
func (s *Server) handleCalibrate(w http.ResponseWriter, r *http.Request) {
	var req calibrateRequest
	if !decodeBody(w, r, &req) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.CalibrateTimeout)
	defer cancel()
	select { // one calibration at a time: each keeps the cores busy
	case s.calibrating <- struct{}{}:
		defer func() { <-s.calibrating }()
	case <-ctx.Done():
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"stage": "time",
			"error": "another calibration kept this leash busy: try again"})
		return
	}
	rep, err := s.calibrate(ctx, &req)
	if err != nil {
		var p *calibrateProblem
		if !errors.As(err, &p) {
			p = &calibrateProblem{status: http.StatusInternalServerError, stage: "internal", err: err}
		}
		s.log.Warn("calibrate", "frame", req.Frame.Filename, "stage", p.stage, "err", p.err)
		writeJSON(w, p.status, map[string]any{"error": p.err.Error(), "stage": p.stage})
		return
	}
	s.log.Info("calibrate", "frame", req.Frame.Filename, "calibrant", rep.Calibrant, "distance_mm", rep.Geometry.DetectorDistanceMM,
		"rms_deg", float64(rep.RMSDeg), "seconds", rep.Seconds)
	writeJSON(w, http.StatusOK, rep)
}

// calibrate checks the request, reads the frame and the mask, calibrates
// and draws the result.
func (s *Server) calibrate(ctx context.Context, req *calibrateRequest) (*CalibrateReply, error) {
	const bad = http.StatusUnprocessableEntity
	name := path.Base(strings.ReplaceAll(req.Frame.Filename, `\`, "/"))
	if req.Frame.Filename == "" {
		name = "frame"
	}
	if len(req.Frame.Data) == 0 {
		return nil, problem(http.StatusBadRequest, "request", "no calibrant frame uploaded: pick the frame file")
	}
	var cal *saxs.Calibrant
	var err error
	if strings.TrimSpace(req.DSpacings) != "" {
		if len(req.DSpacings) > maxDSpacingText {
			return nil, problem(bad, "options", "the d-spacing list is longer than %d bytes", maxDSpacingText)
		}
		dn := path.Base(strings.ReplaceAll(req.DSpacingsName, `\`, "/"))
		if req.DSpacingsName == "" {
			dn = "custom d-spacings"
		}
		if cal, err = saxs.ParseCalibrant([]byte(req.DSpacings), dn); err != nil {
			return nil, problem(bad, "options", "the d-spacing list: %w", err)
		}
	} else if cal, err = saxs.CalibrantByName(req.Calibrant); err != nil {
		return nil, problem(bad, "options", "%w", err)
	}
	for _, v := range []struct {
		name string
		v    float64
	}{{"wavelength", req.Wavelength}, {"pixel size", req.PixelSize}, {"start distance", req.DistanceMM}} {
		if !(v.v >= 0) || math.IsInf(v.v, 0) {
			return nil, problem(bad, "options", "the %s must be a positive number (or empty), got %g", v.name, v.v)
		}
	}
	start := saxs.CalibrateStart{DistanceMM: req.DistanceMM}
	switch len(req.BeamCenter) {
	case 0:
	case 2:
		for _, v := range req.BeamCenter {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, problem(bad, "options", "the start beam centre must be two numbers [y, x] in pixels")
			}
		}
		start.BeamCenter, start.HasCenter = [2]float64{req.BeamCenter[0], req.BeamCenter[1]}, true
	default:
		return nil, problem(bad, "options", "the start beam centre must be two numbers [y, x] in pixels, got %d", len(req.BeamCenter))
	}

	img, hdr, err := decodeFrame(req.Frame.Data, name)
	if err != nil {
		return nil, problem(bad, "frame", "the frame %s cannot be read (TIFF, CBF, EDF or HDF5 are): %w", name, err)
	}
	var notes []string
	wl, px := req.Wavelength, req.PixelSize
	if wl == 0 {
		if wl = hdr.Wavelength; !(wl > 0) {
			return nil, problem(bad, "options", "give the wavelength: the header of %s has none", name)
		}
		notes = append(notes, fmt.Sprintf("wavelength %g Å from the header of %s", wl, name))
	}
	if px == 0 {
		if px = hdr.PixelSize[0] * 1e6; !(px > 0) {
			return nil, problem(bad, "options", "give the pixel size: the header of %s has none", name)
		}
		notes = append(notes, fmt.Sprintf("pixel size %g µm from the header of %s", px, name))
	}
	var mask *saxs.Mask
	if req.Mask != nil && len(req.Mask.Data) > 0 {
		mn := path.Base(strings.ReplaceAll(req.Mask.Filename, `\`, "/"))
		if mask, err = decodeMask(req.Mask.Data, mn); err != nil {
			return nil, problem(bad, "mask", "the mask %s: %w", mn, err)
		}
		if mask.Rows != img.Rows || mask.Cols != img.Cols {
			return nil, problem(bad, "mask", "the mask %s is %d × %d pixels (rows × columns) but the frame %d × %d: upload the mask of this detector or none",
				mn, mask.Rows, mask.Cols, img.Rows, img.Cols)
		}
		notes = append(notes, fmt.Sprintf("mask %s: %d pixels masked", mn, mask.Count()))
	}

	t0 := time.Now()
	res, err := s.calibrateFn(ctx, img, saxs.CalibrateOptions{Calibrant: cal, Wavelength: wl, PixelSize: px, Mask: mask,
		Start: start, RefineWavelength: req.RefineWavelength})
	el := time.Since(t0)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, problem(http.StatusGatewayTimeout, "time", "the calibration took longer than %v and was stopped: give the start distance or beam centre to narrow the search",
				s.cfg.CalibrateTimeout)
		}
		if errors.Is(err, context.Canceled) {
			return nil, problem(http.StatusServiceUnavailable, "time", "the calibration was cancelled")
		}
		stage := "fit"
		var ce *saxs.CalibrateError
		if errors.As(err, &ce) {
			stage = ce.Stage
		}
		return nil, &calibrateProblem{status: bad, stage: stage,
			err: fmt.Errorf("no geometry from %s with %s at %g Å, %g µm: %w", name, cal.Name, wl, px, err)}
	}
	var pic bytes.Buffer
	if err := render.CalibrationPNG(&pic, img, mask, res); err != nil {
		return nil, fmt.Errorf("drawing the rings: %w", err)
	}
	c := &saxs.Calibration{}
	res.ApplyTo(c)
	var poni bytes.Buffer
	if err := saxs.PoniFromCalibration(c).Write(&poni); err != nil {
		return nil, fmt.Errorf("the .poni: %w", err)
	}
	sg := res.Sigma
	rep := &CalibrateReply{Frame: name, Calibrant: cal.Name, Geometry: res.Geometry, Wavelength: res.Wavelength,
		Sigma: Uncertainty{DistanceMM: jsonNum(sg.DistanceMM), BeamCenter: [2]jsonNum{jsonNum(sg.BeamCenter[0]), jsonNum(sg.BeamCenter[1])},
			TiltAngleDeg: jsonNum(sg.TiltAngleDeg), TiltRotDeg: jsonNum(sg.TiltRotDeg), Wavelength: jsonNum(sg.Wavelength)},
		Rings: []RingResidual{}, RMSDeg: jsonNum(res.RMSDeg), Points: len(res.Points), Iterations: res.Iterations,
		Seconds: el.Seconds(), Notes: append([]string{}, notes...),
		PNG:  "data:image/png;base64," + base64.StdEncoding.EncodeToString(pic.Bytes()),
		Poni: poni.String()}
	for _, rg := range res.Rings {
		rep.Rings = append(rep.Rings, RingResidual{Ring: rg.Ring + 1, D: jsonNum(rg.D), TwoThetaDeg: jsonNum(rg.TwoThetaDeg),
			Points: rg.Points, RMSDeg: jsonNum(rg.RMSDeg)})
	}
	return rep, nil
}

// decodeFrame reads the first frame of an uploaded detector file and its
// header; HDF5, which the library reads from files only, goes through a
// temporary file that is removed at once.
func decodeFrame(data []byte, name string) (*saxs.Image, saxs.FrameInfo, error) {
	var src saxs.FrameSource
	var err error
	if saxs.DetectFormat(data, name) == saxs.FormatHDF5 {
		f, terr := os.CreateTemp("", "saxsleash-calibrate-*.h5")
		if terr != nil {
			return nil, saxs.FrameInfo{}, terr
		}
		defer os.Remove(f.Name())
		_, werr := f.Write(data)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return nil, saxs.FrameInfo{}, werr
		}
		if src, err = saxs.OpenFrames(f.Name()); err != nil { // named as uploaded, not by the temporary path
			return nil, saxs.FrameInfo{}, errors.New(strings.ReplaceAll(err.Error(), f.Name(), name))
		}
	} else {
		src, err = saxs.OpenFramesBytes(data, name)
	}
	if err != nil {
		return nil, saxs.FrameInfo{}, err
	}
	defer src.Close()
	if src.Len() == 0 {
		return nil, saxs.FrameInfo{}, errors.New("the file holds no frame")
	}
	var img saxs.Image
	if err := src.ReadFrame(0, &img); err != nil {
		return nil, saxs.FrameInfo{}, err
	}
	return &img, src.Info(0), nil
}

// applyRequest is the body of /api/calibrate/apply.
type applyRequest struct {
	editTarget
	Geometry   saxs.Geometry `json:"geometry"`
	Wavelength float64       `json:"wavelength"`
}

// handleApplyGeometry writes a fitted geometry (distance, beam centre,
// tilt, Imagesize, pixel size) and wavelength into the calibration being
// edited, or into the schema defaults when that is not valid, in its own
// layout; the rest of the calibration is kept.
func (s *Server) handleApplyGeometry(w http.ResponseWriter, r *http.Request) {
	var req applyRequest
	if !decodeBody(w, r, &req) {
		return
	}
	g := req.Geometry
	finite := func(v ...float64) bool {
		for _, x := range v {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return false
			}
		}
		return true
	}
	if !(g.DetectorDistanceMM > 0) || !(req.Wavelength > 0) || g.Imagesize[0] <= 0 || g.Imagesize[1] <= 0 ||
		!finite(g.DetectorDistanceMM, req.Wavelength, g.BeamCenter[0], g.BeamCenter[1], g.Tilt.TiltAngleDeg, g.Tilt.TiltRotDeg) {
		writeError(w, http.StatusUnprocessableEntity, errors.New("not a fitted geometry: run the calibration first"))
		return
	}
	for _, p := range g.PixelSizeMicroM {
		if !(p > 0) || !finite(p) {
			writeError(w, http.StatusUnprocessableEntity, fmt.Errorf("pixel size %g µm: not a fitted geometry", p))
			return
		}
	}
	doc, start, err := editedDocument(req.Generation, req.Calibration)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	doc.SetGeometry(g, req.Wavelength)
	text, err := doc.Marshal()
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"calibration": json.RawMessage(text), "start": start})
}
