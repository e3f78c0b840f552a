package cli

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/saxsdog/saxs/network"
)

const feederUsage = `Usage: saxsfeeder [--netconf F] [-N i] [-p PORT] [--replay] DIR

Publishes {"command":"new file","argument":PATH} on a PUB socket bound to
the port of the Feeder address of configuration entry i (default 0, or
-p) for each frame (.tif, .tiff) written below DIR, once it is completely
written (size and time settled, then readable as a TIFF); a rewritten
frame is announced again. With --replay it instead re-publishes every
frame under DIR every 7 s, like the original simulator.
`

// FeederMain runs saxsfeeder.
func FeederMain(args []string, stdout, stderr io.Writer) int {
	const tool = "saxsfeeder"
	var help, version, replay, verbose bool
	var netconf string
	var index, port int
	fs := newFlags(tool, stderr, &help, &version)
	fs.StringVar(&netconf, "netconf", "", "network configuration `FILE` (default $SAXSDOG_NETWORK or ~/.saxsdognetwork)")
	fs.IntVarP(&index, "serverno", "N", 0, "use configuration entry `i`")
	fs.IntVarP(&port, "port", "p", 0, "bind to `PORT` instead of the configured feeder port")
	fs.BoolVar(&replay, "replay", false, "re-publish all frames under DIR every 7 s (the original's simulator)")
	fs.BoolVarP(&verbose, "verbose", "v", false, "log every published frame")
	if st, done := parse(fs, tool, feederUsage, args, stdout, stderr, &help, &version); done {
		return st
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
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	log := newLogger(stderr, level)
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
