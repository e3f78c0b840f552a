package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/saxsdog/saxs/network"
)

// MaxSeries is the number of latest points of each integral-parameter
// series sent to the page.
const MaxSeries = 2000

// RateWindow is the span of the rate history sent to the page, in seconds
// (the server keeps the finish times of the last 100 s).
const RateWindow = 100

// fileslistEvery is how often the watcher asks for the file lists (the
// failed frames); the "files" event is sent when they changed.
const fileslistEvery = 5 * time.Second

// serversEvery is how often the watcher checks all configured servers
// and sends the "servers" event when their status changed.
const serversEvery = 5 * time.Second

// Status is the "status" event: whether the server answers.
type Status struct {
	Online bool   `json:"online"`
	Queue  bool   `json:"queue"`
	Error  string `json:"error,omitempty"`
}

// Floats is a list of numbers that encodes NaN and infinities as null.
type Floats []float64

// MarshalJSON writes the numbers, non-finite ones as null.
func (f Floats) MarshalJSON() ([]byte, error) {
	if f == nil {
		return []byte("null"), nil
	}
	b := make([]byte, 0, 2+len(f)*12)
	b = append(b, '[')
	for i, x := range f {
		if i > 0 {
			b = append(b, ',')
		}
		if math.IsNaN(x) || math.IsInf(x, 0) {
			b = append(b, "null"...)
		} else {
			b = strconv.AppendFloat(b, x, 'g', -1, 64)
		}
	}
	return append(b, ']'), nil
}

// Curve is one curve of the "plot" event.
type Curve struct {
	Name  string `json:"name"`
	Q     Floats `json:"q"`
	I     Floats `json:"i"`
	Sigma Floats `json:"sigma,omitempty"`
	// XLabel is the label of the x axis of a slice (q_y or q_z), from the
	// graph's columnLabels; empty for a radial curve.
	XLabel string `json:"xlabel,omitempty"`
}

// Params is the integral-parameter series of one curve (the latest
// MaxSeries frames): I0, I1, I2 and the frame numbers (counted from 1).
type Params struct {
	Frame []int  `json:"frame"`
	I0    Floats `json:"I0"`
	I1    Floats `json:"I1"`
	I2    Floats `json:"I2"`
	File  string `json:"last"`
}

// Plot is the "plot" event: the latest frame's curves, the rate history
// (frames finished per second over the last RateWindow seconds, oldest
// first) and the integral parameters per curve.
type Plot struct {
	Filename string  `json:"filename"`
	Curves   []Curve `json:"curves"`
	// Slices are the GISAXS slices of the frame (the graphs of kind
	// "Slice"), shown in a chart of their own; none without slices.
	Slices []Curve           `json:"slices,omitempty"`
	Rate   []int             `json:"rate"`
	Params map[string]Params `json:"params"`
}

// Files is the "files" event: the number of files written per curve and
// the frames that failed (the latest 500).
type Files struct {
	Counts map[string]int `json:"counts"`
	Failed []string       `json:"failed"`
	// FailedTotal counts all failed frames.
	FailedTotal int `json:"failedTotal"`
}

// emitter takes the events of a watch.
type emitter interface {
	send(event string, v any) error
}

// handleEvents streams the state of one server: status, stat (once a
// second), plot (when "images processed" changes), files, calibration
// ("start time" changed) and servers. All streams of one server share one
// watch (see hub); a slow page gets only the latest event of each kind.
// The stream ends when the page goes away.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	n, err := serverIndex(r)
	if err != nil {
		writeError(w, http.StatusNotFound, err)
		return
	}
	if _, _, err := s.client(n); err != nil {
		writeError(w, http.StatusNotFound, err)
		return
	}
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		return
	}
	sub := s.subscribe(n)
	defer s.unsubscribe(n, sub)
	for {
		select {
		case <-r.Context().Done():
			return
		case <-sub.notify:
		}
		for _, e := range sub.take() {
			if err := rc.SetWriteDeadline(time.Now().Add(10 * time.Second)); err != nil && !errors.Is(err, http.ErrNotSupported) {
				return
			}
			if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", e.name, e.data); err != nil {
				return
			}
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

// watcher is the state of the watch of one server.
type watcher struct {
	status    *Status
	processed any
	startTime any
	lastFiles time.Time
	nextPlot  time.Time // no plot fetch before
	files     string
	servers   string
}

// watch polls c until ctx ends or a write fails. The status of all
// servers is checked by a second goroutine, every serversEvery, which
// ends with watch.
func (s *Server) watch(ctx context.Context, c *network.Client, ev emitter) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	lists := make(chan []serverInfo)
	done := make(chan struct{})
	defer func() { <-done }()
	go func() {
		defer close(done)
		for {
			list := s.serverList(ctx)
			select {
			case lists <- list:
			case <-ctx.Done():
				return
			}
			select {
			case <-time.After(serversEvery):
			case <-ctx.Done():
				return
			}
		}
	}()
	var st watcher
	t := time.NewTicker(s.cfg.Poll)
	defer t.Stop()
	if err := s.poll(ctx, c, ev, &st); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case list := <-lists:
			b, _ := json.Marshal(list)
			if string(b) != st.servers {
				st.servers = string(b)
				if err := ev.send("servers", list); err != nil {
					return err
				}
			}
		case <-t.C:
			if err := s.poll(ctx, c, ev, &st); err != nil {
				return err
			}
		}
	}
}

func (s *Server) setStatus(ev emitter, w *watcher, now Status) error {
	if w.status != nil && *w.status == now {
		return nil
	}
	w.status = &now
	return ev.send("status", now)
}

// poll does one round: stat, and plot and fileslist when they changed.
func (s *Server) poll(ctx context.Context, c *network.Client, ev emitter, w *watcher) error {
	sc := *c // stat is small: an offline server is noticed after StatusTimeout
	sc.Timeout = min(c.Timeout, s.cfg.StatusTimeout)
	rep, err := sc.Do(ctx, "stat", nil, nil)
	if ctx.Err() != nil {
		return nil
	}
	if err != nil {
		return s.setStatus(ev, w, Status{Error: err.Error()})
	}
	if network.Failed(rep.Result) {
		return s.setStatus(ev, w, Status{Online: true, Error: (&network.FailedError{Reply: rep}).Error()})
	}
	stat, _ := rep.Map()["stat"].(map[string]any)
	queue := len(stat) > 0
	if err := s.setStatus(ev, w, Status{Online: true, Queue: queue}); err != nil {
		return err
	}
	if err := ev.send("stat", map[string]any{"stat": stat}); err != nil {
		return err
	}
	if !queue {
		return nil
	}
	if stt := stat["start time"]; fmt.Sprint(stt) != fmt.Sprint(w.startTime) {
		w.startTime = stt
		if err := ev.send("calibration", map[string]any{"startTime": stt}); err != nil {
			return err
		}
	}
	proc := stat["images processed"]
	if fmt.Sprint(proc) != fmt.Sprint(w.processed) && !time.Now().Before(w.nextPlot) {
		w.processed = proc
		if num(proc) > 0 {
			// The plot reply carries the integral parameters of the whole
			// queue and grows with it (100 000 frames: 7.7 MB, 0.29 s to
			// decode): after a fetch that took d, the next waits 3·d, so
			// the plots take at most a quarter of a core.
			t0 := time.Now()
			prep, err := c.Do(ctx, "plot", nil, nil)
			w.nextPlot = time.Now().Add(3 * time.Since(t0))
			if err == nil && prep.Result == network.ResultPlot {
				if err := ev.send("plot", compactPlot(prep.Map(), num(stat["time"]))); err != nil {
					return err
				}
			}
		}
	}
	if time.Since(w.lastFiles) >= fileslistEvery {
		w.lastFiles = time.Now()
		frep, err := c.Do(ctx, "fileslist", nil, nil)
		if err == nil && frep.Result == network.ResultFileslist {
			fl, _ := frep.Map()["fileslist"].(map[string]any)
			files := compactFiles(fl)
			b, _ := json.Marshal(files)
			if string(b) != w.files {
				w.files = string(b)
				if err := ev.send("files", files); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// num reads a JSON number as float64 (NaN when it is none).
func num(v any) float64 {
	if f, ok := network.Number(v); ok {
		return f
	}
	return math.NaN()
}

func numbers(v any) Floats {
	l, _ := v.([]any)
	out := make([]float64, len(l))
	for i, x := range l {
		out[i] = num(x)
	}
	return out
}

// compactPlot turns a plot reply into the Plot event; now is the server's
// time (seconds), the end of the rate window.
func compactPlot(d map[string]any, now float64) Plot {
	p := Plot{Params: map[string]Params{}}
	p.Filename, _ = d["filename"].(string)
	graphs, _ := d["graphs"].([]any)
	for i, g := range graphs {
		gm, _ := g.(map[string]any)
		arr, _ := gm["array"].([]any)
		if kind, _ := gm["kind"].(string); kind == "Slice" {
			p.Slices = append(p.Slices, sliceCurve(gm, arr))
			continue
		}
		c := Curve{Name: fmt.Sprintf("R%d", i)}
		if mk, ok := gm["mask"].(map[string]any); ok {
			if nm, ok := mk["Name"].(string); ok && nm != "" {
				c.Name = nm
			}
		}
		if len(arr) >= 2 {
			c.Q, c.I = numbers(arr[0]), numbers(arr[1])
			if len(arr) > 2 {
				c.Sigma = numbers(arr[2])
			}
		}
		p.Curves = append(p.Curves, c)
	}
	p.Rate = make([]int, RateWindow)
	if math.IsNaN(now) {
		now = float64(time.Now().UnixMicro()) / 1e6
	}
	for _, t := range numbers(d["history"]) {
		k := int(math.Floor(now - t))
		if k >= 0 && k < RateWindow {
			p.Rate[RateWindow-1-k]++
		}
	}
	ip, _ := d["IntegralParameters"].(map[string]any)
	for k, v := range ip {
		m, _ := v.(map[string]any)
		l0, _ := m["I0"].([]any)
		files, _ := m["file"].([]any)
		total := len(l0)
		from := max(0, total-MaxSeries)
		// only the latest MaxSeries are decoded: the lists grow with the queue
		ps := Params{I0: numbers(tailAny(m["I0"], from)), I1: numbers(tailAny(m["I1"], from)), I2: numbers(tailAny(m["I2"], from))}
		ps.Frame = make([]int, total-from)
		for j := range ps.Frame {
			ps.Frame[j] = from + j + 1
		}
		if len(files) > 0 {
			ps.File, _ = files[len(files)-1].(string)
		}
		p.Params[k] = ps
	}
	return p
}

// sliceCurve turns a graph of kind "Slice" into a Curve named after its
// configuration ("x InPlane @ 90 ± 3").
func sliceCurve(gm map[string]any, arr []any) Curve {
	c := Curve{Name: "slice"}
	if sc, ok := gm["slice"].(map[string]any); ok {
		dir, _ := sc["Direction"].(string)
		plane, _ := sc["Plane"].(string)
		c.Name = fmt.Sprintf("%s %s @ %v ± %v", dir, plane, sc["CutPosition"], sc["CutMargin"])
	}
	if labels, ok := gm["columnLabels"].([]any); ok && len(labels) > 0 {
		c.XLabel, _ = labels[0].(string)
	}
	if len(arr) >= 2 {
		c.Q, c.I = numbers(arr[0]), numbers(arr[1])
		if len(arr) > 2 {
			c.Sigma = numbers(arr[2])
		}
	}
	return c
}

// tailAny returns the elements of a JSON list from index from on.
func tailAny(v any, from int) []any {
	l, _ := v.([]any)
	if from > len(l) {
		return nil
	}
	return l[from:]
}

// compactFiles turns a fileslist into the Files event.
func compactFiles(fl map[string]any) Files {
	f := Files{Counts: map[string]int{}, Failed: []string{}}
	for k, v := range fl {
		l, _ := v.([]any)
		if k == "Failed" {
			f.FailedTotal = len(l)
			for _, x := range l[max(0, len(l)-500):] {
				s, _ := x.(string)
				f.Failed = append(f.Failed, s)
			}
			continue
		}
		f.Counts[k] = len(l)
	}
	return f
}
