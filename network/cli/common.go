// Package cli holds the command-line logic of the saxsdog network tools:
// saxsnetconf, saxsdogserver, saxsfeeder and saxsleash. Each Main takes
// the arguments (without the program name), the standard streams and
// returns the exit status; the mains in cmd/ only call them.
package cli

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"strings"

	"github.com/spf13/pflag"

	"github.com/saxsdog/saxs/network"
)

// Exit statuses.
const (
	ExitOK      = 0
	ExitFailed  = 1 // a failed request, no answer, a runtime error
	ExitUsage   = 2 // bad command line or configuration
	ExitSignal  = 130
	exitHelpSet = -1
)

// Version returns the module version of the binary.
func Version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// usageError prints "tool: message\nRun 'tool --help' for usage." and
// returns ExitUsage.
func usageError(stderr io.Writer, tool string, err error) int {
	fmt.Fprintf(stderr, "%s: %v\nRun '%s --help' for usage.\n", tool, err, tool)
	return ExitUsage
}

// fail prints "tool: message" and returns ExitFailed.
func fail(stderr io.Writer, tool string, err error) int {
	fmt.Fprintf(stderr, "%s: %v\n", tool, err)
	return ExitFailed
}

// newFlags returns a flag set with --help and --version.
func newFlags(tool string, stderr io.Writer, help, version *bool) *pflag.FlagSet {
	fs := pflag.NewFlagSet(tool, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.SortFlags = false
	fs.BoolVarP(help, "help", "h", false, "show this help")
	fs.BoolVar(version, "version", false, "print the version")
	return fs
}

// parse parses args; it handles --help and --version (printing to
// stdout) and returns done=true with the status to exit with.
func parse(fs *pflag.FlagSet, tool, usage string, args []string, out, stderr io.Writer, help, version *bool) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			*help = true
		} else {
			return usageError(stderr, tool, err), true
		}
	}
	if *help {
		fmt.Fprintf(out, "%s\nOptions:\n%s", strings.TrimRight(usage, "\n")+"\n", flagUsages(fs))
		return ExitOK, true
	}
	if *version {
		fmt.Fprintf(out, "%s %s\n", tool, Version())
		return ExitOK, true
	}
	return 0, false
}

// loadNetConf finds and loads the network configuration, warning on
// stderr when it is readable by others.
func loadNetConf(flag string, log *slog.Logger) (*network.NetConf, error) {
	path, err := network.NetConfPath(flag)
	if err != nil {
		return nil, err
	}
	nc, err := network.LoadNetConf(path)
	if err != nil {
		return nil, err
	}
	if w := network.PermissionWarning(path); w != "" {
		log.Warn(w)
	}
	return nc, nil
}

// newLogger returns a text logger on w at level.
func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// flagUsages lists the flags, one a line, with their defaults.
func flagUsages(fs *pflag.FlagSet) string {
	type row struct{ left, usage string }
	var rows []row
	width := 0
	fs.VisitAll(func(f *pflag.Flag) {
		left := "    "
		if f.Shorthand != "" {
			left = "-" + f.Shorthand + ", "
		}
		left += "--" + f.Name
		name, usage := pflag.UnquoteUsage(f)
		if f.Value.Type() != "bool" {
			if name != "" {
				left += " " + name
			}
			if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "-1" {
				usage += fmt.Sprintf(" (default %s)", f.DefValue)
			}
		}
		width = max(width, len(left))
		rows = append(rows, row{left, usage})
	})
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "  %-*s   %s\n", width, r.left, r.usage)
	}
	return b.String()
}
