package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/saxsdog/saxs/network"
)

const usage = `Usage: saxsleash web [--netconf F] [--addr HOST:PORT] [--no-browser]

Serves the leash as a web page: calibrate, start queues and watch them
live from a browser. The page talks to the servers of the network
configuration through this process, which keeps the secrets. Open the
printed address (it carries the session token); with --addr on an address
other than 127.0.0.1 or localhost anyone who can reach it and has the
token can drive the queues.
Options:
`

// Main runs "saxsleash web" with args (after "web") until ctx ends and
// returns the exit status (0, 1 for a runtime error, 2 for usage).
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("saxsleash web", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	var help, noBrowser bool
	var addr, netconf string
	var timeout time.Duration
	fs.BoolVarP(&help, "help", "h", false, "show this help")
	fs.StringVar(&addr, "addr", "127.0.0.1:8080", "listen on `HOST:PORT` (port 0: any free port)")
	fs.BoolVar(&noBrowser, "no-browser", false, "do not open a browser")
	fs.StringVar(&netconf, "netconf", "", "network configuration `FILE` (default $SAXSDOG_NETWORK or ~/.saxsdognetwork)")
	fs.DurationVar(&timeout, "timeout", network.DefaultTimeout, "give up on a server request after `D`")
	if err := fs.Parse(args); err != nil && !errors.Is(err, pflag.ErrHelp) {
		fmt.Fprintf(stderr, "saxsleash web: %v\nRun 'saxsleash web --help' for usage.\n", err)
		return 2
	} else if err != nil {
		help = true
	}
	if help {
		fmt.Fprint(stdout, usage+flagUsages(fs))
		return 0
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "saxsleash web: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	path, err := network.NetConfPath(netconf)
	if err != nil {
		fmt.Fprintf(stderr, "saxsleash web: %v\n", err)
		return 2
	}
	nc, err := network.LoadNetConf(path)
	if err != nil {
		fmt.Fprintf(stderr, "saxsleash web: %v\n", err)
		return 2
	}
	if w := network.PermissionWarning(path); w != "" {
		log.Warn(w)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		fmt.Fprintf(stderr, "saxsleash web: %v\n", err)
		return 1
	}
	host, _, _ := net.SplitHostPort(addr)
	if !IsLoopback(host) {
		log.Warn("listening on a non-loopback address: anyone who can reach it and has the token can start and abort queues", "addr", ln.Addr().String())
	}
	s, err := NewServer(Config{NetConf: nc, Timeout: timeout, Logger: log}, ln.Addr().String())
	if err != nil {
		ln.Close()
		fmt.Fprintf(stderr, "saxsleash web: %v\n", err)
		return 1
	}
	u := URL(ln.Addr(), s.Token())
	fmt.Fprintf(stdout, "saxsleash web: serving %d server(s) of %s\n    %s\n(Ctrl+C stops)\n", len(nc.Entries), path, u)
	if !noBrowser {
		if err := openBrowser(ctx, u); err != nil {
			fmt.Fprintf(stderr, "saxsleash web: could not open a browser (%v); open the address above\n", err)
		}
	}
	if err := s.Serve(ctx, ln); err != nil {
		fmt.Fprintf(stderr, "saxsleash web: %v\n", err)
		return 1
	}
	return 0
}

// flagUsages lists the flags one a line, with their defaults.
func flagUsages(fs *pflag.FlagSet) string {
	var b strings.Builder
	fs.VisitAll(func(f *pflag.Flag) {
		left := "    "
		if f.Shorthand != "" {
			left = "-" + f.Shorthand + ", "
		}
		left += "--" + f.Name
		name, usage := pflag.UnquoteUsage(f)
		if f.Value.Type() != "bool" {
			left += " " + name
			if f.DefValue != "" && f.DefValue != "0" {
				usage += " (default " + f.DefValue + ")"
			}
		}
		fmt.Fprintf(&b, "  %-22s %s\n", left, usage)
	})
	return b.String()
}

// URL returns the address to open for a listener: loopback when bound to
// a wildcard address, with the token.
func URL(a net.Addr, token string) string {
	host, port, _ := net.SplitHostPort(a.String())
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/?token=" + token
}

// openBrowser starts the desktop's browser on u; it does not wait for it.
func openBrowser(ctx context.Context, u string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.CommandContext(ctx, "open", u)
	case "windows":
		cmd = exec.CommandContext(ctx, "rundll32", "url.dll,FileProtocolHandler", u)
	default:
		cmd = exec.CommandContext(ctx, "xdg-open", u)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go cmd.Wait() // reap it; it ends on its own or with ctx
	return nil
}
