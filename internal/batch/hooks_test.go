package batch

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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

// TestAnnounceSlowWriter checks that a run that only announces frames
// (whose TIFFs are checked, not read) announces a frame written in pieces
// once, and only when it is whole: the file is then byte for byte what the
// writer wrote. The pauses between the pieces are longer than the settle
// time, and the folder is polled (no close-after-write events), so that
// the check sees the incomplete frames and they are retried.
func TestAnnounceSlowWriter(t *testing.T) {
	_, _, data, _ := fixture(t)
	require.NoError(t, os.MkdirAll(data, 0o755))
	var mu sync.Mutex
	want := map[string][]byte{}
	announced := map[string]int{}
	var bad []string
	w := startWatch(t, Config{Roots: []string{data}, InPlace: true, NoWalk: true, Workers: 2,
		Watch: &Watch{Settle: testSettle, Timeout: 10 * time.Second, Poll: 20 * time.Millisecond},
		Announce: func(p string) error {
			got, err := os.ReadFile(p)
			mu.Lock()
			defer mu.Unlock()
			announced[p]++
			if err != nil || !bytes.Equal(got, want[p]) {
				bad = append(bad, fmt.Sprintf("%s: %d of %d bytes when announced (%v)", p, len(got), len(want[p]), err))
			}
			return nil
		}})
	var wg sync.WaitGroup
	for i := range 3 {
		p := filepath.Join(data, fmt.Sprintf("slow%d.tif", i))
		b := frameBytes(t, testRows, testCols, int32(i+2))
		mu.Lock()
		want[p] = b
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			writeSlowly(t, p, b, 4, 3*testSettle)
		}()
	}
	wg.Wait()
	w.waitFor("3 announcements", func() bool { return len(w.converted) >= 3 })
	time.Sleep(4 * testSettle)
	s := w.stop()
	mu.Lock()
	defer mu.Unlock()
	assert.Empty(t, bad)
	assert.Len(t, announced, 3)
	for p, n := range announced {
		assert.Equal(t, 1, n, "%s announced %d times", p, n)
	}
	assert.Equal(t, 3, s.Converted, "summary %+v", s)
	assert.True(t, w.log.has("incomplete, retrying"), "no check of an incomplete frame was retried")
}
