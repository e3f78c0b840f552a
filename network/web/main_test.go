package web

import (
	"bytes"
	"context"
	"github.com/saxsdog/saxs/internal/testframes"
	"net/http"
	"net/http/cookiejar"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/saxsdog/saxs/network"
)

func TestMainServesThePrintedAddress(t *testing.T) {
	path := filepath.Join(t.TempDir(), "net.json")
	nc, err := network.DefaultNetConf(path)
	require.NoError(t, err)
	require.NoError(t, nc.Write())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr testframes.SyncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"--netconf", path, "--addr", "127.0.0.1:0", "--no-browser"}, &stdout, &stderr)
	}()
	re := regexp.MustCompile(`http://127\.0\.0\.1:\d+/\?token=[0-9a-f]{32}`)
	deadline := time.Now().Add(20 * time.Second)
	for re.FindString(stdout.String()) == "" {
		require.True(t, time.Now().Before(deadline), "no address printed: %q %q", stdout.String(), stderr.String())
		time.Sleep(20 * time.Millisecond)
	}
	u := re.FindString(stdout.String())
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	st, body := do(t, c, "GET", u, "", nil)
	require.Equal(t, http.StatusOK, st)
	require.Contains(t, body, "SAXS Leash")
	base := u[:strings.Index(u, "/?")]
	st, _ = do(t, c, "GET", base+"/api/schema/2.0", "", nil)
	require.Equal(t, http.StatusOK, st)
	st, _ = do(t, &http.Client{Timeout: 10 * time.Second}, "GET", base+"/api/schema/2.0", "", nil)
	require.Equal(t, http.StatusForbidden, st)
	require.NotContains(t, stdout.String()+stderr.String(), nc.Entries[0].Secret)
	cancel()
	require.Equal(t, 0, <-done, stderr.String())
}

func TestMainUsage(t *testing.T) {
	var out, errb bytes.Buffer
	require.Equal(t, 0, Main(context.Background(), []string{"--help"}, &out, &errb))
	require.Contains(t, out.String(), "--no-browser")
	require.Equal(t, 2, Main(context.Background(), []string{"--bogus"}, &out, &errb))
	require.Equal(t, 2, Main(context.Background(), []string{"extra"}, &out, &errb))
	errb.Reset()
	require.Equal(t, 2, Main(context.Background(), []string{"--netconf", filepath.Join(t.TempDir(), "missing")}, &out, &errb))
	require.Contains(t, errb.String(), "saxsnetconf")
}

func TestAllowedHosts(t *testing.T) {
	h, err := allowedHosts("127.0.0.1:8080")
	require.NoError(t, err)
	for _, ok := range []string{"127.0.0.1:8080", "localhost:8080", "[::1]:8080"} {
		require.True(t, h[ok], ok)
	}
	for _, bad := range []string{"127.0.0.1:8081", "evil.example:8080", "127.0.0.1", "localhost"} {
		require.False(t, h[bad], bad)
	}
	require.True(t, IsLoopback("127.0.0.1"))
	require.True(t, IsLoopback("::1"))
	require.True(t, IsLoopback("localhost"))
	require.False(t, IsLoopback("0.0.0.0"))
	require.False(t, IsLoopback("192.168.1.5"))
}
