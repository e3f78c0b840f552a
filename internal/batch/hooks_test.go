package batch

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestAnnounceOnly checks Config.Announce: complete frames are handed
// over once, nothing is written, and no calibration is needed.
func TestAnnounceOnly(t *testing.T) {
	_, _, data, out := fixture(t)
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]int{}
	watching := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	c, err := New(Config{Roots: []string{data}, InPlace: true, NoWalk: true, ErrorLog: "-",
		Watch:    &Watch{Settle: 20 * time.Millisecond, Timeout: time.Second},
		Watching: func() { close(watching) },
		Announce: func(p string) error {
			mu.Lock()
			seen[p]++
			mu.Unlock()
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan Summary, 1)
	go func() {
		s, _ := c.Run(ctx)
		done <- s
	}()
	<-watching
	a, b := filepath.Join(data, "a.tif"), filepath.Join(data, "b.tif")
	writeFrame(t, a, 1)
	writeFrame(t, b, 2)
	deadline := time.Now().Add(testWait)
	for {
		mu.Lock()
		n := len(seen)
		mu.Unlock()
		if n == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	s := <-done
	if seen[a] != 1 || seen[b] != 1 || s.Converted != 2 {
		t.Errorf("announced %v, summary %+v", seen, s)
	}
	ents, _ := os.ReadDir(data)
	if len(ents) != 2 {
		t.Errorf("files written next to the frames: %v", ents)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("output folder created: %v", err)
	}
}

// TestWatchEvents checks that a frame announced through WatchEvents and
// also seen by the watch is converted once, and that an announced frame
// whose outputs are up to date is not converted again.
func TestWatchEvents(t *testing.T) {
	_, cal, data, out := fixture(t)
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(data, "old.tif")
	writeFrame(t, old, 3)
	if s, err := Run(context.Background(), Config{Calibration: cal, Roots: []string{data}, OutDir: out, ErrorLog: "-"}); err != nil || s.Converted != 1 {
		t.Fatalf("%+v %v", s, err)
	}
	fresh := filepath.Join(data, "fresh.tif")
	var mu sync.Mutex
	converted := map[string]int{}
	watching := make(chan struct{})
	events := make(chan string)
	ctx, cancel := context.WithCancel(context.Background())
	c, err := New(Config{Calibration: cal, Roots: []string{data}, OutDir: out, NoWalk: true, ErrorLog: "-",
		Watch:    &Watch{Settle: 20 * time.Millisecond, Timeout: time.Second},
		Watching: func() { close(watching) },
		WatchEvents: []Source{func(ctx context.Context, add func(string) error) error {
			for {
				select {
				case <-ctx.Done():
					return nil
				case p := <-events:
					if err := add(p); err != nil {
						return nil
					}
				}
			}
		}},
		Progress: func(p Progress) {
			if p.File != nil && p.File.Status == Converted {
				mu.Lock()
				converted[p.File.Path]++
				mu.Unlock()
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan Summary, 1)
	go func() {
		s, _ := c.Run(ctx)
		done <- s
	}()
	<-watching
	writeFrame(t, fresh, 4)
	for range 20 {
		events <- fresh
		events <- old
	}
	deadline := time.Now().Add(testWait)
	for {
		mu.Lock()
		n := converted[fresh]
		mu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // let a duplicate, if any, come through
	cancel()
	<-done
	if converted[fresh] != 1 || converted[old] != 0 {
		t.Errorf("converted %v", converted)
	}
}
