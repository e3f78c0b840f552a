package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/saxsdog/saxs/internal/atomicfile"
)

// Floor is the I/O floor of a batch over a folder of frames: per frame,
// open the file, read it whole into a reused buffer, sum its 32-bit words
// (a pass over the pixels that any integration makes) and write a file of
// chiBytes bytes atomically (temporary file renamed over the output), as
// the batch writes its .chi file. workers goroutines share the frames. It
// returns the time taken over all frames.
//
// A batch cannot be faster than its floor on the same machine, so the
// ratio of the two, measured in the same run, says how much of the time
// the batch spends beyond moving the bytes, whatever the machine's load.
func Floor(ctx context.Context, frames []string, outDir string, chiBytes, workers int) (time.Duration, error) {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return 0, fmt.Errorf("floor: %w", err)
	}
	out := make([]byte, chiBytes)
	for i := range out {
		out[i] = byte('0' + i%10)
		if i%80 == 79 {
			out[i] = '\n'
		}
	}
	jobs := make(chan string)
	errs := make([]error, workers)
	sums := make([]int64, workers)
	var wg sync.WaitGroup
	t0 := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []int32
			for p := range jobs {
				if errs[w] != nil {
					continue
				}
				var s int64
				s, buf, errs[w] = floorRead(p, buf)
				sums[w] += s
				if errs[w] == nil {
					name := strings.TrimSuffix(filepath.Base(p), filepath.Ext(p)) + ".chi"
					errs[w] = atomicfile.WriteFile(filepath.Join(outDir, name), out, 0o644)
				}
			}
		}()
	}
	for _, p := range frames {
		select {
		case jobs <- p:
			continue
		case <-ctx.Done():
		}
		break
	}
	close(jobs)
	wg.Wait()
	d := time.Since(t0)
	for _, err := range errs {
		if err != nil {
			return d, fmt.Errorf("floor: %w", err)
		}
	}
	return d, ctx.Err()
}

// floorRead reads the file at path into buf (grown as needed, returned for
// reuse) and returns the sum of its 32-bit words.
func floorRead(path string, buf []int32) (int64, []int32, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, buf, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, buf, err
	}
	n := int(fi.Size()+3) / 4
	if cap(buf) < n {
		buf = make([]int32, n)
	}
	buf = buf[:n]
	if n == 0 {
		return 0, buf, nil
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(&buf[0])), 4*n)[:fi.Size()]
	if _, err := io.ReadFull(f, b); err != nil {
		return 0, buf, err
	}
	var s int64
	for _, v := range buf {
		s += int64(v)
	}
	return s, buf, nil
}

// listFrames returns the .tif files of dir, sorted.
func listFrames(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var l []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".tif") {
			l = append(l, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(l)
	return l, nil
}
