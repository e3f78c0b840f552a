// Package cli is the command-line language shared by the saxs tools
// (saxsdog, saxsconverter, saxscalib, plotchi, saxsbench, and the network tools
// saxsnetconf, saxsdogserver, saxsfeeder, saxsleash): one flag name per idea, --help printed once to stdout, --version
// from the build information, one style of usage error, and bounded reads
// of input files given on the command line.
//
// A tool builds its flags on a [Command]:
//
//	cmd := cli.New("plotchi", usage)
//	out := cmd.Flags.StringP(cli.FlagOut, "o", "", "write the figure to `FILE`")
//	if done, code := cmd.Parse(args, stdout, stderr); done {
//		return code
//	}
//
// Short letters are given only where the original saxsdog tools had them
// (so -c is --calibration in saxsdog and --compare in plotchi, as there);
// long names are the same for the same idea in every tool. The original's
// letters: saxsdog -c/--calibration, -t/--threads, -o/--out, -S/--silent,
// -R/--relpath; plotchi -s/--skip, -k/--clip (default 1 there; 0 here),
// -x/--xscale, -y/--yscale; saxsdogserver -p/--port, -t/--threads,
// -R/--relpath, -o/--out (and -N/--serverno, as in the 2.0 leash);
// saxsfeeder -p/--port, -N/--serverno; saxsleash -S (server URL),
// -N/--serverno, -o/--out (the plot file); saxsnetconf -n (write a new
// file).
package cli

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/spf13/pflag"

	"github.com/saxsdog/saxs"
)

// Exit statuses shared by the tools.
const (
	ExitOK    = 0 // success, --help, --version
	ExitError = 1 // the work failed
	ExitUsage = 2 // bad command line
)

// The long flag names of ideas that several tools share. A tool that has
// the idea uses this name; a new tool looks here first.
const (
	FlagCalibration = "calibration"  // the calibration JSON file
	FlagOut         = "out"          // the output folder or file
	FlagThreads     = "threads"      // how many frames are converted at once
	FlagNetConf     = "netconf"      // the network configuration file
	FlagSilent      = "silent"       // less output (no line per file, no echo)
	FlagVerbose     = "verbose"      // more output
	FlagVersion     = "version"      // print the version and exit
	FlagHelp        = "help"         // print the help and exit
	FlagTemplate    = "template"     // a calibration to start from
	FlagTimeout     = "timeout"      // how long to wait before giving up
	FlagSkip        = "skip"         // drop the first N points of a curve
	FlagClip        = "clip"         // drop the last N points of a curve
	FlagXScale      = "xscale"       // the q axis scale of a plot
	FlagYScale      = "yscale"       // the intensity axis scale of a plot
	FlagRelPath     = "relpath"      // outputs relative to each frame's folder
	FlagServerNo    = "serverno"     // the entry of the network configuration
	FlagPort        = "port"         // the port to bind instead of the configured one
	FlagFormat      = "format"       // the output formats (chi, dat, nxcansas)
	FlagMetricsAddr = "metrics-addr" // serve Prometheus metrics on this address
)

// Command is the command line of one tool.
type Command struct {
	// Name is the tool's name, used in messages.
	Name string
	// Flags holds the tool's flags; --help (-h) and --version are defined
	// by New.
	Flags *pflag.FlagSet
	// Help returns the text printed by --help.
	Help func() string

	help, version bool
}

// New returns a Command for the tool name whose --help prints the text
// returned by help (called after the flags are defined, so it may list
// them with [FlagUsages]).
func New(name string, help func() string) *Command {
	c := &Command{Name: name, Help: help}
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard) // Parse reports errors itself
	fs.Usage = func() {}
	fs.SortFlags = false
	c.Flags = fs
	return c
}

// addStandard defines --help and --version (last, so that they end the
// flag list).
func (c *Command) addStandard() {
	if c.Flags.Lookup(FlagHelp) == nil {
		c.Flags.BoolVarP(&c.help, FlagHelp, "h", false, "show this help and exit")
	}
	if c.Flags.Lookup(FlagVersion) == nil {
		c.Flags.BoolVar(&c.version, FlagVersion, false, "print the version and exit")
	}
}

// Parse parses args (without the program name). It returns done = true
// when the tool should exit with code: after printing the help to stdout
// (--help), the version to stdout (--version), or a usage error to stderr.
func (c *Command) Parse(args []string, stdout, stderr io.Writer) (done bool, code int) {
	done, err := c.ParseFlags(args, stdout)
	if err != nil {
		return true, c.UsageError(stderr, "%v", err)
	}
	return done, ExitOK
}

// ParseFlags is Parse for tools that check more before reporting: it
// prints the help or the version to stdout and returns done = true, or
// returns the parse error without printing it.
func (c *Command) ParseFlags(args []string, stdout io.Writer) (done bool, err error) {
	c.addStandard()
	if err := c.Flags.Parse(args); err != nil {
		return false, err
	}
	switch {
	case c.help:
		io.WriteString(stdout, c.Help())
		return true, nil
	case c.version:
		fmt.Fprintln(stdout, VersionLine(c.Name))
		return true, nil
	}
	return false, nil
}

// UsageError prints "name: message" and "Run 'name --help' for usage." to
// stderr and returns ExitUsage.
func (c *Command) UsageError(stderr io.Writer, format string, a ...any) int {
	return UsageError(stderr, c.Name, fmt.Sprintf(format, a...))
}

// UsageError prints the usage error msg of the tool name to stderr and
// returns ExitUsage.
func UsageError(stderr io.Writer, name, msg string) int {
	fmt.Fprintf(stderr, "%s: %s\nRun '%s --help' for usage.\n", name, msg, name)
	return ExitUsage
}

// Version returns the version of the module the tool was built from
// ("(devel)" for a build from a checkout), followed by the VCS revision
// when the build recorded one.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "+modified"
			}
		}
	}
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		v += " " + rev + modified
	}
	return v
}

// VersionLine is the line --version prints: "name version <Version()>
// <Go version>".
func VersionLine(name string) string {
	return fmt.Sprintf("%s version %s %s", name, Version(), runtime.Version())
}

// FlagUsages lists the visible flags of fs, one per line, aligned, like
// pflag's FlagUsages without the "[=true|false]" of boolean flags and with
// the default of non-boolean flags unless the usage gives it.
func FlagUsages(fs *pflag.FlagSet) string {
	type row struct{ left, usage string }
	var rows []row
	width := 0
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		left := "      --" + f.Name
		if f.Shorthand != "" && f.ShorthandDeprecated == "" {
			left = "  -" + f.Shorthand + ", --" + f.Name
		}
		name, usage := pflag.UnquoteUsage(f)
		if name != "" && f.Value.Type() != "bool" {
			left += " " + name
		}
		if f.Value.Type() != "bool" && f.DefValue != "" && f.DefValue != "[]" && !strings.Contains(usage, "(default") {
			if f.Value.Type() == "string" {
				usage += fmt.Sprintf(" (default %q)", f.DefValue)
			} else {
				usage += fmt.Sprintf(" (default %s)", f.DefValue)
			}
		}
		rows = append(rows, row{left, usage})
		width = max(width, len(left))
	})
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "%-*s   %s\n", width, r.left, r.usage)
	}
	return b.String()
}

// ErrNotRegular is reported (with errors.Is) by ReadFile for a path that
// is not a regular file: a FIFO, a device, a folder. It is the library's
// saxs.ErrNotRegular, so callers test for one error whichever layer read.
var ErrNotRegular = saxs.ErrNotRegular

// TooLargeError reports an input larger than the reader accepts.
type TooLargeError struct {
	Path  string
	Limit int64 // bytes
}

// Error names the file and the limit.
func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s: larger than %d bytes, the most accepted for this input", e.Path, e.Limit)
}

// CheckRegular returns nil when path is a regular file (after following
// symbolic links), otherwise the error of Stat or an *fs.PathError
// wrapping ErrNotRegular. It opens nothing, so a FIFO does not block.
func CheckRegular(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w (%s)", ErrNotRegular, FileKind(fi.Mode()))}
	}
	return nil
}

// ReadFile reads the regular file at path, at most limit bytes. A path
// that is not a regular file (after following symbolic links) is refused
// with an *fs.PathError wrapping ErrNotRegular without being read, so a
// FIFO never blocks and a device such as /dev/zero is never read; a file
// larger than limit gives a *TooLargeError (checked before reading and,
// for a file that grows, while reading).
func ReadFile(path string, limit int64) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w (%s)", ErrNotRegular, FileKind(fi.Mode()))}
	}
	// O_NONBLOCK: should the path be replaced by a FIFO after the Stat,
	// opening it does not wait for a writer; the Stat below refuses it.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w (%s)", ErrNotRegular, FileKind(fi.Mode()))}
	}
	if fi.Size() > limit {
		return nil, &TooLargeError{Path: path, Limit: limit}
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: path, Err: err}
	}
	if int64(len(data)) > limit {
		return nil, &TooLargeError{Path: path, Limit: limit}
	}
	return data, nil
}

// FileKind names the type of a file that is not regular ("a FIFO", "a
// folder", …), for messages.
func FileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a folder"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	}
	return "not a regular file"
}

// MaxQuote is the number of characters of a quoted input line that
// messages show.
const MaxQuote = 80

// Quote returns s quoted like strconv.Quote, cut to at most max
// characters of s (max <= 0 means MaxQuote) with "…" and the number of
// bytes left out appended, so that a message quoting a huge line stays
// readable.
func Quote(s string, max int) string {
	if max <= 0 {
		max = MaxQuote
	}
	if utf8.RuneCountInString(s) <= max {
		return strconv.Quote(s)
	}
	cut, n := 0, 0
	for i := range s {
		if n == max {
			cut = i
			break
		}
		n++
	}
	return fmt.Sprintf("%s… (%d more bytes)", strconv.Quote(s[:cut]), len(s)-cut)
}
