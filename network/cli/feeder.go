package cli

import (
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"syscall"

	shared "github.com/saxsdog/saxs/internal/cli"
	"github.com/saxsdog/saxs/network"
)

const feederUsage = `Usage: saxsfeeder [--netconf F] [-N i] [-p PORT] [--replay] DIR

Publishes {"command":"new file","argument":PATH} on a PUB socket bound to
the port of the Feeder address of configuration entry i (default 0, or
-p) for each frame (.tif, .tiff) written below DIR, once it is completely
written (size and time settled, then a whole TIFF: its header and tags
valid and every strip inside the file; the samples are not read); a
rewritten frame is announced again. With --replay it instead re-publishes every
frame under DIR every 7 s, like the original simulator.
`

// FeederMain runs saxsfeeder.
func FeederMain(args []string, stdout, stderr io.Writer) int {
	const tool = "saxsfeeder"
	var replay, verbose bool
	var netconf string
	var index, port int
	cmd := newCommand(tool, feederUsage)
	fs := cmd.Flags
	fs.StringVar(&netconf, shared.FlagNetConf, "", netConfUsage)
	fs.IntVarP(&index, shared.FlagServerNo, "N", 0, "use configuration entry `i`, counted from 0")
	fs.IntVarP(&port, shared.FlagPort, "p", 0, "bind to `PORT` instead of the configured feeder port (default: the configured one)")
	fs.BoolVar(&replay, "replay", false, "re-publish all frames under DIR every 7 s (the original's simulator)")
	fs.BoolVar(&verbose, shared.FlagVerbose, false, "log every published frame")
	if done, code := cmd.Parse(args, stdout, stderr); done {
		return code
	}
	if fs.NArg() != 1 {
		return usageError(stderr, tool, errors.New("exactly one DIR must be given"))
	}
	if fi, err := os.Stat(fs.Arg(0)); err != nil || !fi.IsDir() {
		return usageError(stderr, tool, errors.New(fs.Arg(0)+" is not a folder"))
	}
	if port < 0 || port > 65535 {
		return usageError(stderr, tool, errors.New("invalid port"))
	}
	log := newLogger(stderr, logLevel(verbose))
	var addr string
	if port > 0 && netconf == "" && !network.Exists(mustPath(netconf)) {
		addr, _ = network.BindAddr("", port)
	} else {
		nc, err := loadNetConf(netconf, log)
		if err != nil {
			return usageError(stderr, tool, err)
		}
		e, err := nc.Entry(index)
		if err != nil {
			return usageError(stderr, tool, err)
		}
		if addr, err = network.BindAddr(e.Feeder, port); err != nil {
			return usageError(stderr, tool, err)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	pub, err := network.ListenPub(ctx, addr, log)
	if err != nil {
		return fail(stderr, tool, err)
	}
	defer pub.Close()
	log.Info("feeding", "address", addr, "folder", fs.Arg(0), "replay", replay)
	if err := network.RunFeeder(ctx, pub, network.FeederConfig{Dir: fs.Arg(0), Replay: replay, Logger: log}); err != nil {
		return fail(stderr, tool, err)
	}
	return ExitOK
}

func mustPath(flag string) string {
	p, _ := network.NetConfPath(flag)
	return p
}
