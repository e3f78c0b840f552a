//go:build tools

// Package deps pins the modules of issue 12 until code imports them; it is
// never built (build tag tools) and goes away when the code lands.
package deps

import (
	_ "github.com/fxamacker/cbor/v2"
	_ "github.com/nats-io/nats-server/v2/server"
	_ "github.com/nats-io/nats.go"
	_ "github.com/nats-io/nats.go/jetstream"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
)
