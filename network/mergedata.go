package network

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/saxsdog/saxs/internal/pyjson"
	"github.com/saxsdog/saxs/merge"
)

// Results of the data consolidation commands (spec §9.7).
const (
	// ResultMergeStarted is mergedata's reply: the original concatenated
	// two string literals, "merge started" "mergedata" (sic).
	ResultMergeStarted = "merge startedmergedata"
	// ResultMergeData is getmergedata's reply once a merge has finished.
	ResultMergeData = "mergedata"
	// MergeRunning is the Error of a mergedata sent while one runs.
	MergeRunning = "Merge already started please wait"
	// StatMergeCount is the member of a stat object that counts the
	// finished merges; as in the original it is only in the first stat
	// reply after a merge has finished.
	StatMergeCount = "mergecount"
)

// mergeState is the server's data consolidation: at most one merge runs,
// in a goroutine the Server owns (Serve waits for it).
type mergeState struct {
	mu      sync.Mutex
	running bool
	result  Obj // getmergedata's reply, nil before the first merge
	count   int
	fresh   bool // a result not yet announced by stat
	wg      sync.WaitGroup
}

// mergeCount returns the merge count when a merge finished since the last
// call, else ok = false.
func (m *mergeState) mergeCount() (n int, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.fresh {
		return 0, false
	}
	m.fresh = false
	return m.count, true
}

// lastResult is getmergedata's reply: the last merge's result, or before
// the first {"result": "Empty", "data": {}} (the original replied {},
// which its own clients refuse for lack of a result string).
func (m *mergeState) lastResult() Obj {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.result == nil {
		return NewReply(ResultEmpty, nil)
	}
	return m.result
}

// cmdMergedata starts a data consolidation of the running queue's folder
// (spec §9.7 mergedata): argument.mergeconf is the configuration, the
// attachment frames {"filename": LocalPath, "data": text} the client's log
// files; RemotePath logs are read below SERVERDIR. The configuration, the
// attachments and the output place are checked before the reply; the
// frames are read and the table written in the background, and
// getmergedata returns the result (or its error).
func (s *Server) cmdMergedata(ctx context.Context, req *Request) Obj {
	q := s.queue()
	if q == nil {
		return ErrorReply(ResultError, "no queue: start a queue (new) before mergedata")
	}
	cv, ok := req.Argument["mergeconf"].(map[string]any)
	if !ok {
		return ErrorReply(ResultError, "mergedata needs argument.mergeconf (an object)")
	}
	data, err := pyjson.Marshal(cv)
	if err != nil {
		return ErrorReply(ResultError, err.Error())
	}
	conf, err := merge.ParseConfig(data, "mergeconf")
	if err != nil {
		return ErrorReply(ResultError, err.Error())
	}
	attached := map[string][]byte{}
	for i, f := range req.Frames {
		v, err := pyjson.Decode(f)
		m, isObj := v.(map[string]any)
		name, _ := m["filename"].(string)
		text, isText := m["data"].(string)
		if err != nil || !isObj || name == "" || !isText {
			return ErrorReply(ResultError, fmt.Sprintf("attachment %d: not an object {\"filename\": LocalPath, \"data\": text}", i+1))
		}
		attached[name] = []byte(text)
	}
	open := func(f merge.LogFile) (io.ReadCloser, string, error) {
		if f.LocalPath != "" {
			b, ok := attached[f.LocalPath]
			if !ok {
				return nil, f.LocalPath, fmt.Errorf("LocalPath %q was not attached to the request", f.LocalPath)
			}
			return io.NopCloser(bytes.NewReader(b)), f.LocalPath, nil
		}
		comps := f.RemotePath
		if len(comps) == 0 {
			comps = f.Path
		}
		p, _, err := resolveUnder(s.dir, comps)
		if err != nil {
			return nil, strings.Join(comps, "/"), fmt.Errorf("RemotePath: %w", err)
		}
		r, err := os.Open(p)
		return r, p, err
	}
	for ti, t := range conf.LogDataTables { // every log is there before the reply
		for _, f := range t.Files {
			r, name, err := open(f)
			if err != nil {
				return ErrorReply(ResultError, fmt.Sprintf("LogDataTables[%d] (%s): %s: %v", ti, t.Name, name, err))
			}
			r.Close()
		}
	}
	// The outputs go where the original put them: the folder
	// OutputFileBaseName's folder names, relative to the queue folder, with
	// the queue folder's name before the base name; they must stay below
	// SERVERDIR (or -o DIR).
	base := filepath.Clean(filepath.Join(q.spec.dir, filepath.Dir(conf.OutputFileBaseName)))
	if filepath.IsAbs(conf.OutputFileBaseName) || !within(base, s.dir) && (s.cfg.OutDir == "" || !within(base, s.cfg.OutDir)) {
		return ErrorReply(ResultError, fmt.Sprintf("OutputFileBaseName %q: the results would leave the server folder", conf.OutputFileBaseName))
	}
	out := *conf
	out.OutputFileBaseName = filepath.Join(base, filepath.Base(q.spec.dir)+filepath.Base(conf.OutputFileBaseName))
	chis := q.chiOutputs()

	m := &s.merge
	m.mu.Lock()
	if m.running {
		m.mu.Unlock()
		return ErrorReply(ResultError, MergeRunning)
	}
	m.running = true
	m.mu.Unlock()
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		res := s.runMerge(ctx, &out, q.spec.dir, chis, open)
		m.mu.Lock()
		m.running, m.result, m.fresh = false, res, true
		m.count++
		m.mu.Unlock()
	}()
	return NewReply(ResultMergeStarted, nil)
}

// runMerge reads the queue folder's frames and their curves, merges and
// writes the outputs, and returns getmergedata's reply. A panic becomes a
// ServerError result.
func (s *Server) runMerge(ctx context.Context, conf *merge.Config, dir string, chis []string, open merge.Source) (res Obj) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("merge panicked", "panic", p)
			res = ServerError(fmt.Sprintf("internal error in the merge: %v", p))
		}
	}()
	fail := func(err error) Obj {
		s.log.Warn("merge failed", "error", err)
		return ErrorReply(ResultError, err.Error())
	}
	loc, err := conf.Location() // checked by ParseConfig
	if err != nil {
		return fail(err)
	}
	frames, problems, err := merge.CollectFramesChi(ctx, dir, chis, loc, conf.HDFOptions.IncludeCHI)
	for _, p := range problems {
		s.log.Warn("merge", "problem", p)
	}
	if err != nil {
		return fail(err)
	}
	tab, err := merge.Merge(conf, frames, open)
	if err != nil {
		return fail(err)
	}
	for _, w := range tab.Warnings {
		s.log.Warn("merge", "warning", w)
	}
	written, err := merge.WriteOutputs(conf, tab, dir)
	if err != nil {
		return fail(err)
	}
	s.log.Info("merge written", "files", written, "frames", len(tab.Files), "shift", tab.Shift)
	fl := Obj{}
	if q := s.queue(); q != nil {
		fl = q.fileslist()
		delete(fl, FailedList)
	}
	return NewReply(ResultMergeData, Obj{"syncplot": tab.SyncPlot(), "fileslist": fl})
}

// chiOutputs returns the absolute paths of the .chi files the queue has
// written.
func (q *queue) chiOutputs() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []string
	for _, l := range q.files {
		for _, p := range l {
			if !strings.HasSuffix(p, ".chi") {
				continue
			}
			if !filepath.IsAbs(p) {
				p = filepath.Join(q.serverDir, filepath.FromSlash(p))
			}
			out = append(out, p)
		}
	}
	return out
}

// LoadMerge reads a data consolidation configuration for mergedata, as the
// original leash sends it: the argument {"mergeconf": conf} and, for each
// log file with a LocalPath (read relative to the working directory), an
// attachment {"filename": LocalPath, "data": its text} (raw text, not
// base64, as the original). The configuration is checked first.
func LoadMerge(confPath string) (Obj, [][]byte, error) {
	conf, err := readJSONObject(confPath)
	if err != nil {
		return nil, nil, err
	}
	data, err := pyjson.Marshal(conf)
	if err != nil {
		return nil, nil, err
	}
	c, err := merge.ParseConfig(data, confPath)
	if err != nil {
		return nil, nil, err
	}
	var atts [][]byte
	for _, t := range c.LogDataTables {
		for _, f := range t.Files {
			if f.LocalPath == "" {
				continue
			}
			b, err := os.ReadFile(f.LocalPath)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: log table %s: %w", confPath, t.Name, err)
			}
			a, err := pyjson.Marshal(map[string]any{"filename": f.LocalPath, "data": string(b)})
			if err != nil {
				return nil, nil, err
			}
			atts = append(atts, a)
		}
	}
	return Obj{"mergeconf": conf}, atts, nil
}
