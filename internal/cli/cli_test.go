//go:build unix

package cli

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestQuote(t *testing.T) {
	if got := Quote("a\nb", 0); got != `"a\nb"` {
		t.Errorf("short: %s", got)
	}
	long := strings.Repeat("é", 1000) // 2 bytes each
	got := Quote(long, 10)
	if want := `"` + strings.Repeat("é", 10) + `"… (1980 more bytes)`; got != want {
		t.Errorf("long: %s, want %s", got, want)
	}
	if got := Quote(strings.Repeat("x", 100<<10), 0); len(got) > MaxQuote+40 {
		t.Errorf("default cut: %d bytes", len(got))
	}
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, []byte("12345"), 0o644); err != nil {
		t.Fatal(err)
	}
	if data, err := ReadFile(p, 5); err != nil || string(data) != "12345" {
		t.Errorf("at the limit: %q, %v", data, err)
	}
	var tl *TooLargeError
	if _, err := ReadFile(p, 4); !errors.As(err, &tl) || tl.Limit != 4 {
		t.Errorf("over the limit: %v", err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{fifo, "/dev/zero", dir} {
		if _, err := ReadFile(q, 1<<20); !errors.Is(err, ErrNotRegular) {
			t.Errorf("%s: %v, want ErrNotRegular", q, err)
		}
	}
	link := filepath.Join(dir, "link")
	os.Symlink(p, link)
	if data, err := ReadFile(link, 10); err != nil || string(data) != "12345" {
		t.Errorf("symbolic link: %q, %v", data, err)
	}
	if _, err := ReadFile(filepath.Join(dir, "missing"), 10); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
}

func TestUsageError(t *testing.T) {
	var b bytes.Buffer
	if code := UsageError(&b, "tool", "bad"); code != ExitUsage || b.String() != "tool: bad\nRun 'tool --help' for usage.\n" {
		t.Errorf("%d %q", code, b.String())
	}
	if v := VersionLine("tool"); !strings.HasPrefix(v, "tool version ") || strings.Contains(v, "\n") {
		t.Errorf("version line %q", v)
	}
}
