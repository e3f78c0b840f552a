package web

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"path"
	"strings"
	"sync"

	"github.com/saxsdog/saxs"
	"github.com/saxsdog/saxs/internal/converter"
	"github.com/saxsdog/saxs/internal/pyjson"
	"github.com/saxsdog/saxs/merge"
	"github.com/saxsdog/saxs/network"
)

// routes registers the page and the JSON API.
func (s *Server) routes() {
	m := http.NewServeMux()
	files := http.FileServerFS(s.static)
	m.Handle("GET /", files)
	m.HandleFunc("GET /api/servers", s.handleServers)
	m.HandleFunc("GET /api/schema/{gen}", s.handleSchema)
	m.HandleFunc("GET /api/defaults/{gen}", s.handleDefaults)
	m.HandleFunc("POST /api/validate", s.handleValidate)
	m.HandleFunc("POST /api/convert/{gen}", s.handleConvert)
	m.HandleFunc("POST /api/fit2d", s.handleFit2D)
	m.HandleFunc("POST /api/mask", s.handleMask)
	m.HandleFunc("GET /api/calibrants", s.handleCalibrants)
	m.HandleFunc("POST /api/calibrate", s.handleCalibrate)
	m.HandleFunc("POST /api/calibrate/apply", s.handleApplyGeometry)
	m.HandleFunc("POST /api/server/{n}/new", s.handleNew)
	m.HandleFunc("POST /api/server/{n}/mergedata", s.handleMerge)
	m.HandleFunc("POST /api/server/{n}/{cmd}", s.handleCommand)
	m.HandleFunc("GET /api/server/{n}/events", s.handleEvents)
	s.mux = m
}

// writeJSON writes v as JSON (NaN and infinities as null).
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(browserValue(v))
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"encoding the reply failed"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b)
}

// apiError is the body of a failed API call.
type apiError struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, apiError{Error: err.Error()})
}

// browserValue returns v with every non-finite float64 replaced by nil,
// since JSON has no NaN; maps, slices and float slices are copied.
func browserValue(v any) any {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
		return x
	case []float64:
		out := make([]any, len(x))
		for i, f := range x {
			out[i] = browserValue(f)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = browserValue(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = browserValue(e)
		}
		return out
	}
	return v
}

// generation reads "2.0"/"2" or "0.3.0"/"1".
func generation(s string) (saxs.Generation, error) {
	switch s {
	case "2", "2.0", "nested":
		return saxs.Nested, nil
	case "1", "0.3.0", "flat":
		return saxs.Flat, nil
	}
	return 0, fmt.Errorf("unknown schema generation %q (2.0 or 0.3.0)", s)
}

// serverInfo is one entry of the server list, without its secret.
type serverInfo struct {
	Index  int    `json:"index"`
	Name   string `json:"name"`
	Server string `json:"server"`
	Feeder string `json:"feeder"`
	Online bool   `json:"online"`
	// Queue is the result of stat: "stat" with a queue, "no queue"…
	Queue string `json:"queue,omitempty"`
	Error string `json:"error,omitempty"`
}

// handleServers lists the configured servers, asking each for stat at once.
func (s *Server) handleServers(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.serverList(r.Context()))
}

// serverList asks every configured server for stat at once and lists them
// with their status.
func (s *Server) serverList(ctx context.Context) []serverInfo {
	es := s.cfg.NetConf.Entries
	out := make([]serverInfo, len(es))
	var wg sync.WaitGroup
	for i, e := range es {
		name := e.Name
		if name == "" {
			name = fmt.Sprintf("Server %d", i)
		}
		out[i] = serverInfo{Index: i, Name: name, Server: e.Server, Feeder: e.Feeder}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &network.Client{Addr: e.Server, Secret: e.Secret, Timeout: s.cfg.StatusTimeout}
			rep, err := c.Do(ctx, "stat", nil, nil)
			switch {
			case err != nil:
				out[i].Error = err.Error()
			case network.Failed(rep.Result):
				out[i].Online = true
				out[i].Error = (&network.FailedError{Reply: rep}).Error()
			default:
				out[i].Online = true
				out[i].Queue = rep.Result
				if st, ok := rep.Map()["stat"].(map[string]any); ok && len(st) == 0 {
					out[i].Queue = network.ResultNoQueue
				}
			}
		}()
	}
	wg.Wait()
	return out
}

func (s *Server) handleSchema(w http.ResponseWriter, r *http.Request) {
	g, err := generation(r.PathValue("gen"))
	if err != nil {
		writeError(w, http.StatusNotFound, err)
		return
	}
	w.Header().Set("Content-Type", "application/schema+json")
	w.Write(saxs.Schema(g))
}

func (s *Server) handleDefaults(w http.ResponseWriter, r *http.Request) {
	g, err := generation(r.PathValue("gen"))
	if err != nil {
		writeError(w, http.StatusNotFound, err)
		return
	}
	b, err := converter.DefaultDocument(g).Marshal()
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

// FieldError is one problem of a calibration: Path is the JSON pointer of
// the value it concerns ("/" for the whole document).
type FieldError struct {
	Path string `json:"path"`
	Msg  string `json:"msg"`
}

// Validation is the reply of /api/validate.
type Validation struct {
	OK         bool         `json:"ok"`
	Generation string       `json:"generation,omitempty"`
	Errors     []FieldError `json:"errors,omitempty"`
}

// validate checks a calibration text with saxs.ParseCalibration.
func validate(data []byte) Validation {
	cal, err := saxs.ParseCalibration(data, "calibration")
	if err == nil {
		return Validation{OK: true, Generation: cal.Generation().String()}
	}
	return Validation{Errors: fieldErrors(err)}
}

// fieldErrors flattens err into one FieldError per *saxs.CalibrationError
// (joined errors are walked), anything else at "/".
func fieldErrors(err error) []FieldError {
	var out []FieldError
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		var ce *saxs.CalibrationError
		if errors.As(e, &ce) {
			p := ce.Path
			if p == "" {
				p = "/"
			}
			out = append(out, FieldError{Path: p, Msg: ce.Msg})
			return
		}
		out = append(out, FieldError{Path: "/", Msg: e.Error()})
	}
	walk(err)
	return out
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Errorf("upload larger than %d bytes", mb.Limit))
		} else {
			writeError(w, http.StatusBadRequest, err)
		}
		return nil, false
	}
	return b, true
}

func (s *Server) handleValidate(w http.ResponseWriter, r *http.Request) {
	b, ok := readBody(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, validate(b))
}

// handleConvert converts a valid calibration to the other layout.
func (s *Server) handleConvert(w http.ResponseWriter, r *http.Request) {
	g, err := generation(r.PathValue("gen"))
	if err != nil {
		writeError(w, http.StatusNotFound, err)
		return
	}
	b, ok := readBody(w, r)
	if !ok {
		return
	}
	d, err := converter.ParseDocument(b, "calibration")
	if err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": "fix the calibration first", "errors": fieldErrors(err)})
		return
	}
	out, notes, err := d.Convert(g)
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, err)
		return
	}
	text, err := out.Marshal()
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"calibration": json.RawMessage(text), "notes": append([]string{}, notes...)})
}

// editTarget is the calibration being edited, in the body of a request
// that writes values into it (see editedDocument).
type editTarget struct {
	Calibration json.RawMessage `json:"calibration"`
	// Generation is the layout to start from when Calibration is not a
	// valid calibration ("2.0" when empty).
	Generation string `json:"generation"`
}

// fit2dRequest is the body of /api/fit2d.
type fit2dRequest struct {
	Text string `json:"text"`
	editTarget
}

// handleFit2D reads fit2d's refined values (saxsconverter's parser) and
// applies them to the calibration given, or to the schema defaults when
// that is not valid. The reply names the values found and missing.
func (s *Server) handleFit2D(w http.ResponseWriter, r *http.Request) {
	var req fit2dRequest
	if !decodeBody(w, r, &req) {
		return
	}
	v, err := converter.ParseFit2D(strings.NewReader(req.Text), "fit2d text")
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, err)
		return
	}
	doc, start, err := editedDocument(req.Generation, req.Calibration)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	doc.ApplyFit2D(v)
	text, err := doc.Marshal()
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"calibration": json.RawMessage(text), "found": append([]string{}, v.Found()...),
		"missing": append([]string{}, v.Missing()...), "start": start})
}

// editedDocument parses the calibration being edited (JSON, in the
// generation gen: "" for 2.0) for an endpoint that writes values into it.
// A calibration that does not parse is replaced by the generation's schema
// defaults; start says which of the two the result starts from. Only an
// unknown generation is an error.
func editedDocument(gen string, cal json.RawMessage) (*converter.Document, string, error) {
	g := saxs.Nested
	if gen != "" {
		var err error
		if g, err = generation(gen); err != nil {
			return nil, "", err
		}
	}
	if len(bytes.TrimSpace(cal)) > 0 && string(cal) != "null" {
		if doc, err := converter.ParseDocument(cal, "calibration"); err == nil && doc != nil {
			return doc, "the calibration being edited", nil
		}
	}
	return converter.DefaultDocument(g), "the " + g.String() + " schema defaults (the calibration being edited is not valid)", nil
}

func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	b, ok := readBody(w, r)
	if !ok {
		return false
	}
	if err := json.Unmarshal(b, v); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("request body: %w", err))
		return false
	}
	return true
}

// maskRequest is the body of /api/mask.
type maskRequest struct {
	Filename string `json:"filename"`
	Data     []byte `json:"data"` // base64 in JSON
	// Imagesize is the calibration's [rows, cols]; nil skips the check.
	Imagesize []int `json:"imagesize"`
}

// MaskInfo is the reply of /api/mask.
type MaskInfo struct {
	Rows   int    `json:"rows"`
	Cols   int    `json:"cols"`
	Masked int    `json:"masked"`
	PNG    string `json:"png"` // data: URL of the thumbnail
	// Fits is false when the mask is not Imagesize; Error says why.
	Fits  bool   `json:"fits"`
	Error string `json:"error,omitempty"`
}

// handleMask decodes a mask file and returns its thumbnail.
func (s *Server) handleMask(w http.ResponseWriter, r *http.Request) {
	var req maskRequest
	if !decodeBody(w, r, &req) {
		return
	}
	m, err := decodeMask(req.Data, path.Base(req.Filename))
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, fmt.Errorf("there seems to be a problem with the mask (check it in fit2d): %w", err))
		return
	}
	png, err := maskThumbnail(m, ThumbnailSize)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	info := MaskInfo{Rows: m.Rows, Cols: m.Cols, Masked: m.Count(), Fits: true,
		PNG: "data:image/png;base64," + base64.StdEncoding.EncodeToString(png)}
	if len(req.Imagesize) == 2 && (req.Imagesize[0] != m.Rows || req.Imagesize[1] != m.Cols) {
		info.Fits = false
		info.Error = fmt.Sprintf("the mask does not fit: it is %d × %d pixels (rows × columns) but the detector (Imagesize) is %d × %d",
			m.Rows, m.Cols, req.Imagesize[0], req.Imagesize[1])
	}
	writeJSON(w, http.StatusOK, info)
}

// decodeMask is the one call of the library's mask decoder.
func decodeMask(data []byte, name string) (*saxs.Mask, error) {
	return saxs.DecodeMask(data, name)
}

// reply is what the API returns for a server command: the server's
// result and data, NaN as null.
type reply struct {
	Result string `json:"result"`
	Data   any    `json:"data"`
	Failed bool   `json:"failed"`
	Error  string `json:"error,omitempty"`
}

func toReply(r *network.Reply) reply {
	out := reply{Result: r.Result, Data: r.Data, Failed: network.Failed(r.Result)}
	if out.Failed {
		out.Error = (&network.FailedError{Reply: r}).Error()
	}
	return out
}

// do sends one command and writes the reply; no answer is a 502.
func (s *Server) do(ctx context.Context, w http.ResponseWriter, n int, cmd string, arg network.Obj, atts [][]byte) {
	c, _, err := s.client(n)
	if err != nil {
		writeError(w, http.StatusNotFound, err)
		return
	}
	rep, err := c.Do(ctx, cmd, arg, atts)
	if err != nil {
		writeError(w, http.StatusBadGateway, err)
		return
	}
	writeJSON(w, http.StatusOK, toReply(rep))
}

// handleCommand sends get, stat, plot, readdir, close, abort, fileslist,
// getmergedata or listdir (body {"directory": [components]}).
func (s *Server) handleCommand(w http.ResponseWriter, r *http.Request) {
	n, err := serverIndex(r)
	if err != nil {
		writeError(w, http.StatusNotFound, err)
		return
	}
	cmd := r.PathValue("cmd")
	var arg network.Obj
	switch cmd {
	case "get", "stat", "plot", "readdir", "close", "abort", "fileslist", "getmergedata":
	case "listdir":
		var req struct {
			Directory []string `json:"directory"`
		}
		if !decodeBody(w, r, &req) {
			return
		}
		comps := []any{}
		for _, c := range req.Directory {
			if c != "" && c != "." {
				comps = append(comps, c)
			}
		}
		arg = network.Obj{"directory": comps}
	default:
		writeError(w, http.StatusNotFound, fmt.Errorf("unknown command %q", cmd))
		return
	}
	s.do(r.Context(), w, n, cmd, arg, nil)
}

// newRequest is the body of /api/server/{n}/new.
type newRequest struct {
	Calibration json.RawMessage `json:"calibration"`
	// Masks are the mask files in the order of the calibration's Masks
	// (one for a 0.3.0 calibration).
	Masks []struct {
		Filename string `json:"filename"`
		Data     []byte `json:"data"`
	} `json:"masks"`
	// Directory is the queue folder of a 0.3.0 calibration (components).
	Directory []string `json:"directory"`
}

// handleNew validates the calibration and starts a queue with it.
func (s *Server) handleNew(w http.ResponseWriter, r *http.Request) {
	n, err := serverIndex(r)
	if err != nil {
		writeError(w, http.StatusNotFound, err)
		return
	}
	var req newRequest
	if !decodeBody(w, r, &req) {
		return
	}
	cal, err := saxs.ParseCalibration(req.Calibration, "calibration")
	if err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": "the calibration is not valid", "errors": fieldErrors(err)})
		return
	}
	v, err := pyjson.Decode(req.Calibration)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	want := len(cal.Masks)
	if len(req.Masks) != want {
		writeError(w, http.StatusUnprocessableEntity, fmt.Errorf("the calibration has %d masks but %d mask files were given: upload the mask of each", want, len(req.Masks)))
		return
	}
	atts := make([][]byte, len(req.Masks))
	for i, m := range req.Masks {
		if _, err := decodeMask(m.Data, path.Base(m.Filename)); err != nil {
			writeError(w, http.StatusUnprocessableEntity, fmt.Errorf("mask %d: %w", i, err))
			return
		}
		if atts[i], err = network.FileAttachment(m.Filename, m.Data); err != nil {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
	}
	arg := network.Obj{"calibration": v, "data": network.Obj{}}
	if cal.Generation() == saxs.Flat { // the 0.3.0 form: calibration and directory (as network.LoadNewFlat)
		arg = network.Obj{"calibration": v}
		comps := []any{}
		for _, c := range req.Directory {
			if c != "" && c != "." {
				comps = append(comps, c)
			}
		}
		if len(comps) == 0 {
			comps = []any{"."}
		}
		arg["directory"] = comps
	}
	s.do(r.Context(), w, n, "new", arg, atts)
}

// mergeRequest is the body of /api/server/{n}/mergedata: the data
// consolidation configuration and the log files picked in the page, each
// sent for the table file whose LocalPath is its filename.
type mergeRequest struct {
	MergeConf json.RawMessage `json:"mergeconf"`
	Logs      []struct {
		Filename string `json:"filename"`
		Data     string `json:"data"`
	} `json:"logs"`
}

// handleMerge checks the configuration and sends mergedata with the logs
// attached as the original leash attaches them (raw text).
func (s *Server) handleMerge(w http.ResponseWriter, r *http.Request) {
	n, err := serverIndex(r)
	if err != nil {
		writeError(w, http.StatusNotFound, err)
		return
	}
	var req mergeRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if _, err := merge.ParseConfig(req.MergeConf, "configuration"); err != nil {
		writeError(w, http.StatusUnprocessableEntity, err)
		return
	}
	conf, err := pyjson.Decode(req.MergeConf)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	var atts [][]byte
	for _, l := range req.Logs {
		a, err := pyjson.Marshal(map[string]any{"filename": l.Filename, "data": l.Data})
		if err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		atts = append(atts, a)
	}
	s.do(r.Context(), w, n, "mergedata", network.Obj{"mergeconf": conf}, atts)
}
