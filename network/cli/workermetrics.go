package cli

import (
	"context"
	"errors"
	"log/slog"

	"github.com/saxsdog/saxs/network/cluster"
)

// startWorkerMetrics serves the worker's metrics on addr ("" for none).
func startWorkerMetrics(_ context.Context, addr string, _ *slog.Logger) (cluster.Observer, error) {
	if addr == "" {
		return nil, nil
	}
	return nil, errors.New("--metrics-addr: metrics are not built in yet")
}
