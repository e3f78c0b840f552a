package network

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// dirCache resolves the symbolic links of an announced frame's folder,
// relative paths against the server folder, keeps a resolution for
// dirCacheTTL only and does not keep a folder that cannot be resolved.
func TestDirCacheFeederPath(t *testing.T) {
	dir, err := filepath.EvalSymlinks(t.TempDir())
	require.NoError(t, err)
	real1, real2 := filepath.Join(dir, "real1"), filepath.Join(dir, "real2")
	require.NoError(t, os.MkdirAll(real1, 0o755))
	require.NoError(t, os.MkdirAll(real2, 0o755))
	link := filepath.Join(dir, "run")
	require.NoError(t, os.Symlink(real1, link))

	var c dirCache
	t0 := time.Now()
	require.Equal(t, filepath.Join(real1, "a.tif"), c.feederPath(dir, "run/a.tif", t0))
	require.Equal(t, filepath.Join(real1, "b.tif"), c.feederPath(dir, filepath.Join(link, "x", "..", "b.tif"), t0))

	// Retargeted: seen once the resolution is older than dirCacheTTL.
	require.NoError(t, os.Remove(link))
	require.NoError(t, os.Symlink(real2, link))
	require.Equal(t, filepath.Join(real1, "c.tif"), c.feederPath(dir, "run/c.tif", t0.Add(dirCacheTTL/2)))
	require.Equal(t, filepath.Join(real2, "c.tif"), c.feederPath(dir, "run/c.tif", t0.Add(dirCacheTTL)))

	// A folder that does not exist yet is used as it is, and resolved as
	// soon as it exists.
	later := filepath.Join(dir, "later")
	require.Equal(t, filepath.Join(later, "d.tif"), c.feederPath(dir, "later/d.tif", t0))
	require.NoError(t, os.Symlink(real1, later))
	require.Equal(t, filepath.Join(real1, "d.tif"), c.feederPath(dir, "later/d.tif", t0))
}
