// Package cli holds the command-line logic of the saxsdog network tools:
// saxsnetconf, saxsdogserver, saxsfeeder and saxsleash. Each Main takes
// the arguments (without the program name), the standard streams and
// returns the exit status; the mains in cmd/ only call them.
//
// The command lines speak the language of the other saxs tools
// (internal/cli): the same long name for the same idea (--netconf,
// --serverno, --port, --threads, --relpath, --out, --timeout,
// --verbose), short letters only where the original saxsdog network
// tools had them, --help printed once to stdout, --version from the build
// information, and one style of usage error (exit status 2).
package cli

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	shared "github.com/saxsdog/saxs/internal/cli"
	"github.com/saxsdog/saxs/network"
)

// Exit statuses, those of the other saxs tools.
const (
	ExitOK     = shared.ExitOK
	ExitFailed = shared.ExitError // a failed request, no answer, a runtime error
	ExitUsage  = shared.ExitUsage // bad command line or configuration
)

// Version returns the version of the module the binary was built from
// (see internal/cli.Version).
func Version() string { return shared.Version() }

// netConfUsage is the usage of --netconf in every network tool.
const netConfUsage = "network configuration `FILE` (default $SAXSDOG_NETWORK or ~/.saxsdognetwork)"

// newCommand returns the command line of tool whose --help prints usage
// (the text up to the option list) followed by the flags.
func newCommand(tool, usage string) *shared.Command {
	c := shared.New(tool, nil)
	fs := c.Flags
	c.Help = func() string {
		return strings.TrimRight(usage, "\n") + "\n\nOptions:\n" + shared.FlagUsages(fs)
	}
	return c
}

// usageError prints the usage error of the tool and returns ExitUsage.
func usageError(stderr io.Writer, tool string, err error) int {
	return shared.UsageError(stderr, tool, err.Error())
}

// fail prints "tool: message" and returns ExitFailed.
func fail(stderr io.Writer, tool string, err error) int {
	fmt.Fprintf(stderr, "%s: %v\n", tool, err)
	return ExitFailed
}

// logLevel is the level of the tools' logs: debug with --verbose.
func logLevel(verbose bool) slog.Level {
	if verbose {
		return slog.LevelDebug
	}
	return slog.LevelInfo
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
