// Package merge consolidates the results of an experiment: it joins the
// integral parameters and header values (exposure, time stamp) of each
// frame with the beamline's logs, a shutter log ("Peak") and datalogger
// tables, into one table with a row per frame, as the original saxsdog's
// datamerge (saxsdmerge, the server's mergedata) did.
//
// The configuration is the original's DataConsolidationConf.json; a log
// table is tab-separated text with a header line whose first column is a
// time in seconds since the Mac (1904) or Unix (1970) epoch. [Merge] aligns
// the logs with the frames (fixed offsets, or the first entry of one table
// correlated with the first frame or with the zero image), averages each
// logger column over each frame's exposure, and adds the transmission
// |Diode/Ioni|. The table is written as CSV, Igor CSV (seconds since 1904),
// JSON (pandas' to_json layout) and HDF5.
package merge

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Config is a data consolidation configuration, the original's
// DataConsolidationConf.json with a few optional additions.
type Config struct {
	// TimeOffset [s] is subtracted from the times of every log table.
	TimeOffset float64 `json:"TimeOffset"`
	// LogDataTables are the log tables joined with the frames.
	LogDataTables []LogTable `json:"LogDataTables,omitempty"`
	// OutputFormats selects the outputs besides the Igor CSV, which is
	// always written (as by the original).
	OutputFormats OutputFormats `json:"OutputFormats"`
	// OutputFileBaseName is the path of the outputs without extension
	// (relative to the output folder).
	OutputFileBaseName string `json:"OutputFileBaseName"`
	// HDFOptions are the options of the HDF5 output.
	HDFOptions HDFOptions `json:"HDFOptions"`

	// FrameTime says what a frame's header time stamp marks: "end" (the
	// default: the end of the exposure, as the original's detector log
	// gives it) or "start". Extension.
	FrameTime string `json:"FrameTime,omitempty"`
	// TimeZone is the IANA zone of the frames' header time stamps, which
	// carry none ("Local" or "" for the machine's zone, "UTC", ...).
	// Extension.
	TimeZone string `json:"TimeZone,omitempty"`
	// ZeroImage is the file name of the zero image for
	// ZeroImageCorrelation (default "zero_1M_00000.tif", the original's).
	// Extension.
	ZeroImage string `json:"ZeroImage,omitempty"`
}

// LogTable is one log table: one or more files with the same columns,
// concatenated in time order.
type LogTable struct {
	// TimeEpoch is "Mac" (seconds since 1904-01-01 UTC) or "Unix".
	TimeEpoch string `json:"TimeEpoch"`
	// TimeOffset [s] is subtracted from this table's times.
	TimeOffset float64 `json:"TimeOffset"`
	// FirstImageCorrelation shifts all logs so that this table's first
	// entry is the start of the first frame's exposure.
	FirstImageCorrelation bool `json:"FirstImageCorrelation"`
	// ZeroImageCorrelation shifts all logs so that this table's first
	// entry is the start of the zero image's exposure.
	ZeroImageCorrelation bool `json:"ZeroImageCorrelation"`
	// Name is the suffix of the table's column names: "Col (Name)".
	Name string `json:"Name"`
	// Files are the table's files.
	Files []LogFile `json:"Files,omitempty"`
	// Sampling is how a frame's value of each column is taken: "average"
	// (the mean of the linearly interpolated log over the exposure) or
	// "start" (the log interpolated at the exposure's start). Default:
	// "start" for a table named "Peak" (one row per shutter opening, as
	// the original reads it), "average" otherwise. Extension.
	Sampling string `json:"Sampling,omitempty"`
}

// LogFile names one file of a log table.
type LogFile struct {
	// RemotePath is the path on the server, as components.
	RemotePath []string `json:"RemotePath,omitempty"`
	// LocalPath is the path on the client; it overrides RemotePath and is
	// sent with the mergedata request.
	LocalPath string `json:"LocalPath,omitempty"`
	// Path is RemotePath in the original's consolconftemplate.json.
	Path []string `json:"Path,omitempty"`
}

// OutputFormats selects outputs ("exel" is the original's spelling; Excel
// files are not written: see README).
type OutputFormats struct {
	CSV   bool `json:"csv"`
	HDF   bool `json:"hdf"`
	Excel bool `json:"exel"`
	JSON  bool `json:"json"`
}

// HDFOptions are the options of the HDF5 output.
type HDFOptions struct {
	// IncludeCHI adds each frame's curves.
	IncludeCHI bool `json:"IncludeCHI"`
	// IncludeTIF would add the images; not supported (an error if set).
	IncludeTIF bool `json:"IncludeTIF"`
}

// Sampling modes of a LogTable.
const (
	SampleAverage = "average"
	SampleStart   = "start"
)

// DefaultZeroImage is the zero image's name of ZeroImageCorrelation.
const DefaultZeroImage = "zero_1M_00000.tif"

// ConfigError lists what is wrong with a configuration, each problem with
// the JSON path of its field.
type ConfigError struct {
	Name     string   // the file or argument the configuration came from
	Problems []string // "LogDataTables[1].TimeEpoch: ..." each
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("merge configuration %s: %s", e.Name, strings.Join(e.Problems, "; "))
}

// ParseConfig decodes and checks a configuration; name is used in errors.
// Unknown keys are errors.
func ParseConfig(data []byte, name string) (*Config, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c Config
	if err := dec.Decode(&c); err != nil {
		return nil, &ConfigError{Name: name, Problems: []string{err.Error()}}
	}
	if err := c.Check(name); err != nil {
		return nil, err
	}
	return &c, nil
}

// Check reports every problem of c at once as a *ConfigError.
func (c *Config) Check(name string) error {
	var p []string
	add := func(format string, a ...any) { p = append(p, fmt.Sprintf(format, a...)) }
	corr := 0
	names := map[string]bool{}
	for i, t := range c.LogDataTables {
		at := fmt.Sprintf("LogDataTables[%d]", i)
		switch t.TimeEpoch {
		case "Mac", "Unix":
		default:
			add("%s.TimeEpoch: %q is neither \"Mac\" nor \"Unix\"", at, t.TimeEpoch)
		}
		if t.Name == "" {
			add("%s.Name: empty", at)
		} else if names[t.Name] {
			add("%s.Name: %q is used by two tables", at, t.Name)
		}
		names[t.Name] = true
		switch t.Sampling {
		case "", SampleAverage, SampleStart:
		default:
			add("%s.Sampling: %q is neither %q nor %q", at, t.Sampling, SampleAverage, SampleStart)
		}
		if t.FirstImageCorrelation && t.ZeroImageCorrelation {
			add("%s: FirstImageCorrelation and ZeroImageCorrelation exclude each other", at)
		}
		if t.FirstImageCorrelation || t.ZeroImageCorrelation {
			corr++
		}
		if len(t.Files) == 0 {
			add("%s.Files: no file", at)
		}
		for j, f := range t.Files {
			if f.LocalPath == "" && len(f.RemotePath) == 0 && len(f.Path) == 0 {
				add("%s.Files[%d]: neither LocalPath nor RemotePath", at, j)
			}
		}
	}
	if corr > 1 {
		add("LogDataTables: only one table may be correlated with an image (First- or ZeroImageCorrelation)")
	}
	switch c.FrameTime {
	case "", "end", "start":
	default:
		add("FrameTime: %q is neither \"end\" nor \"start\"", c.FrameTime)
	}
	if _, err := c.Location(); err != nil {
		add("TimeZone: %v", err)
	}
	if c.HDFOptions.IncludeTIF {
		add("HDFOptions.IncludeTIF: images in the HDF5 file are not supported")
	}
	if c.OutputFileBaseName == "" {
		add("OutputFileBaseName: empty")
	}
	if len(p) > 0 {
		return &ConfigError{Name: name, Problems: p}
	}
	return nil
}

// Location returns the zone of TimeZone: the machine's for "" and
// "Local".
func (c *Config) Location() (*time.Location, error) {
	if c.TimeZone == "" || c.TimeZone == "Local" {
		return time.Local, nil
	}
	return time.LoadLocation(c.TimeZone)
}

// sampling returns the effective sampling mode of t.
func (t *LogTable) sampling() string {
	if t.Sampling != "" {
		return t.Sampling
	}
	if t.Name == "Peak" {
		return SampleStart
	}
	return SampleAverage
}

// errNoFrames is returned by Merge without a usable frame.
var errNoFrames = errors.New("merge: no frame with a time stamp")
