// Package mergecli implements the saxsmerge command: data consolidation
// (package merge) from the command line, as the original's saxsdmerge.
package mergecli

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/saxsdog/saxs/internal/cli"
	"github.com/saxsdog/saxs/merge"
)

const usageHead = `Usage: saxsmerge [options] FRAMEDIR [PEAK.log [DATALOGGER.log]]
       saxsmerge [options] -C CONF.json FRAMEDIR

Joins the frames below FRAMEDIR (header time stamp and exposure time, the
integral parameters I0, I1, I2 of their .chi files) with a shutter log
("Peak", tab-separated, Mac epoch) and a datalogger log ("Dlog") into one
table with a row per frame, or with the log tables of a data consolidation
configuration (the original's DataConsolidationConf.json). Writes
BASE_igor.csv (seconds since 1904) and BASE.csv, BASE.json or BASE.hdf as
--out's extension (or the configuration's OutputFormats) says.

Options:
`

// maxConf bounds the configuration file.
const maxConf = 1 << 20

// Main runs saxsmerge with args (without the program name) and returns the
// exit status.
func Main(args []string, stdout, stderr io.Writer) int {
	const prog = "saxsmerge"
	cmd := cli.New(prog, nil)
	fl := cmd.Flags
	cmd.Help = func() string { return usageHead + cli.FlagUsages(fl) }
	offset := fl.Float64P("time-offset", "t", 0, "subtract `SEC` from the times of all logs")
	first := fl.BoolP("sync-first", "1", false, "align the first shutter entry with the start of the first frame")
	zero := fl.BoolP("sync-zero", "z", false, "align the first shutter entry with the start of the zero image (--zero-image)")
	out := fl.StringP(cli.FlagOut, "o", "merged.csv", "write the table to `FILE` (.csv, .json or .hdf; BASE_igor.csv is always written)")
	chi := fl.BoolP("include-chi", "c", false, "add the curves to the .hdf output")
	conf := fl.StringP("conf", "C", "", "use the configuration `FILE` (DataConsolidationConf.json); the log arguments and -t, -1, -z are not allowed with it")
	chiDir := fl.String("chi-dir", "", "read the .chi files below `DIR` (default FRAMEDIR)")
	zone := fl.String("time-zone", "Local", "the `ZONE` of the frames' header time stamps (IANA name, Local, UTC)")
	frameTime := fl.String("frame-time", "end", "what a frame's time stamp marks: `end|start` of the exposure")
	zeroImage := fl.String("zero-image", merge.DefaultZeroImage, "the file `NAME` of the zero image")
	silent := fl.Bool(cli.FlagSilent, false, "do not list the files written")
	fl.BoolP("batch", "b", false, "accepted for the original's saxsdmerge (no plot is shown anyway)")
	if done, code := cmd.Parse(args, stdout, stderr); done {
		return code
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return cli.ExitError
	}
	var c *merge.Config
	if *conf != "" {
		if fl.NArg() != 1 {
			return cmd.UsageError(stderr, "with --conf, give FRAMEDIR only, got %d arguments", fl.NArg())
		}
		if fl.Changed("time-offset") || *first || *zero {
			return cmd.UsageError(stderr, "-t, -1 and -z are set in the configuration file with --conf")
		}
		data, err := cli.ReadFile(*conf, maxConf)
		if err != nil {
			return fail(err)
		}
		if c, err = merge.ParseConfig(data, *conf); err != nil {
			return fail(err)
		}
	} else {
		if fl.NArg() < 1 || fl.NArg() > 3 {
			return cmd.UsageError(stderr, "need FRAMEDIR and up to two logs, got %d arguments", fl.NArg())
		}
		if *first && *zero {
			return cmd.UsageError(stderr, "-1 and -z exclude each other")
		}
		ext := strings.ToLower(filepath.Ext(*out))
		c = &merge.Config{TimeOffset: *offset, OutputFileBaseName: strings.TrimSuffix(*out, filepath.Ext(*out))}
		switch ext {
		case ".csv":
			c.OutputFormats.CSV = true
		case ".json":
			c.OutputFormats.JSON = true
		case ".hdf", ".h5":
			c.OutputFormats.HDF = true
		default:
			return cmd.UsageError(stderr, "--out %s: the extension must be .csv, .json or .hdf", *out)
		}
		for i, name := range []string{"Peak", "Dlog"} {
			if i+1 < fl.NArg() {
				c.LogDataTables = append(c.LogDataTables, merge.LogTable{TimeEpoch: "Mac", Name: name,
					FirstImageCorrelation: i == 0 && *first, ZeroImageCorrelation: i == 0 && *zero,
					Files: []merge.LogFile{{LocalPath: fl.Arg(i + 1)}}})
			}
		}
		if (*first || *zero) && fl.NArg() < 2 {
			return cmd.UsageError(stderr, "-1 and -z need the shutter log")
		}
	}
	if *chi {
		c.HDFOptions.IncludeCHI = true
	}
	if fl.Changed("time-zone") || c.TimeZone == "" {
		c.TimeZone = *zone
	}
	if fl.Changed("frame-time") || c.FrameTime == "" {
		c.FrameTime = *frameTime
	}
	if fl.Changed("zero-image") || c.ZeroImage == "" {
		c.ZeroImage = *zeroImage
	}
	if err := c.Check("saxsmerge"); err != nil {
		return fail(err)
	}
	loc, err := c.Location()
	if err != nil {
		return fail(err)
	}
	dir := fl.Arg(0)
	if *chiDir == "" {
		*chiDir = dir
	}
	frames, problems, err := merge.CollectFrames(dir, *chiDir, loc, c.HDFOptions.IncludeCHI)
	for _, p := range problems {
		fmt.Fprintf(stderr, "%s: warning: %v\n", prog, p)
	}
	if err != nil {
		return fail(err)
	}
	tab, err := merge.Merge(c, frames, merge.FileSource(""))
	if err != nil {
		return fail(err)
	}
	for _, w := range tab.Warnings {
		fmt.Fprintf(stderr, "%s: warning: %v\n", prog, w)
	}
	written, err := merge.WriteOutputs(c, tab, ".")
	if !*silent {
		if tab.Shift != 0 {
			fmt.Fprintf(stdout, "time shift: %v\n", tab.Shift)
		}
		fmt.Fprintf(stdout, "%d frames merged\n", len(tab.Files))
		for _, w := range written {
			fmt.Fprintf(stdout, "write: %s\n", w)
		}
	}
	if err != nil {
		return fail(err)
	}
	return cli.ExitOK
}
