package web

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
)

// event is one server-sent event, encoded.
type event struct {
	name string
	data []byte
}

// subscriber is one event stream: the latest event of each kind not yet
// written, in the order they came (a kind that comes again moves to the
// end), and a signal that there are some.
type subscriber struct {
	mu      sync.Mutex
	pending []event
	notify  chan struct{}
}

func newSubscriber() *subscriber { return &subscriber{notify: make(chan struct{}, 1)} }

// put queues e, replacing a pending event of its kind.
func (s *subscriber) put(e event) {
	s.mu.Lock()
	s.pending = slices.DeleteFunc(s.pending, func(p event) bool { return p.name == e.name })
	s.pending = append(s.pending, e)
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// take returns and clears the pending events.
func (s *subscriber) take() []event {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.pending
	s.pending = nil
	return out
}

// hub is the one watch of a server shared by its event streams. It runs
// while it has subscribers: the first starts its goroutine, the last
// stops it (and waits for it).
type hub struct {
	mu     sync.Mutex
	subs   map[*subscriber]bool
	last   []event // the latest event of each kind, for new subscribers
	cancel context.CancelFunc
	done   chan struct{}
}

// send is the emitter of the hub's watch: it encodes v once and passes it
// to every subscriber. It never fails.
func (h *hub) send(name string, v any) error {
	b, err := json.Marshal(browserValue(v))
	if err != nil {
		return err
	}
	e := event{name: name, data: b}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.last = slices.DeleteFunc(h.last, func(p event) bool { return p.name == name })
	h.last = append(h.last, e)
	for s := range h.subs {
		s.put(e)
	}
	return nil
}

// subscribe adds a stream to the hub of server n, starting the hub's
// watch when it is the first. The stream starts with the latest events.
func (s *Server) subscribe(n int) *subscriber {
	sub := newSubscriber()
	s.hubsMu.Lock()
	defer s.hubsMu.Unlock()
	h := s.hubs[n]
	if h == nil {
		c, _, _ := s.client(n) // n was checked by the caller
		ctx, cancel := context.WithCancel(context.Background())
		h = &hub{subs: map[*subscriber]bool{}, cancel: cancel, done: make(chan struct{})}
		s.hubs[n] = h
		go func() {
			defer close(h.done)
			if err := s.watch(ctx, c, h); err != nil && ctx.Err() == nil {
				s.log.Warn("watch ended", "server", n, "err", err)
			}
		}()
	}
	h.mu.Lock()
	h.subs[sub] = true
	for _, e := range h.last {
		sub.put(e)
	}
	h.mu.Unlock()
	return sub
}

// unsubscribe removes a stream; the last one stops the hub's watch.
func (s *Server) unsubscribe(n int, sub *subscriber) {
	s.hubsMu.Lock()
	h := s.hubs[n]
	if h == nil {
		s.hubsMu.Unlock()
		return
	}
	h.mu.Lock()
	delete(h.subs, sub)
	empty := len(h.subs) == 0
	h.mu.Unlock()
	if empty {
		delete(s.hubs, n)
	}
	s.hubsMu.Unlock()
	if empty {
		h.cancel()
		<-h.done
	}
}
