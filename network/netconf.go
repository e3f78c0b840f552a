package network

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/saxsdog/saxs/internal/atomicfile"
)

// NetConfName is the file name of the network configuration in the home
// folder, as the original saxsdog names it.
const NetConfName = ".saxsdognetwork"

// NetConfEnv is the environment variable that names the network
// configuration file when no --netconf option is given.
const NetConfEnv = "SAXSDOG_NETWORK"

// Defaults of a new network configuration (spec §9.1).
const (
	DefaultServer = "tcp://localhost:9723"
	DefaultFeeder = "tcp://localhost:9823"
	DefaultName   = "Queue1"
	// SecretHexLen is the length of a generated secret in hex digits; old
	// clients expect at least 30.
	SecretHexLen = 64
	// MinSecretLen is the shortest secret accepted.
	MinSecretLen = 30
)

// Entry is one server of the network configuration: the address of its
// command socket, of its feeder, the shared secret and a name.
type Entry struct {
	Server string `json:"Server"`
	Feeder string `json:"Feeder"`
	Secret string `json:"Secret"`
	Name   string `json:"Name,omitempty"`
}

// Layout tells which generation of the configuration file was read.
type Layout int

// The two layouts of the configuration file.
const (
	// LayoutList is the 2.0 layout: an array of entries with Name.
	LayoutList Layout = iota
	// LayoutSingle is the 0.3.0 layout: one object.
	LayoutSingle
)

// NetConf is a network configuration: one or more servers.
type NetConf struct {
	// Path is the file it was read from.
	Path string
	// Layout is the file's layout.
	Layout Layout
	// Entries are the servers, at least one.
	Entries []Entry
}

// ConfigError is a missing or invalid network configuration. Its message
// says how to create one.
type ConfigError struct {
	Path string
	Err  error
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("network configuration %s: %v (create or fix it with saxsnetconf, or choose another file with --netconf or %s)",
		e.Path, e.Err, NetConfEnv)
}

func (e *ConfigError) Unwrap() error { return e.Err }

// NetConfPath returns the configuration file to use: flag when not empty,
// else $SAXSDOG_NETWORK when set, else ~/.saxsdognetwork.
func NetConfPath(flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if p := os.Getenv(NetConfEnv); p != "" {
		return p, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("network configuration: %w", err)
	}
	return filepath.Join(home, NetConfName), nil
}

// LoadNetConf reads and validates the configuration file at path. Errors
// are *ConfigError.
func LoadNetConf(path string) (*NetConf, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &ConfigError{Path: path, Err: err}
	}
	nc, err := ParseNetConf(data)
	if err != nil {
		return nil, &ConfigError{Path: path, Err: err}
	}
	nc.Path = path
	return nc, nil
}

// ParseNetConf decodes and validates a configuration in either layout.
func ParseNetConf(data []byte) (*NetConf, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, errors.New("empty file")
	}
	nc := &NetConf{}
	dec := func(v any) error {
		d := json.NewDecoder(bytes.NewReader(trimmed))
		d.DisallowUnknownFields()
		if err := d.Decode(v); err != nil {
			return err
		}
		if d.More() {
			return errors.New("extra data after the JSON value")
		}
		return nil
	}
	switch trimmed[0] {
	case '[':
		if err := dec(&nc.Entries); err != nil {
			return nil, fmt.Errorf("not a list of servers: %w", err)
		}
		nc.Layout = LayoutList
	case '{':
		var e Entry
		if err := dec(&e); err != nil {
			return nil, fmt.Errorf("not a server entry: %w", err)
		}
		nc.Entries = []Entry{e}
		nc.Layout = LayoutSingle
	default:
		return nil, errors.New("neither a JSON object nor an array")
	}
	if err := nc.Validate(); err != nil {
		return nil, err
	}
	return nc, nil
}

// Validate checks that there is at least one entry and that each has a
// tcp:// server and feeder address with a port and a long enough secret.
func (nc *NetConf) Validate() error {
	if len(nc.Entries) == 0 {
		return errors.New("no server entry")
	}
	for i, e := range nc.Entries {
		for _, a := range []struct{ key, v string }{{"Server", e.Server}, {"Feeder", e.Feeder}} {
			if _, err := Port(a.v); err != nil {
				return fmt.Errorf("entry %d: %s: %w", i, a.key, err)
			}
		}
		if len(e.Secret) < MinSecretLen {
			return fmt.Errorf("entry %d: Secret must have at least %d characters", i, MinSecretLen)
		}
	}
	return nil
}

// Entry returns entry i, with an error naming the valid range.
func (nc *NetConf) Entry(i int) (Entry, error) {
	if i < 0 || i >= len(nc.Entries) {
		return Entry{}, fmt.Errorf("server number %d: %s has %d entries (0..%d)", i, nc.Path, len(nc.Entries), len(nc.Entries)-1)
	}
	return nc.Entries[i], nil
}

// Port returns the port of a tcp://host:port address.
func Port(addr string) (int, error) {
	u, err := url.Parse(addr)
	if err != nil {
		return 0, fmt.Errorf("address %q: %w", addr, err)
	}
	if u.Scheme != "tcp" {
		return 0, fmt.Errorf("address %q: want tcp://host:port", addr)
	}
	p, err := strconv.Atoi(u.Port())
	if err != nil || p <= 0 || p > 65535 {
		return 0, fmt.Errorf("address %q: no valid port", addr)
	}
	return p, nil
}

// WithPort returns addr with its port replaced by port.
func WithPort(addr string, port int) string {
	i := strings.LastIndex(addr, ":")
	if i < 0 || strings.HasSuffix(addr[:i], "/") {
		return addr + ":" + strconv.Itoa(port)
	}
	return addr[:i+1] + strconv.Itoa(port)
}

// BindAddr returns the address a server binds for the configured address
// addr: tcp://*:port, or port itself when port > 0.
func BindAddr(addr string, port int) (string, error) {
	if port <= 0 {
		p, err := Port(addr)
		if err != nil {
			return "", err
		}
		port = p
	}
	return "tcp://*:" + strconv.Itoa(port), nil
}

// NewSecret returns a random secret of SecretHexLen lowercase hex digits
// from crypto/rand.
func NewSecret() (string, error) {
	b := make([]byte, SecretHexLen/2)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("secret: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// DefaultNetConf returns a new configuration with the default addresses,
// the name Queue1 and a fresh secret, in the 2.0 layout.
func DefaultNetConf(path string) (*NetConf, error) {
	s, err := NewSecret()
	if err != nil {
		return nil, err
	}
	return &NetConf{Path: path, Layout: LayoutList, Entries: []Entry{{
		Server: DefaultServer, Feeder: DefaultFeeder, Secret: s, Name: DefaultName}}}, nil
}

// Marshal returns the file text: the layout it was read in, indented by
// four spaces like the original's json.dumps(indent=4).
func (nc *NetConf) Marshal() ([]byte, error) {
	var v any = nc.Entries
	if nc.Layout == LayoutSingle && len(nc.Entries) == 1 {
		v = nc.Entries[0]
	}
	b, err := json.MarshalIndent(v, "", "    ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Write writes the configuration to nc.Path atomically with mode 0600.
func (nc *NetConf) Write() error {
	b, err := nc.Marshal()
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(nc.Path, b, 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", nc.Path, err)
	}
	return os.Chmod(nc.Path, 0o600)
}

// PermissionWarning returns a warning when the file at path can be read
// by the group or by others (it holds the secret), "" otherwise.
func PermissionWarning(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return ""
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Sprintf("%s is readable by others (mode %04o) but holds the shared secret; run chmod 600 %s",
			path, fi.Mode().Perm(), path)
	}
	return ""
}

// Exists reports whether a file exists at path.
func Exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, fs.ErrNotExist)
}
