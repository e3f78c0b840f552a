package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/saxsdog/saxs"
	shared "github.com/saxsdog/saxs/internal/cli"
	"github.com/saxsdog/saxs/network/cluster"
)

const workerUsage = `Usage: saxsdogworker --nats URL [-t N] [--metrics-addr ADDR] [--cache-dir DIR] SERVERDIR

Integrates the frames of a saxsdog cluster: takes jobs from the NATS
JetStream of a head (saxsdogserver --nats or --nats-embed), reads each
frame below SERVERDIR (this machine's path of the head's SERVERDIR; jobs
name files relative to it), integrates it with the calibration version
the job names (built once, or loaded from the operator cache) and writes
its .chi files atomically, with the names the server would give them. A
job whose worker dies goes to another one after the head's --ack-wait.
SIGINT or SIGTERM finish the frames being integrated, hand the others
back and stop.
`

// WorkerMain runs saxsdogworker.
func WorkerMain(args []string, stdout, stderr io.Writer) int {
	const tool = "saxsdogworker"
	var nf natsFlags
	var threads int
	var cacheDir, metricsAddr, name string
	var retry time.Duration
	var verbose, noCache bool
	cmd := newCommand(tool, workerUsage)
	fs := cmd.Flags
	nf.add(fs, "the NATS server of the head, `URL` (required)")
	fs.IntVarP(&threads, shared.FlagThreads, "t", runtime.NumCPU(), "integrate `N` frames at once (default: the number of CPUs)")
	fs.StringVar(&cacheDir, "cache-dir", "", "keep built integration operators in `DIR` (default: <user cache folder>/saxs/operators)")
	fs.BoolVar(&noCache, "no-cache", false, "do not keep or load built integration operators")
	fs.StringVar(&metricsAddr, shared.FlagMetricsAddr, "", "serve Prometheus metrics at http://`ADDR`/metrics (host:port; port 0 picks one; default: none)")
	fs.StringVar(&name, "name", "", "the worker's `NAME` in results and dead letters (default host:pid)")
	fs.DurationVar(&retry, "retry-delay", cluster.DefaultRetryDelay, "wait `DURATION` before a failed frame is tried again")
	fs.BoolVar(&verbose, shared.FlagVerbose, false, "log every frame")
	if done, code := cmd.Parse(args, stdout, stderr); done {
		return code
	}
	switch {
	case fs.NArg() != 1:
		return usageError(stderr, tool, errors.New("exactly one SERVERDIR must be given"))
	case nf.url == "":
		return usageError(stderr, tool, errors.New("--nats URL is required"))
	case threads < 1:
		return usageError(stderr, tool, fmt.Errorf("--threads must be at least 1, not %d", threads))
	case retry <= 0:
		return usageError(stderr, tool, fmt.Errorf("--retry-delay must be positive, not %v", retry))
	case noCache && fs.Changed("cache-dir"):
		return usageError(stderr, tool, errors.New("--no-cache and --cache-dir exclude each other"))
	}
	if !noCache && cacheDir == "" {
		if d, err := saxs.DefaultCacheDir(); err == nil {
			cacheDir = d
		}
	}
	log := newLogger(stderr, logLevel(verbose))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	obs, err := startWorkerMetrics(ctx, metricsAddr, log)
	if err != nil {
		return fail(stderr, tool, err)
	}
	nc, err := cluster.Connect(nf.connectOptions(tool, log))
	if err != nil {
		return fail(stderr, tool, err)
	}
	defer func() {
		_ = nc.Drain()
		waitClosed(nc)
	}()
	w, err := cluster.NewWorker(nc, cluster.WorkerConfig{ServerDir: fs.Arg(0), Threads: threads, CacheDir: cacheDir,
		Name: name, RetryDelay: retry, Observer: obs, Logger: log})
	if err != nil {
		return usageError(stderr, tool, err)
	}
	if err := w.Run(ctx); err != nil {
		return fail(stderr, tool, err)
	}
	return ExitOK
}
