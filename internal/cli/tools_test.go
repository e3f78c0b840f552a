package cli_test

import (
	"bytes"
	"io"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/saxsdog/saxs/internal/bench"
	"github.com/saxsdog/saxs/internal/calibcli"
	"github.com/saxsdog/saxs/internal/cli"
	"github.com/saxsdog/saxs/internal/converter"
	"github.com/saxsdog/saxs/internal/mergecli"
	"github.com/saxsdog/saxs/internal/plotchi"
	"github.com/saxsdog/saxs/internal/saxsdogcli"
	netcli "github.com/saxsdog/saxs/network/cli"
	"github.com/saxsdog/saxs/network/stream"
)

// tools are the commands of the module with their Main functions. A new
// command is added here.
var tools = []struct {
	name string
	main func(args []string, stdout, stderr io.Writer) int
}{
	{"saxsdog", saxsdogcli.Main},
	{"saxsconverter", converter.Main},
	{"plotchi", plotchi.Run},
	{"saxsbench", bench.Main},
	{"saxsnetconf", func(args []string, stdout, stderr io.Writer) int {
		return netcli.NetconfMain(args, strings.NewReader(""), stdout, stderr)
	}},
	{"saxsdogserver", netcli.ServerMain},
	{"saxsfeeder", netcli.FeederMain},
	{"saxsleash", netcli.LeashMain},
	{"saxsdogworker", netcli.WorkerMain},
	{"saxsstreamsim", stream.SimMain},
	{"saxscalib", calibcli.Main},
	{"saxsmerge", mergecli.Main},
}

// network are the network tools.
var network = []string{"saxsnetconf", "saxsdogserver", "saxsfeeder", "saxsleash"}

// all are the names of all tools.
func all() []string {
	var names []string
	for _, tool := range tools {
		names = append(names, tool.name)
	}
	return names
}

// synonyms maps each shared idea's long name to names that must not be
// used for it.
var synonyms = map[string][]string{
	cli.FlagCalibration: {"cal", "calib", "calibration-file", "calfile"},
	cli.FlagOut:         {"output", "outdir", "out-dir", "output-dir"},
	cli.FlagThreads:     {"workers", "jobs", "procs", "nthreads"},
	cli.FlagSilent:      {"quiet"},
	cli.FlagVerbose:     {"debug"},
	cli.FlagNetConf:     {"net-conf", "network", "config"},
	cli.FlagVersion:     {"ver"},
	cli.FlagRelPath:     {"rel", "rel-path", "reldir"},
	cli.FlagServerNo:    {"server-no", "entry", "index", "serverid"},
	cli.FlagPort:        {"bind-port", "listen"},
	cli.FlagTimeout:     {"deadline", "wait"},
	cli.FlagFormat:      {"formats", "output-format"},
	cli.FlagMetricsAddr: {"metrics", "prometheus-addr", "metrics-address"},
}

// flagLine matches a flag in a help text: "  -c, --calibration FILE" or
// "      --to SCHEMA".
var flagLine = regexp.MustCompile(`(?m)^\s+(?:-([[:alnum:]]), )?--([[:alnum:]-]+)`)

func call(main func([]string, io.Writer, io.Writer) int, args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := main(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// TestOneFlagLanguage walks every command's --help: the help is printed
// once, to stdout; --version works; a usage error has the one style; and
// the ideas the tools share have the same long name (and the same short
// letter where they have one) everywhere.
func TestOneFlagLanguage(t *testing.T) {
	flags := map[string]map[string]string{} // tool -> long name -> short letter
	for _, tool := range tools {
		for _, h := range []string{"--help", "-h"} {
			code, stdout, stderr := call(tool.main, h)
			if code != cli.ExitOK || stderr != "" {
				t.Errorf("%s %s: exit %d, stderr %q", tool.name, h, code, stderr)
			}
			if n := strings.Count(stdout, "Usage: "+tool.name); n != 1 {
				t.Errorf("%s %s: usage printed %d times:\n%s", tool.name, h, n, stdout)
			}
		}
		_, help, _ := call(tool.main, "--help")
		flags[tool.name] = map[string]string{}
		for _, m := range flagLine.FindAllStringSubmatch(help, -1) {
			flags[tool.name][m[2]] = m[1]
		}

		code, stdout, stderr := call(tool.main, "--version")
		if code != cli.ExitOK || stderr != "" || !strings.HasPrefix(stdout, tool.name+" version ") || strings.Count(stdout, "\n") != 1 {
			t.Errorf("%s --version: exit %d, stdout %q, stderr %q", tool.name, code, stdout, stderr)
		}
		code, stdout, stderr = call(tool.main, "--no-such-flag")
		want := tool.name + ": unknown flag: --no-such-flag\nRun '" + tool.name + " --help' for usage.\n"
		if code != cli.ExitUsage || stdout != "" || stderr != want {
			t.Errorf("%s --no-such-flag: exit %d, stdout %q, stderr %q, want %q", tool.name, code, stdout, stderr, want)
		}
	}

	// Where each shared idea must be present.
	for idea, in := range map[string][]string{
		cli.FlagCalibration: {"saxsdog", "saxsbench"},
		cli.FlagOut:         {"saxsdog", "plotchi", "saxsdogserver", "saxsleash"},
		cli.FlagThreads:     {"saxsdog", "saxsbench", "saxsdogserver", "saxsdogworker"},
		cli.FlagSilent:      {"saxsdog", "saxsconverter"},
		cli.FlagVerbose:     {"saxsdogserver", "saxsfeeder", "saxsdogworker"},
		cli.FlagRelPath:     {"saxsdog", "saxsdogserver"},
		cli.FlagTimeout:     {"saxsdog", "saxsleash"},
		cli.FlagNetConf:     network,
		cli.FlagServerNo:    {"saxsdogserver", "saxsfeeder", "saxsleash"},
		cli.FlagPort:        {"saxsdogserver", "saxsfeeder"},
		cli.FlagFormat:      {"saxsdog", "saxsdogserver"},
		cli.FlagMetricsAddr: {"saxsdogserver", "saxsdogworker"},
		cli.FlagVersion:     all(),
		cli.FlagHelp:        all(),
	} {
		for _, tool := range in {
			if _, ok := flags[tool][idea]; !ok {
				t.Errorf("%s has no --%s", tool, idea)
			}
		}
	}
	for idea, bad := range synonyms {
		short := map[string]string{} // letter -> tool
		for tool, fl := range flags {
			for _, b := range bad {
				if _, ok := fl[b]; ok {
					t.Errorf("%s calls --%s --%s", tool, idea, b)
				}
			}
			if s, ok := fl[idea]; ok && s != "" {
				short[s] = tool
			}
		}
		if len(short) > 1 {
			t.Errorf("--%s has different short letters: %v", idea, short)
		}
	}
	// Short letters only where the original tools had them (-h is every
	// tool's): the network tools' are listed in the package doc.
	for tool, want := range map[string]string{
		"saxsnetconf":   "hn",
		"saxsdogserver": "NRhopt",
		"saxsfeeder":    "Nhp",
		"saxsleash":     "NShkosxy", // -s -k -x -y as the original leash (spec §9.10)
	} {
		var got []string
		for _, s := range flags[tool] {
			if s != "" {
				got = append(got, s)
			}
		}
		sort.Strings(got)
		if strings.Join(got, "") != want {
			t.Errorf("%s has the short letters %q, want %q", tool, strings.Join(got, ""), want)
		}
	}
	if t.Failed() {
		t.Logf("flags: %v", flags)
	}
}
