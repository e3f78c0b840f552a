// Package converter implements saxsconverter: it writes a saxsdog
// calibration file from the refined values that fit2d prints after a
// calibration, and converts calibration files between the 0.3.0 (flat) and
// 2.0 (Geometry/Masks) schemas.
//
// It replaces SAXS/converter.py of the original Python saxsdog and fixes
// its bugs: the template (-t) is used even when the output does not exist
// yet; the fit2d numbers are read after the '=' instead of by fixed word
// index; Title stays at the root when converting to 2.0; values such as 0,
// "" and [] are kept instead of deleted; the result is validated before it
// is written, and written atomically.
//
// Files are handled as ordered JSON documents, so key order, the literal
// text of numbers and content the converter does not know about are kept.
package converter

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/saxsdog/saxs"
	"github.com/saxsdog/saxs/internal/atomicfile"
	"github.com/saxsdog/saxs/internal/cli"
)

const usageHead = `Usage: saxsconverter [-t TEMPLATE] [--to 2.0|0.3] [--silent] INPUT OUT.json

Writes the calibration OUT.json from INPUT, which is either
  - the text fit2d prints after a calibration: its lines
      INFO: Refined Beam centre = <X> <Y> (pixels)
      INFO: Refined sample to detector distance = <mm> mm
      INFO: Refined tilt plane rotation angle = <degrees> degrees
      INFO: Refined tilt angle = <degrees> degrees
      INFO: Refined wavelength = <Angstrom> Angstroms
    set BeamCenter = [Y, X], DedectorDistanceMM, Tilt.TiltRotDeg,
    Tilt.TiltAngleDeg and Wavelength; values not found stay unchanged;
  - or a calibration JSON file (it starts with '{') of either schema, whose
    values are copied (0.3.0 mask settings go into the first mask).

The starting point, into which these values are merged, is
  1. TEMPLATE, when -t is given (an existing OUT.json is then replaced);
  2. otherwise OUT.json, if it exists (it must be a valid calibration);
  3. otherwise the schema defaults (of 2.0; of 0.3.0 with --to 0.3).
The result has the schema generation of its starting point unless --to is
given. It is validated, written atomically with 4-space indentation and
echoed to stdout.

Values that do not come from the fit2d text (Imagesize, PixelSizeMicroM,
the MaskFile of each mask, and Wavelength when fit2d did not print it) are
listed on stderr with where they came from: a warning when they are schema
defaults, a note (silenced by --silent) when they come from TEMPLATE or
OUT.json. fit2d's own integrated curves include its polarization factor;
the note says so, since a saxsdog curve applies one only with
PolarizationCorrection. A calibration whose mask file does not exist
(relative paths resolve against OUT.json's folder) is not written unless
--allow-missing-mask is given. INPUT must be a regular file of at most
` + maxInputText + `.

Options:
`

// target is the value of the --to option.
type target struct {
	gen saxs.Generation // 0: keep the starting point's
}

func (t *target) String() string {
	switch t.gen {
	case saxs.Nested:
		return "2.0"
	case saxs.Flat:
		return "0.3"
	}
	return ""
}

func (t *target) Set(s string) error {
	switch s {
	case "2.0", "2":
		t.gen = saxs.Nested
	case "0.3", "0.3.0":
		t.gen = saxs.Flat
	default:
		return fmt.Errorf("unknown schema %q: use 2.0 or 0.3", s)
	}
	return nil
}

func (t *target) Type() string { return "SCHEMA" }

// Options are the settings of one conversion.
type Options struct {
	// Template, when not "", is the calibration to start from.
	Template string
	// To is the generation of the result; 0 keeps the starting point's.
	To saxs.Generation
}

// Result is the outcome of Convert.
type Result struct {
	// Data is the calibration file's text.
	Data []byte
	// Calibration is Data as validated by saxs.ParseCalibration.
	Calibration *saxs.Calibration
	// Start tells where the result started from ("template cal.json",
	// "existing out.json", "the 2.0 schema defaults").
	Start string
	// Fit2D holds the values read from fit2d's text (zero for a JSON
	// input).
	Fit2D Fit2DValues
	// FromJSON is true when the input was a calibration JSON file.
	FromJSON bool
	// InputGeneration is the schema generation of a JSON input.
	InputGeneration saxs.Generation
	// Notes are warnings: values dropped by a conversion to 0.3, an
	// existing output replaced by the template.
	Notes []string
}

// IsJSON reports whether an input is a calibration JSON file rather than
// fit2d text: its first non-blank character is '{'.
func IsJSON(data []byte) bool {
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	data = bytes.TrimLeft(data, " \t\r\n")
	return len(data) > 0 && data[0] == '{'
}

// Convert builds the calibration for OUT.json (outPath) from the input
// (fit2d text or calibration JSON; inName names it in messages) under the
// rules of saxsconverter (see the package documentation and the usage
// text). It reads the template and an existing outPath but writes nothing.
// An existing outPath that is not a valid calibration is an error (unless
// a template is given).
func Convert(input []byte, inName string, outPath string, opt Options) (*Result, error) {
	res := &Result{}
	var in *Document
	if IsJSON(input) {
		res.FromJSON = true
		d, err := ParseDocument(input, inName)
		if err != nil {
			return nil, fmt.Errorf("input is not a valid calibration: %w", err)
		}
		in = d
		res.InputGeneration = d.Generation()
	} else {
		v, err := ParseFit2D(bytes.NewReader(input), inName)
		if err != nil {
			return nil, err
		}
		res.Fit2D = v
	}

	outExists := false
	if fi, err := os.Stat(outPath); err == nil {
		if fi.IsDir() {
			return nil, fmt.Errorf("%s is a directory", outPath)
		}
		outExists = true
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("output: %w", err)
	}

	var start *Document
	switch {
	case opt.Template != "":
		d, err := loadDocument(opt.Template)
		if err != nil {
			return nil, fmt.Errorf("template: %w", err)
		}
		start = d
		res.Start = "template " + opt.Template
		if outExists {
			res.Notes = append(res.Notes, fmt.Sprintf("%s exists; it is replaced (the template -t is the starting point)", outPath))
		}
	case outExists:
		d, err := loadDocument(outPath)
		if err != nil {
			return nil, fmt.Errorf("existing output is not a valid calibration (use -t TEMPLATE to replace it): %w", err)
		}
		start = d
		res.Start = "existing " + outPath
	}

	gen := opt.To
	if gen == 0 {
		gen = saxs.Nested
		if start != nil {
			gen = start.Generation()
		}
	}

	var doc *Document
	if start != nil {
		d, notes, err := start.Convert(gen)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", res.Start, err)
		}
		res.Notes = append(res.Notes, notes...)
		doc = d
		if in != nil {
			notes, err := doc.Merge(in)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", inName, err)
			}
			res.Notes = append(res.Notes, notes...)
		}
	} else {
		res.Start = fmt.Sprintf("the %s schema defaults", schemaName(gen))
		def := DefaultDocument(gen)
		if in != nil {
			// The defaults with the input merged in, in the input's key
			// order.
			d, notes, err := in.Convert(gen)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", inName, err)
			}
			res.Notes = append(res.Notes, notes...)
			fillMissing(d.root, def.root)
			doc = d
		} else {
			doc = def
		}
	}
	if in == nil {
		doc.ApplyFit2D(res.Fit2D)
	}

	data, cal, err := doc.Calibration(outPath)
	if err != nil {
		return nil, fmt.Errorf("the result is not a valid calibration: %w", err)
	}
	res.Data, res.Calibration = data, cal
	return res, nil
}

// schemaName names a generation in messages.
func schemaName(g saxs.Generation) string {
	if g == saxs.Flat {
		return "0.3.0 (flat)"
	}
	return "2.0"
}

// fillMissing adds to dst the keys of def it lacks, recursing into objects
// present in both.
func fillMissing(dst, def *object) {
	for _, m := range def.members {
		v, ok := dst.get(m.key)
		if !ok {
			dst.set(m.key, clone(m.val))
			continue
		}
		if dv, ok := v.(*object); ok {
			if sv, ok := m.val.(*object); ok {
				fillMissing(dv, sv)
			}
		}
	}
}

// loadDocument reads and validates a calibration file.
func loadDocument(path string) (*Document, error) {
	data, err := cli.ReadFile(path, maxInput)
	if err != nil {
		return nil, err
	}
	return ParseDocument(data, path)
}

// WriteFileAtomic writes data to path through a temporary file in the same
// folder and a rename, so that readers see either the old or the new
// file. An existing file keeps its permissions (and a symbolic link its
// target); a new one gets 0644.
func WriteFileAtomic(path string, data []byte) error {
	perm := fs.FileMode(0o644)
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
		if fi, err := os.Stat(path); err == nil {
			perm = fi.Mode().Perm()
		}
	}
	if err := atomicfile.WriteFile(path, data, perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// maxInput bounds the size of INPUT, TEMPLATE and an existing OUT.json:
// fit2d's text and calibration files are a few kilobytes.
const (
	maxInput     = 16 << 20
	maxInputText = "16 MiB"
)

// Main runs saxsconverter with the command-line arguments args (without
// the program name) and returns the exit status: 0 on success, 1 on an
// error, 2 on a usage error.
func Main(args []string, stdout, stderr io.Writer) int {
	const prog = "saxsconverter"
	var (
		template         string
		to               target
		silent           bool
		allowMissingMask bool
	)
	cmd := cli.New(prog, nil)
	fl := cmd.Flags
	cmd.Help = func() string { return usageHead + cli.FlagUsages(fl) }
	fl.StringVarP(&template, cli.FlagTemplate, "t", "", "start from the calibration `TEMPLATE` (0.3.0 or 2.0)")
	fl.Var(&to, "to", "write the 2.0 or the 0.3 (flat) schema (default: that of the starting point)")
	fl.BoolVar(&silent, cli.FlagSilent, false, "do not echo the result to stdout, nor print what was read and the notes")
	fl.BoolVarP(&silent, "quiet", "q", false, "the former name of --silent")
	fl.MarkHidden("quiet")
	fl.BoolVar(&allowMissingMask, "allow-missing-mask", false, "write the calibration even when a mask file does not exist (a warning)")
	if done, code := cmd.Parse(args, stdout, stderr); done {
		return code
	}
	if fl.NArg() != 2 {
		return cmd.UsageError(stderr, "need 2 arguments, INPUT and OUT.json, got %d", fl.NArg())
	}
	inPath, outPath := fl.Arg(0), fl.Arg(1)
	fail := func(err error) int {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return 1
	}
	info := func(format string, a ...any) {
		if !silent {
			fmt.Fprintf(stderr, "%s: "+format+"\n", append([]any{prog}, a...)...)
		}
	}
	warn := func(format string, a ...any) {
		fmt.Fprintf(stderr, "%s: warning: "+format+"\n", append([]any{prog}, a...)...)
	}

	input, err := cli.ReadFile(inPath, maxInput)
	if err != nil {
		return fail(fmt.Errorf("input: %w", err))
	}
	res, err := Convert(input, inPath, outPath, Options{Template: template, To: to.gen})
	if err != nil {
		fail(err)
		fmt.Fprintf(stderr, "%s: nothing written\n", prog)
		return 1
	}
	if res.FromJSON {
		info("%s: read a calibration in the %s schema", inPath, schemaName(res.InputGeneration))
	} else {
		info("%s: read %s", inPath, strings.Join(res.Fit2D.Found(), ", "))
		if missing := res.Fit2D.Missing(); len(missing) > 0 {
			warn("%s: not found, left unchanged: %s", inPath, strings.Join(missing, ", "))
		}
		for _, p := range res.Provenance() {
			if p.Default {
				warn("%s", p)
			} else {
				info("note: %s", p)
			}
		}
		info("note: fit2d's integrated curves include its polarization factor; saxsdog's apply one only with PolarizationCorrection, so the two differ by that factor without it")
	}
	for _, n := range res.Notes {
		warn("%s", n)
	}
	for _, m := range res.MissingMasks(outPath) {
		if !allowMissingMask {
			fmt.Fprintf(stderr, "%s: mask file %s does not exist (MaskFile %q); give --allow-missing-mask to write the calibration anyway\n%s: nothing written\n",
				prog, m.Path, m.MaskFile, prog)
			return 1
		}
		warn("mask file %s does not exist (MaskFile %q); written anyway (--allow-missing-mask)", m.Path, m.MaskFile)
	}
	if err := WriteFileAtomic(outPath, res.Data); err != nil {
		return fail(err)
	}
	info("wrote %s in the %s schema, starting from %s", outPath, schemaName(res.Calibration.Generation()), res.Start)
	if !silent {
		if _, err := stdout.Write(res.Data); err != nil {
			return fail(fmt.Errorf("stdout: %w", err))
		}
	}
	return 0
}

// Source is a value of the result that did not come from fit2d's text.
type Source struct {
	// Name is the calibration key (Imagesize, PixelSizeMicroM,
	// Masks[i].MaskFile, Wavelength).
	Name string
	// Value is its value as written.
	Value any
	// From tells where it came from (Result.Start).
	From string
	// Default is true when From is the schema defaults.
	Default bool
}

// String returns "Name Value is not in the fit2d text: from From".
func (s Source) String() string {
	what := "taken from " + s.From
	if s.Default {
		what = "the " + strings.TrimSuffix(strings.TrimPrefix(s.From, "the "), "s") + ", not a measured value"
	}
	return fmt.Sprintf("%s %v is not in the fit2d text: %s", s.Name, s.Value, what)
}

// Provenance lists the values of a result converted from fit2d text that
// fit2d's text did not give: the image size, the pixel size, the mask
// files, and the wavelength when the text lacks it. It is empty for a
// JSON input.
func (r *Result) Provenance() []Source {
	if r.FromJSON || r.Calibration == nil {
		return nil
	}
	cal := r.Calibration
	def := strings.HasSuffix(r.Start, "defaults")
	src := func(name string, v any) Source { return Source{Name: name, Value: v, From: r.Start, Default: def} }
	list := []Source{
		src("Imagesize", cal.Geometry.Imagesize),
		src("PixelSizeMicroM", cal.Geometry.PixelSizeMicroM),
	}
	for i, m := range cal.Masks {
		name := "MaskFile"
		if len(cal.Masks) > 1 || cal.Generation() == saxs.Nested {
			name = fmt.Sprintf("Masks[%d].MaskFile", i)
		}
		list = append(list, src(name, strconv.Quote(m.MaskFile)))
	}
	if r.Fit2D.Wavelength == nil {
		list = append(list, src("Wavelength", cal.Wavelength))
	}
	return list
}

// MissingMask is a mask file of the result that does not exist.
type MissingMask struct {
	MaskFile string // as written in the calibration
	Path     string // resolved against the output's folder
}

// MissingMasks returns the mask files of the result that do not exist (or
// are not regular files), relative paths resolved against the folder of
// outPath, where the calibration is written.
func (r *Result) MissingMasks(outPath string) []MissingMask {
	if r.Calibration == nil {
		return nil
	}
	var list []MissingMask
	for _, m := range r.Calibration.Masks {
		p := m.MaskFile
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(outPath), p)
		}
		if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
			list = append(list, MissingMask{MaskFile: m.MaskFile, Path: p})
		}
	}
	return list
}
