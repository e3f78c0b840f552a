package cli

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/saxsdog/saxs"
	"github.com/saxsdog/saxs/internal/atomicfile"
	shared "github.com/saxsdog/saxs/internal/cli"
	"github.com/saxsdog/saxs/internal/plotchi"
	"github.com/saxsdog/saxs/internal/pyjson"
	"github.com/saxsdog/saxs/internal/render"
	"github.com/saxsdog/saxs/network"
	"github.com/saxsdog/saxs/network/web"
)

const leashUsage = `Usage: saxsleash [--netconf F] [-N i] [-S URL] [--timeout D] COMMAND [ARGS]

Sends a signed request to a saxsdog server and prints the reply as
indented JSON. Commands:
  new cal.json                start a queue with a 2.0 calibration; the masks
                              (Masks[].MaskFile, relative to the calibration's
                              folder) are attached
  new cal.json mask.msk DIR   the same with a 0.3.0 calibration, its mask and
                              the queue folder DIR (relative to SERVERDIR),
                              as a 0.3.0 server reads it (no mask digest)
  abort | close | readdir | stat | fileslist
  get [--save-masks DIR]      the server's calibration (and its masks, saved)
  plot [-o FILE] [--follow] [-s N] [-k N] [-x T] [-y T]
                              the latest curve (FILE: .svg, .png or .pdf plot);
                              --follow keeps polling until interrupted;
                              -s/-k drop the first/last N points and -x/-y
                              set the axis scales as plotchi's options do
  listdir [PATH]              the folders and files below SERVERDIR/PATH
  mergedata conf.json         consolidate the queue's frames with the logs of a
                              DataConsolidationConf (LocalPath logs attached)
  getmergedata                the result of the last mergedata
  web [--addr A] [--no-browser]  the leash as a web page (saxsleash web --help)

Beyond the original, saxsleash asks (in argument.data, which original 2.0
servers ignore) for the mask digests to be checked, for "frames per sec" in
the stat and for the Failed list in fileslist; --plain sends the requests
exactly as the original leash does (an original 0.3.0 server needs it).

Exit status: 0 success, 1 error reply or no answer in time, 2 usage.
`

// LeashMain runs saxsleash.
func LeashMain(args []string, stdout, stderr io.Writer) int {
	const tool = "saxsleash"
	if len(args) > 0 && args[0] == "web" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return web.Main(ctx, args[1:], stdout, stderr)
	}
	var follow, plain bool
	var netconf, url, saveMasks, plotOut string
	var index, skip, clip int
	var xscale, yscale string
	var timeout time.Duration
	command := newCommand(tool, leashUsage)
	fs := command.Flags
	fs.StringVar(&netconf, shared.FlagNetConf, "", netConfUsage)
	fs.IntVarP(&index, shared.FlagServerNo, "N", 0, "use configuration entry `i`, counted from 0")
	fs.StringVarP(&url, "server", "S", "", "server address `URL` (default: the entry's Server)")
	fs.DurationVar(&timeout, shared.FlagTimeout, network.DefaultTimeout, "give up when no reply comes within `D`")
	fs.StringVar(&saveMasks, "save-masks", "", "get: write the queue's masks into `DIR`")
	fs.StringVarP(&plotOut, shared.FlagOut, "o", "", "plot: write the latest curve to `FILE` (.svg or .png)")
	fs.BoolVar(&follow, "follow", false, "plot: keep polling once a second until interrupted")
	fs.IntVarP(&skip, shared.FlagSkip, "s", 0, "plot -o: drop the first `N` points of each curve")
	fs.IntVarP(&clip, shared.FlagClip, "k", 0, "plot -o: drop the last `N` points of each curve (the original's default was 1)")
	fs.StringVarP(&xscale, shared.FlagXScale, "x", string(plotchi.Linear), "plot -o: q axis scale `TYPE`: linear, log or symlog")
	fs.StringVarP(&yscale, shared.FlagYScale, "y", string(plotchi.Log), "plot -o: intensity axis scale `TYPE`: linear, log or symlog")
	fs.BoolVar(&plain, "plain", false, "send the requests exactly as the original leash does, without our additions in argument.data "+
		"(mask digests, \"frames per sec\", the Failed list), as an original 0.3.0 server requires")
	if done, code := command.Parse(args, stdout, stderr); done {
		return code
	}
	if fs.NArg() == 0 {
		return usageError(stderr, tool, errors.New("no COMMAND given"))
	}
	if timeout <= 0 {
		return usageError(stderr, tool, errors.New("--timeout must be positive"))
	}
	cmd, rest := fs.Arg(0), fs.Args()[1:]
	if saveMasks != "" && cmd != "get" {
		return usageError(stderr, tool, errors.New("--save-masks only applies to get"))
	}
	if (plotOut != "" || follow) && cmd != "plot" {
		return usageError(stderr, tool, errors.New("-o and --follow only apply to plot"))
	}
	var shape *plotchi.Options
	if fs.Changed(shared.FlagSkip) || fs.Changed(shared.FlagClip) || fs.Changed(shared.FlagXScale) || fs.Changed(shared.FlagYScale) {
		if cmd != "plot" || plotOut == "" {
			return usageError(stderr, tool, errors.New("-s, -k, -x and -y shape the plot file: they need plot -o FILE"))
		}
		opt, err := plotOptions(skip, clip, xscale, yscale)
		if err != nil {
			return usageError(stderr, tool, err)
		}
		shape = &opt
	}
	if plotOut != "" {
		if _, err := plotchi.Format(plotOut); err != nil {
			return usageError(stderr, tool, err)
		}
		if shape == nil && strings.EqualFold(filepath.Ext(plotOut), ".pdf") {
			opt, _ := plotOptions(skip, clip, xscale, yscale)
			shape = &opt // the saxsdog picture has no PDF form
		}
	}
	var arg network.Obj
	var atts [][]byte
	flat := false
	switch cmd {
	case "new":
		var err error
		switch len(rest) {
		case 1:
			var cal network.Obj
			cal, atts, err = network.LoadNew(rest[0])
			arg = network.Obj{"calibration": cal, "data": network.Obj{}}
		case 3:
			arg, atts, err = network.LoadNewFlat(rest[0], rest[1], rest[2])
			flat = true
		default:
			return usageError(stderr, tool, errors.New("new takes cal.json, or cal.json mask.msk DIR"))
		}
		if err != nil {
			return usageError(stderr, tool, err)
		}
	case "plotdata": // the original CLI sends plot for plotdata
		cmd = "plot"
		fallthrough
	case "mergedata":
		if len(rest) != 1 {
			return usageError(stderr, tool, errors.New("mergedata takes conf.json"))
		}
		var err error
		if arg, atts, err = network.LoadMerge(rest[0]); err != nil {
			return usageError(stderr, tool, err)
		}
	case "abort", "close", "readdir", "stat", "fileslist", "get", "plot", "getmergedata":
		if len(rest) > 0 {
			return usageError(stderr, tool, fmt.Errorf("%s takes no arguments", cmd))
		}
	case "listdir":
		if len(rest) > 1 {
			return usageError(stderr, tool, errors.New("listdir takes at most one PATH"))
		}
		comps := []any{}
		if len(rest) == 1 && filepath.IsAbs(rest[0]) {
			comps = append(comps, rest[0]) // sent as is: the server refuses it
		} else if len(rest) == 1 {
			for _, c := range strings.Split(filepath.ToSlash(rest[0]), "/") {
				if c != "" && c != "." {
					comps = append(comps, c)
				}
			}
		}
		arg = network.Obj{"directory": comps}
	default:
		return usageError(stderr, tool, fmt.Errorf("unknown command %q", cmd))
	}
	log := newLogger(stderr, slog.LevelWarn)
	nc, err := loadNetConf(netconf, log)
	if err != nil {
		return usageError(stderr, tool, err)
	}
	e, err := nc.Entry(index)
	if err != nil {
		return usageError(stderr, tool, err)
	}
	if url == "" {
		url = e.Server
	}
	c := &network.Client{Addr: url, Secret: e.Secret, Timeout: timeout, NoDigests: flat, Plain: plain}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if cmd == "plot" && follow {
		return followPlot(ctx, c, plotOut, shape, stdout, stderr)
	}
	r, err := c.Do(ctx, cmd, arg, atts)
	if err != nil {
		return fail(stderr, tool, err)
	}
	if _, err := stdout.Write(Indent(r.Raw)); err != nil {
		return fail(stderr, tool, err)
	}
	if network.Failed(r.Result) {
		return fail(stderr, tool, &network.FailedError{Reply: r})
	}
	switch {
	case cmd == "get" && saveMasks != "" && r.Result == network.ResultCal:
		if err := saveAttachments(r, saveMasks, stderr); err != nil {
			return fail(stderr, tool, err)
		}
	case cmd == "plot" && plotOut != "":
		if r.Result != network.ResultPlot {
			return fail(stderr, tool, fmt.Errorf("no curve to plot yet (%s)", r.Result))
		}
		if err := writePlot(r, plotOut, shape); err != nil {
			return fail(stderr, tool, err)
		}
	}
	return ExitOK
}

// followPlot polls plot once a second, printing (or plotting) each new
// frame's reply, until ctx ends.
func followPlot(ctx context.Context, c *network.Client, out string, shape *plotchi.Options, stdout, stderr io.Writer) int {
	last := ""
	for {
		r, err := c.Do(ctx, "plot", nil, nil)
		switch {
		case ctx.Err() != nil:
			return ExitOK
		case err != nil:
			fmt.Fprintf(stderr, "saxsleash: %v\n", err)
		case network.Failed(r.Result):
			return fail(stderr, "saxsleash", &network.FailedError{Reply: r})
		case r.Result == network.ResultPlot:
			name, _ := r.Map()["filename"].(string)
			if name != last {
				last = name
				if out != "" {
					if err := writePlot(r, out, shape); err != nil {
						return fail(stderr, "saxsleash", err)
					}
					fmt.Fprintf(stdout, "%s: %s\n", out, name)
				} else {
					stdout.Write(Indent(r.Raw))
				}
			}
		}
		select {
		case <-ctx.Done():
			return ExitOK
		case <-time.After(time.Second):
		}
	}
}

// saveAttachments writes the masks of a get reply into dir, each under the
// base name of its file name: those of data.attachments, or else (the
// reply of a 0.3.0 queue to a plain request) data.mask, named after the
// calibration's MaskFile.
func saveAttachments(r *network.Reply, dir string, stderr io.Writer) error {
	list, _ := r.Map()["attachments"].([]any)
	if mask, ok := r.Map()["mask"].(map[string]any); ok && len(list) == 0 {
		cal, _ := r.Map()["cal"].(map[string]any)
		name, _ := cal["MaskFile"].(string)
		list = []any{map[string]any{"filename": name, "data": mask["data"]}}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for i, a := range list {
		m, _ := a.(map[string]any)
		name, _ := m["filename"].(string)
		data, _ := m["data"].(string)
		b, err := base64.StdEncoding.DecodeString(data)
		if err != nil {
			return fmt.Errorf("attachment %d: %w", i+1, err)
		}
		base := filepath.Base(filepath.FromSlash(strings.ReplaceAll(name, "\\", "/")))
		if base == "." || base == "/" || base == ".." || base == "" {
			base = fmt.Sprintf("mask%d", i)
		}
		p := filepath.Join(dir, base)
		if err := atomicfile.WriteFile(p, b, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "saved %s\n", p)
	}
	return nil
}

// CurvesFromPlot returns the curves of a plot reply (graphs[].array):
// R<i> for a radial graph, S<i> for a GISAXS slice (kind "Slice").
func CurvesFromPlot(r *network.Reply) ([]saxs.ErrorCurve, string, error) {
	name, _ := r.Map()["filename"].(string)
	graphs, _ := r.Map()["graphs"].([]any)
	if len(graphs) == 0 {
		return nil, name, errors.New("plot reply without graphs")
	}
	var out []saxs.ErrorCurve
	for i, g := range graphs {
		gm, _ := g.(map[string]any)
		arr, _ := gm["array"].([]any)
		if len(arr) < 2 {
			return nil, name, fmt.Errorf("graph %d: no array", i)
		}
		cols := make([][]float64, len(arr))
		for k, col := range arr {
			l, _ := col.([]any)
			cols[k] = make([]float64, len(l))
			for j, v := range l {
				cols[k][j] = number(v)
			}
		}
		c := saxs.ErrorCurve{Curve: saxs.Curve{Name: fmt.Sprintf("R%d", i), Q: cols[0], I: cols[1]}}
		if kind, _ := gm["kind"].(string); kind == "Slice" {
			c.Name = fmt.Sprintf("S%d", i) // a GISAXS slice, on its q_y or q_z grid
		}
		if len(cols) > 2 && len(cols[2]) == len(cols[0]) {
			c.Sigma = cols[2]
		}
		if len(c.Q) != len(c.I) {
			return nil, name, fmt.Errorf("graph %d: columns of different lengths", i)
		}
		out = append(out, c)
	}
	return out, name, nil
}

// number reads a JSON number of a reply (NaN when it is none).
func number(v any) float64 {
	if f, ok := network.Number(v); ok {
		return f
	}
	return math.NaN()
}

// plotOptions returns plotchi's options for the leash's -s, -k, -x and -y.
func plotOptions(skip, clip int, xscale, yscale string) (plotchi.Options, error) {
	opt := plotchi.DefaultOptions()
	var err error
	if opt.XScale, err = plotchi.ParseScale(xscale); err != nil {
		return opt, fmt.Errorf("-x: %w", err)
	}
	if opt.YScale, err = plotchi.ParseScale(yscale); err != nil {
		return opt, fmt.Errorf("-y: %w", err)
	}
	if skip < 0 || clip < 0 {
		return opt, errors.New("--skip and --clip must not be negative")
	}
	opt.Skip, opt.Clip = skip, clip
	return opt, nil
}

// writePlot writes the curves of a plot reply: the first to file, curve
// i ≥ 1 to file with _cR<i> before the extension. With shape the curves
// are drawn as plotchi draws a .chi file with those options; without, as
// saxsdog's -s pictures.
func writePlot(r *network.Reply, file string, shape *plotchi.Options) error {
	curves, name, err := CurvesFromPlot(r)
	if err != nil {
		return err
	}
	ext := strings.ToLower(filepath.Ext(file))
	if shape == nil && ext != ".svg" && ext != ".png" {
		return fmt.Errorf("%s: the plot file must end in .svg or .png", file)
	}
	for i := range curves {
		p := file
		if i > 0 {
			p = strings.TrimSuffix(file, filepath.Ext(file)) + fmt.Sprintf("_cR%d", i) + filepath.Ext(file)
		}
		if shape != nil {
			opt := *shape
			opt.Title = filepath.Base(name)
			c := &curves[i]
			if err := plotchi.WriteFile(p, []plotchi.Series{{Name: filepath.Base(name), Q: c.Q, I: c.I, Err: c.Sigma}}, opt); err != nil {
				return err
			}
			continue
		}
		pl, err := render.CurvePlot(&curves[i], filepath.Base(name))
		if err != nil {
			return err
		}
		wt, err := pl.WriterTo(render.Width, render.Height, ext[1:])
		if err != nil {
			return err
		}
		if err := atomicfile.Write(p, 0o644, func(w io.Writer) error { _, err := wt.WriteTo(w); return err }); err != nil {
			return err
		}
	}
	return nil
}

// Indent re-prints a JSON reply with an indent of four spaces, keys
// sorted, numbers as Python prints them, NaN and Infinity as bare tokens.
func Indent(raw []byte) []byte {
	v, err := pyjson.Decode(raw)
	if err != nil {
		return append(append([]byte(nil), raw...), '\n')
	}
	b := appendIndent(nil, v, 0)
	return append(b, '\n')
}

func appendIndent(b []byte, v any, depth int) []byte {
	nl := func(b []byte, d int) []byte {
		b = append(b, '\n')
		for range d {
			b = append(b, "    "...)
		}
		return b
	}
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 {
			return append(b, "{}"...)
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = nl(b, depth+1)
			b = pyjson.AppendString(b, k)
			b = append(b, ": "...)
			b = appendIndent(b, x[k], depth+1)
		}
		b = nl(b, depth)
		return append(b, '}')
	case []any:
		if len(x) == 0 {
			return append(b, "[]"...)
		}
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = nl(b, depth+1)
			b = appendIndent(b, e, depth+1)
		}
		b = nl(b, depth)
		return append(b, ']')
	}
	out, err := pyjson.Marshal(v)
	if err != nil {
		return append(b, "null"...)
	}
	return append(b, out...)
}
