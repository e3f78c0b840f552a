package web

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSubscriberKeepsTheLatestOfEachKind: a slow page gets the latest
// event of each kind, in the order of their last arrival.
func TestSubscriberKeepsTheLatestOfEachKind(t *testing.T) {
	s := newSubscriber()
	s.put(event{"plot", []byte("1")})
	s.put(event{"calibration", []byte("c")})
	s.put(event{"stat", []byte("s1")})
	s.put(event{"plot", []byte("2")})
	s.put(event{"stat", []byte("s2")})
	require.Len(t, s.notify, 1)
	got := s.take()
	require.Equal(t, []event{{"calibration", []byte("c")}, {"plot", []byte("2")}, {"stat", []byte("s2")}}, got)
	require.Empty(t, s.take())
}

// TestOneWatchPerServer: two streams of one server share one hub, which
// stops with the last stream.
func TestOneWatchPerServer(t *testing.T) {
	w := startWeb(t, "tcp://127.0.0.1:1", "tcp://127.0.0.1:2")
	a, b, c := w.subscribe(0), w.subscribe(0), w.subscribe(1)
	w.hubsMu.Lock()
	require.Len(t, w.hubs, 2)
	require.Len(t, w.hubs[0].subs, 2)
	w.hubsMu.Unlock()
	w.unsubscribe(0, a)
	w.hubsMu.Lock()
	require.Len(t, w.hubs, 2)
	w.hubsMu.Unlock()
	w.unsubscribe(0, b)
	w.unsubscribe(1, c)
	w.hubsMu.Lock()
	require.Empty(t, w.hubs)
	w.hubsMu.Unlock()
}
