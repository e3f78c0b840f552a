package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"sync"
	"syscall"

	"github.com/saxsdog/saxs"
	"github.com/saxsdog/saxs/internal/batch"
	shared "github.com/saxsdog/saxs/internal/cli"
	"github.com/saxsdog/saxs/network"
	"github.com/saxsdog/saxs/network/cluster"
	"github.com/saxsdog/saxs/network/metrics"
)

const serverUsage = `Usage: saxsdogserver [--netconf F] [-N i] [-p PORT] [-t N] [-R REL | -o DIR] [--strict] [--metrics-addr ADDR]
                     [--stream tcp://DCU:PORT] [--nats URL | --nats-embed ADDR [--state-dir DIR]] SERVERDIR

Serves the saxsdog queues of the network configuration: one queue per
configured server (all of them, or entry i with -N), each answering the
leash on a REP socket bound to the port of its Server address (or -p) and
subscribing to its Feeder. A queue converts the frames of its folder
(Directory of the calibration sent with new, below SERVERDIR) as they are
completely written, announced by the feeder or seen by the server's own
watch, into .chi files next to the data (-R, default ../work) or below
-o DIR, in the folders the frames have below SERVERDIR. SIGINT or SIGTERM
finish the frames in flight and stop.

With --stream the server also receives an Eiger's stream interface
(DECTRIS stream v1 or v2, as its single consumer) and integrates each
frame in memory with the active queue's calibration, writing
<series>_<frame:06d>.chi where the queue writes the curves of a frame
in its folder (-R, default ../work, or below -o DIR).

With --nats URL or --nats-embed ADDR the server is the head of a cluster:
the frames it finds complete become jobs on NATS JetStream for
saxsdogworker processes on any machine that sees SERVERDIR, and stat,
plot and fileslist report their results (see README, "More than one
machine"). Without them no NATS code runs.
`

// ServerMain runs saxsdogserver.
func ServerMain(args []string, stdout, stderr io.Writer) int {
	const tool = "saxsdogserver"
	var strict, verbose bool
	var netconf, relPath, outDir, metricsAddr, streamAddr string
	var index, port, threads int
	cmd := newCommand(tool, serverUsage)
	fs := cmd.Flags
	var formats []string
	var head headFlags
	fs.StringSliceVar(&formats, shared.FlagFormat, []string{batch.FormatChi}, "output `FORMATS`, comma-separated: chi (always), dat, nxcansas (as saxsdog --format)")
	fs.StringVar(&netconf, shared.FlagNetConf, "", netConfUsage)
	fs.IntVarP(&index, shared.FlagServerNo, "N", -1, "serve only configuration entry `i`, counted from 0 (default: all)")
	fs.IntVarP(&port, shared.FlagPort, "p", 0, "bind the command socket to `PORT` instead of the configured one (default: the configured one)")
	fs.IntVarP(&threads, shared.FlagThreads, "t", runtime.NumCPU(), "convert `N` frames at once unless the calibration sets Threads (default: the number of CPUs)")
	fs.StringVarP(&relPath, shared.FlagRelPath, "R", network.DefaultRelPath, "write the .chi files to `REL` relative to each frame's folder")
	fs.StringVarP(&outDir, shared.FlagOut, "o", "", "write the .chi files below `DIR`, mirroring SERVERDIR (DIR/run1/x.chi for SERVERDIR/run1/x.tif)")
	fs.BoolVar(&strict, "strict", false, "require the SHA-512 digests of mask attachments (sent by saxsleash, not by the original)")
	fs.StringVar(&metricsAddr, shared.FlagMetricsAddr, "", "serve Prometheus metrics at http://`ADDR`/metrics (host:port; port 0 picks one; default: none)")
	fs.BoolVar(&verbose, shared.FlagVerbose, false, "log every request and frame")
	fs.StringVar(&streamAddr, "stream", "", "receive the Eiger stream interface (DECTRIS v1 or v2) at `tcp://DCU:PORT` and integrate its frames with the active queue")
	head.add(fs)
	if done, code := cmd.Parse(args, stdout, stderr); done {
		return code
	}
	switch {
	case fs.NArg() != 1:
		return usageError(stderr, tool, errors.New("exactly one SERVERDIR must be given"))
	case fs.Changed(shared.FlagRelPath) && fs.Changed(shared.FlagOut):
		return usageError(stderr, tool, errors.New("-R and -o exclude each other"))
	case threads < 1:
		return usageError(stderr, tool, fmt.Errorf("--threads must be at least 1, not %d", threads))
	case port < 0 || port > 65535:
		return usageError(stderr, tool, fmt.Errorf("invalid port %d", port))
	}
	if streamAddr != "" && !strings.HasPrefix(streamAddr, "tcp://") && !strings.HasPrefix(streamAddr, "ipc://") {
		return usageError(stderr, tool, fmt.Errorf("--stream %q: a ZeroMQ address tcp://HOST:PORT (or ipc://PATH) expected", streamAddr))
	}
	if err := head.check(); err != nil {
		return usageError(stderr, tool, err)
	}
	dat, nxcansas, err := batch.ParseFormats(formats)
	if err != nil {
		return usageError(stderr, tool, fmt.Errorf("--format: %w", err))
	}
	if outDir != "" {
		relPath = ""
	}
	log := newLogger(stderr, logLevel(verbose))
	nc, err := loadNetConf(netconf, log)
	if err != nil {
		return usageError(stderr, tool, err)
	}
	indices := []int{index}
	if index < 0 {
		indices = indices[:0]
		for i := range nc.Entries {
			indices = append(indices, i)
		}
		if port > 0 && len(indices) > 1 {
			return usageError(stderr, tool, errors.New("-p needs -N when the configuration lists several servers"))
		}
		if streamAddr != "" && len(indices) > 1 {
			return usageError(stderr, tool, errors.New("--stream needs -N when the configuration lists several servers"))
		}
	} else if _, err := nc.Entry(index); err != nil {
		return usageError(stderr, tool, err)
	}
	cacheDir, err := saxs.DefaultCacheDir()
	if err != nil {
		cacheDir = ""
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var clusterHead *cluster.Head
	if head.enabled() {
		h, closeHead, err := head.start(ctx, log)
		if err != nil {
			return fail(stderr, tool, err)
		}
		defer closeHead()
		clusterHead = h
	}
	var m *metrics.Metrics
	if metricsAddr != "" {
		m = metrics.New("server")
	}
	var servers []*network.Server
	verifiers := map[string]*network.Verifier{} // one per secret: no replay from one server to another
	for _, i := range indices {
		secret := nc.Entries[i].Secret
		if verifiers[secret] == nil {
			verifiers[secret] = network.NewVerifier(secret)
		}
		s, err := network.NewServer(network.ServerConfig{Dir: fs.Arg(0), NetConf: nc, Index: i, Port: port,
			Threads: threads, RelPath: relPath, OutDir: outDir, Strict: strict, CacheDir: cacheDir, Logger: log,
			Verifier: verifiers[secret], Dat: dat, NXcanSAS: nxcansas, Metrics: m, Stream: streamAddr, Cluster: clusterHead})
		if err != nil {
			return usageError(stderr, tool, err)
		}
		if err := s.Listen(ctx); err != nil {
			return fail(stderr, tool, err)
		}
		servers = append(servers, s)
	}
	if m != nil {
		m.SetQueueLength(func() float64 {
			n := 0
			for _, s := range servers {
				n += s.QueueLength()
			}
			return float64(n)
		})
		if _, err := metrics.Serve(ctx, metricsAddr, m.Handler(), log); err != nil {
			return fail(stderr, tool, err)
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, len(servers))
	for i, s := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Serve(ctx)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fail(stderr, tool, err)
	}
	log.Info("stopped")
	return ExitOK
}
