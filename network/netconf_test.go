package network

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseNetConfLayouts(t *testing.T) {
	single := `{"Server": "tcp://host:9723", "Feeder": "tcp://host:9823", "Secret": "0123456789abcdef0123456789abcd"}`
	nc, err := ParseNetConf([]byte(single))
	require.NoError(t, err)
	assert.Equal(t, LayoutSingle, nc.Layout)
	require.Len(t, nc.Entries, 1)
	assert.Equal(t, "tcp://host:9723", nc.Entries[0].Server)

	list := `[{"Name": "SAXS", "Server": "tcp://a:1", "Feeder": "tcp://a:2", "Secret": "0123456789abcdef0123456789abcd"},
	          {"Name": "WAXS", "Server": "tcp://b:3", "Feeder": "tcp://b:4", "Secret": "0123456789abcdef0123456789abcd"}]`
	nc, err = ParseNetConf([]byte(list))
	require.NoError(t, err)
	assert.Equal(t, LayoutList, nc.Layout)
	require.Len(t, nc.Entries, 2)
	assert.Equal(t, "WAXS", nc.Entries[1].Name)
	_, err = nc.Entry(2)
	assert.Error(t, err)

	// Rewritten in its own layout, indented by four spaces.
	b, err := nc.Marshal()
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(b), "[\n    {\n        \"Server\": \"tcp://a:1\","), string(b))
	nc1, _ := ParseNetConf([]byte(single))
	b, err = nc1.Marshal()
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(b), "{\n    \"Server\""), string(b))

	for name, bad := range map[string]string{
		"empty":         ``,
		"not JSON":      `Server=tcp://x:1`,
		"empty list":    `[]`,
		"unknown key":   `{"Server": "tcp://h:1", "Feeder": "tcp://h:2", "Secret": "0123456789abcdef0123456789abcd", "Port": 1}`,
		"short secret":  `{"Server": "tcp://h:1", "Feeder": "tcp://h:2", "Secret": "abc"}`,
		"no port":       `{"Server": "tcp://h", "Feeder": "tcp://h:2", "Secret": "0123456789abcdef0123456789abcd"}`,
		"not tcp":       `{"Server": "http://h:1", "Feeder": "tcp://h:2", "Secret": "0123456789abcdef0123456789abcd"}`,
		"wrong type":    `{"Server": 9723, "Feeder": "tcp://h:2", "Secret": "0123456789abcdef0123456789abcd"}`,
		"trailing data": `{"Server": "tcp://h:1", "Feeder": "tcp://h:2", "Secret": "0123456789abcdef0123456789abcd"} x`,
	} {
		_, err := ParseNetConf([]byte(bad))
		assert.Error(t, err, name)
	}
}

func TestLoadNetConfErrorSaysHowToCreate(t *testing.T) {
	_, err := LoadNetConf(filepath.Join(t.TempDir(), "missing"))
	var ce *ConfigError
	require.ErrorAs(t, err, &ce)
	assert.True(t, errors.Is(err, os.ErrNotExist))
	assert.Contains(t, err.Error(), "saxsnetconf")
}

func TestDefaultNetConf(t *testing.T) {
	p := filepath.Join(t.TempDir(), NetConfName)
	nc, err := DefaultNetConf(p)
	require.NoError(t, err)
	require.NoError(t, nc.Write())
	fi, err := os.Stat(p)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	assert.Empty(t, PermissionWarning(p))
	got, err := LoadNetConf(p)
	require.NoError(t, err)
	e := got.Entries[0]
	assert.Equal(t, Entry{Server: "tcp://localhost:9723", Feeder: "tcp://localhost:9823", Name: "Queue1", Secret: e.Secret}, e)
	assert.Regexp(t, regexp.MustCompile(`^[0-9a-f]{30,}$`), e.Secret)
	other, err := DefaultNetConf(p)
	require.NoError(t, err)
	assert.NotEqual(t, e.Secret, other.Entries[0].Secret)

	require.NoError(t, os.Chmod(p, 0o644))
	assert.Contains(t, PermissionWarning(p), "readable by others")
}

func TestNetConfPath(t *testing.T) {
	t.Setenv(NetConfEnv, "/from/env")
	p, err := NetConfPath("/from/flag")
	require.NoError(t, err)
	assert.Equal(t, "/from/flag", p)
	p, err = NetConfPath("")
	require.NoError(t, err)
	assert.Equal(t, "/from/env", p)
	t.Setenv(NetConfEnv, "")
	t.Setenv("HOME", "/home/x")
	p, err = NetConfPath("")
	require.NoError(t, err)
	assert.Equal(t, "/home/x/.saxsdognetwork", p)
}

func TestPorts(t *testing.T) {
	p, err := Port("tcp://localhost:9723")
	require.NoError(t, err)
	assert.Equal(t, 9723, p)
	a, err := BindAddr("tcp://localhost:9723", 0)
	require.NoError(t, err)
	assert.Equal(t, "tcp://*:9723", a)
	a, err = BindAddr("tcp://localhost:9723", 7777)
	require.NoError(t, err)
	assert.Equal(t, "tcp://*:7777", a)
	assert.Equal(t, "tcp://h:5", WithPort("tcp://h:9723", 5))
}

func TestWithinComparesComponents(t *testing.T) {
	assert.True(t, within("/d/run1/x.tif", "/d/run1"))
	assert.True(t, within("/d/run1", "/d/run1"))
	assert.False(t, within("/d/run10/x.tif", "/d/run1"))
	assert.False(t, within("/d/run10", "/d/run1"))
	assert.True(t, within("/d/x", "/"))
}
