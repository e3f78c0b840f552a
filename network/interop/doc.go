// Package interop holds tests only: they build the network binaries
// (saxsnetconf, saxsdogserver, saxsfeeder, saxsleash) and the saxsdog
// command, run them as subprocesses on 127.0.0.1, and check them against the
// wire contract of the original saxsdog (spec §9) with an independent Python
// client and server (testdata/*.py, Debian python3 with python3-zmq) and raw
// ZeroMQ frames. Nothing here imports package network.
//
// SAXS_INTEROP_RACE=1 builds the commands with the race detector; a data
// race reported by a server or feeder then fails the test.
package interop
