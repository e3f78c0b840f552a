package cli

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"

	"github.com/saxsdog/saxs/network"
)

const netconfUsage = `Usage: saxsnetconf [-n] [--no-edit] [--netconf FILE]

Creates the saxsdog network configuration (~/.saxsdognetwork, or the file
named by --netconf or $SAXSDOG_NETWORK) when it is missing, with the
default addresses tcp://localhost:9723 (server) and tcp://localhost:9823
(feeder), the name Queue1 and a random secret, mode 0600. On a terminal it
then opens the file in $EDITOR (vi when unset), and finally validates it
and rewrites it indented by four spaces. Both layouts are read: the 0.3.0
single object and the 2.0 list of servers with Name.
`

// NetconfMain runs saxsnetconf.
func NetconfMain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	const tool = "saxsnetconf"
	var help, version, always, noEdit bool
	var path string
	fs := newFlags(tool, stderr, &help, &version)
	fs.BoolVarP(&always, "new", "n", false, "create a new configuration even if one exists (a new secret)")
	fs.BoolVar(&noEdit, "no-edit", false, "do not open the editor")
	fs.StringVar(&path, "netconf", "", "the configuration `FILE` (default $SAXSDOG_NETWORK or ~/.saxsdognetwork)")
	if st, done := parse(fs, tool, netconfUsage, args, stdout, stderr, &help, &version); done {
		return st
	}
	if fs.NArg() > 0 {
		return usageError(stderr, tool, fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	log := newLogger(stderr, slog.LevelInfo)
	path, err := network.NetConfPath(path)
	if err != nil {
		return fail(stderr, tool, err)
	}
	if always || !network.Exists(path) {
		nc, err := network.DefaultNetConf(path)
		if err != nil {
			return fail(stderr, tool, err)
		}
		if err := nc.Write(); err != nil {
			return fail(stderr, tool, err)
		}
		fmt.Fprintf(stdout, "created %s\n", path)
	}
	if !noEdit && isTerminal(stdin) && isTerminal(stdout) {
		editor := os.Getenv("EDITOR")
		if editor == "" {
			editor = "vi"
		}
		cmd := exec.Command("sh", "-c", editor+` "$1"`, "sh", path)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
		if err := cmd.Run(); err != nil {
			return fail(stderr, tool, fmt.Errorf("editor %s: %w", editor, err))
		}
	}
	nc, err := network.LoadNetConf(path)
	if err != nil {
		return fail(stderr, tool, err)
	}
	if err := nc.Write(); err != nil {
		return fail(stderr, tool, err)
	}
	if w := network.PermissionWarning(path); w != "" {
		log.Warn(w)
	}
	for i, e := range nc.Entries {
		fmt.Fprintf(stdout, "%d %s: server %s, feeder %s\n", i, nameOr(e.Name, "-"), e.Server, e.Feeder)
	}
	return ExitOK
}

func nameOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// isTerminal reports whether f is an *os.File on a character device.
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	if !ok {
		return false
	}
	fi, err := file.Stat()
	if err != nil {
		return false
	}
	return fi.Mode()&os.ModeCharDevice != 0
}
