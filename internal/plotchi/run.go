package plotchi

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/saxsdog/saxs/internal/cli"
)

// DefaultOut is the file written when no --out is given.
const DefaultOut = "plotchi.svg"

// Exit codes of [Run].
const (
	ExitOK    = 0 // success
	ExitError = 1 // a file could not be read or written
	ExitUsage = 2 // bad command line
)

const usageHead = `Usage: plotchi [options] CHIFILE...

Plot the scattering curves I(q) of .chi files (saxsdog 0.3.0 and 2.0, fit2d
CHIPLOT) and of two- and three-column text (.xy, pyFAI .dat with '#'
comment lines): the 4-line CHIPLOT header is recognised by its content, any
other text before the first row of numbers is a header, and every row after
it is plotted (a line that is not a row of numbers is an error). Nothing is
clipped unless --clip asks for it. Each file must be a regular file of at
most 64 MiB. Files with an error column get an I ± error band (clipped below at
0.01 on a log intensity axis). NaN points, and non-positive points on log
axes, are left out.

With --compare the first file is the reference and is not plotted: for each
other file, its intensity interpolated at the reference's q minus the
reference intensity is plotted in the top panel, and the same difference in %
of the reference in a second panel below it (the original plotchi used a
right-hand twin axis, which gonum/plot lacks). --skip and --clip do not apply
in this mode.

Without --out the figure is written to ` + DefaultOut + ` in the current directory and
opened with xdg-open (open on macOS) when that command exists and a display
(DISPLAY or WAYLAND_DISPLAY) is set; otherwise its path is printed.

Options:
`

// Run runs the plotchi command with the arguments args (without the
// program name), writing messages to stdout and stderr, and returns the
// exit status: [ExitOK], [ExitError] or [ExitUsage].
func Run(args []string, stdout, stderr io.Writer) int {
	cmd := cli.New("plotchi", nil)
	fs := cmd.Flags
	cmd.Help = func() string { return usageHead + cli.FlagUsages(fs) }
	def := DefaultOptions()
	out := fs.StringP(cli.FlagOut, "o", "", "write the figure to `FILE`; the format follows the suffix: .svg, .png or .pdf")
	compare := fs.BoolP("compare", "c", false, "compare the files with the first one (see above)")
	logY := fs.BoolP("log", "l", false, "logarithmic intensity axis (overrides --yscale)")
	noLegend := fs.BoolP("no-legend", "n", false, "hide the legend")
	title := fs.StringP("title", "t", "", "figure `TITLE` (default: the name of the last file)")
	skip := fs.IntP(cli.FlagSkip, "s", def.Skip, "drop the first `N` points of each curve")
	clip := fs.IntP(cli.FlagClip, "k", def.Clip, "drop the last `N` points of each curve (the original's default was 1)")
	xscale := fs.StringP(cli.FlagXScale, "x", string(def.XScale), "q axis scale `TYPE`: linear, log or symlog")
	yscale := fs.StringP(cli.FlagYScale, "y", string(def.YScale), "intensity axis scale `TYPE`: linear, log or symlog (symlog is linear within ±1)")
	size := fs.String("size", fmt.Sprintf("%dx%d", def.Width, def.Height), "figure size `WxH` in pixels at 100 dpi")
	if done, code := cmd.Parse(args, stdout, stderr); done {
		return code
	}
	usageErr := func(format string, a ...any) int { return cmd.UsageError(stderr, format, a...) }
	files := fs.Args()
	opt := def
	opt.Compare, opt.NoLegend, opt.Title = *compare, *noLegend, *title
	opt.Skip, opt.Clip = *skip, *clip
	var err error
	if opt.XScale, err = ParseScale(*xscale); err != nil {
		return usageErr("-x: %v", err)
	}
	if opt.YScale, err = ParseScale(*yscale); err != nil {
		return usageErr("-y: %v", err)
	}
	if *logY {
		opt.YScale = Log
	}
	if opt.Skip < 0 {
		return usageErr("--skip must not be negative")
	}
	if opt.Clip < 0 {
		return usageErr("--clip must not be negative")
	}
	if opt.Width, opt.Height, err = parseSize(*size); err != nil {
		return usageErr("--size: %v", err)
	}
	switch {
	case len(files) == 0:
		return usageErr("no CHIFILE given")
	case opt.Compare && len(files) < 2:
		return usageErr("--compare needs a reference file and at least one more")
	}
	path := *out
	if path == "" {
		path = DefaultOut
	}
	if _, err := Format(path); err != nil {
		return usageErr("%v", err)
	}

	series, err := Load(files...)
	if err != nil {
		fmt.Fprintf(stderr, "plotchi: %v\n", err)
		return ExitError
	}
	if !opt.Compare {
		for _, s := range series {
			if len(s.Q)-opt.Skip-opt.Clip <= 0 {
				fmt.Fprintf(stderr, "plotchi: warning: %s: no points left after --skip %d --clip %d\n", s.Name, opt.Skip, opt.Clip)
			}
		}
	}
	if err := WriteFile(path, series, opt); err != nil {
		fmt.Fprintf(stderr, "plotchi: %v\n", err)
		return ExitError
	}
	if *out == "" {
		abs, err := filepath.Abs(path)
		if err != nil {
			abs = path
		}
		if err := openViewer(abs); err != nil {
			fmt.Fprintf(stderr, "plotchi: %v\n", err)
		}
		fmt.Fprintln(stdout, abs)
	}
	return ExitOK
}

// parseSize parses "WxH" (positive integers).
func parseSize(s string) (w, h int, err error) {
	ws, hs, ok := strings.Cut(strings.ToLower(s), "x")
	if ok {
		w, err = strconv.Atoi(ws)
		if err == nil {
			h, err = strconv.Atoi(hs)
		}
	}
	if !ok || err != nil || w <= 0 || h <= 0 || w > 20000 || h > 20000 {
		return 0, 0, fmt.Errorf("invalid size %q (want WxH in pixels, such as 800x600)", s)
	}
	return w, h, nil
}

// openViewer starts xdg-open on path without waiting for it, when the
// command exists and a display (DISPLAY or WAYLAND_DISPLAY) is set. On
// macOS it uses open, which needs no display variable.
func openViewer(path string) error {
	cmd := "xdg-open"
	if runtime.GOOS == "darwin" {
		cmd = "open"
	} else if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
		return nil
	}
	exe, err := exec.LookPath(cmd)
	if err != nil {
		return nil // no viewer: the caller prints the path
	}
	c := exec.Command(exe, path)
	if err := c.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", cmd, err)
	}
	// plotchi does not wait for the viewer.
	return c.Process.Release()
}
