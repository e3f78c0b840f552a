package cli

import (
	"context"
	"log/slog"

	"github.com/saxsdog/saxs/network/cluster"
	"github.com/saxsdog/saxs/network/metrics"
)

// startWorkerMetrics serves the worker's metrics (role "worker") at
// http://addr/metrics until ctx ends; "" serves none and returns nil.
func startWorkerMetrics(ctx context.Context, addr string, log *slog.Logger) (cluster.Observer, error) {
	if addr == "" {
		return nil, nil
	}
	m := metrics.New("worker")
	bound, err := metrics.Serve(ctx, addr, m.Handler(), log)
	if err != nil {
		return nil, err
	}
	log.Info("metrics", "url", "http://"+bound+"/metrics")
	return m, nil
}
