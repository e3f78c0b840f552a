package network

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/saxsdog/saxs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestServerFormats: a server with Dat and NXcanSAS writes, next to each
// .chi file, a .dat file with its numbers and one NXcanSAS file per frame
// file.
func TestServerFormats(t *testing.T) {
	_, c, dir := testServer(t, func(cfg *ServerConfig) { cfg.Dat, cfg.NXcanSAS = true, true })
	frames := startSample(t, c, dir)
	for _, f := range frames {
		base := filepath.Join(dir, "work", strings.TrimSuffix(filepath.Base(f), ".tif"))
		chi, err := saxs.ReadChiFile(base + "_cR0.chi")
		require.NoError(t, err)
		dat, err := os.ReadFile(base + "_cR0.dat")
		require.NoError(t, err)
		// The data rows of the .dat: q I sigma, as many as the .chi's.
		rows := 0
		for _, line := range strings.Split(string(dat), "\n") {
			if line != "" && !strings.HasPrefix(line, "#") {
				rows++
			}
		}
		assert.Equal(t, chi.Len(), rows, base+"_cR0.dat")
		fi, err := os.Stat(base + ".nxcansas.h5")
		require.NoError(t, err)
		assert.Positive(t, fi.Size())
	}
}
