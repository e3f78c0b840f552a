package saxs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/invopop/jsonschema"
	jsv "github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// Schema returns the JSON Schema (draft 2020-12) of a calibration file of
// the given generation, generated from the Go types. The web editor renders
// its forms from it.
func Schema(g Generation) []byte {
	b, err := json.MarshalIndent(reflectSchema(g), "", "  ")
	if err != nil { // cannot happen: the schema is plain data
		panic(err)
	}
	return b
}

func reflectSchema(g Generation) *jsonschema.Schema {
	r := &jsonschema.Reflector{
		ExpandedStruct: true,
		DoNotReference: true,
		Anonymous:      true,
	}
	if g == Flat {
		s := r.Reflect(&flatCalibration{})
		s.Title = "SAXS calibration (0.3.0 flat schema)"
		return s
	}
	s := r.Reflect(&Calibration{})
	s.Title = "SAXS calibration (2.0 schema)"
	return s
}

type compiled struct {
	flat, nested *jsv.Schema
}

// schemas compiles both schemas once; the result is immutable.
var schemas = sync.OnceValues(func() (compiled, error) {
	var out compiled
	for _, g := range []Generation{Flat, Nested} {
		doc, err := jsv.UnmarshalJSON(bytes.NewReader(Schema(g)))
		if err != nil {
			return out, err
		}
		c := jsv.NewCompiler()
		url := fmt.Sprintf("saxs-calibration-%d.json", g)
		if err := c.AddResource(url, doc); err != nil {
			return out, err
		}
		s, err := c.Compile(url)
		if err != nil {
			return out, err
		}
		if g == Flat {
			out.flat = s
		} else {
			out.nested = s
		}
	}
	return out, nil
})

func compiledSchema(g Generation) (*jsv.Schema, error) {
	s, err := schemas()
	if err != nil {
		return nil, err
	}
	if g == Flat {
		return s.flat, nil
	}
	return s.nested, nil
}

// validationErrors flattens a schema validation error into one
// CalibrationError per failing value.
func validationErrors(name string, gen Generation, err error) error {
	var ve *jsv.ValidationError
	if !errors.As(err, &ve) {
		return &CalibrationError{File: name, Path: "/", Err: err}
	}
	var errs []error
	seen := map[string]bool{}
	printer := message.NewPrinter(language.English)
	var walk func(e *jsv.ValidationError)
	walk = func(e *jsv.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		path := "/" + strings.Join(escapePointer(e.InstanceLocation), "/")
		msg := e.ErrorKind.LocalizedString(printer)
		switch k := e.ErrorKind.(type) {
		case *kind.AdditionalProperties:
			word := "key"
			if len(k.Properties) > 1 {
				word = "keys"
			}
			msg = fmt.Sprintf("unknown %s '%s'; allowed: %s", word, strings.Join(k.Properties, "', '"),
				strings.Join(allowedKeys(gen, e.InstanceLocation), ", "))
		case *kind.ExclusiveMinimum:
			msg = fmt.Sprintf("must be greater than %v, got %v", ratString(k.Want), ratString(k.Got))
		case *kind.Minimum:
			msg = fmt.Sprintf("must be at least %v, got %v", ratString(k.Want), ratString(k.Got))
		case *kind.Maximum:
			msg = fmt.Sprintf("must be at most %v, got %v", ratString(k.Want), ratString(k.Got))
		}
		key := path + "\x00" + msg
		if !seen[key] {
			seen[key] = true
			errs = append(errs, &CalibrationError{File: name, Path: path, Msg: msg})
		}
	}
	walk(ve)
	sort.SliceStable(errs, func(i, j int) bool {
		return errs[i].(*CalibrationError).Path < errs[j].(*CalibrationError).Path
	})
	if len(errs) == 0 {
		return &CalibrationError{File: name, Path: "/", Err: ve}
	}
	return errors.Join(errs...)
}

func escapePointer(loc []string) []string {
	out := make([]string, len(loc))
	for i, s := range loc {
		out[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
	}
	return out
}

// allowedKeys lists the JSON keys allowed at an instance location, found by
// walking the Go types.
func allowedKeys(gen Generation, loc []string) []string {
	t := reflect.TypeOf(Calibration{})
	if gen == Flat {
		t = reflect.TypeOf(flatCalibration{})
	}
	for _, tok := range loc {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			t = t.Elem()
		}
		if _, err := strconv.Atoi(tok); err == nil {
			continue
		}
		if t.Kind() != reflect.Struct {
			return nil
		}
		f, ok := fieldByJSONName(t, tok)
		if !ok {
			return nil
		}
		t = f.Type
	}
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		keys = append(keys, jsonName(f))
	}
	sort.Strings(keys)
	return keys
}

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "" {
		return f.Name
	}
	return name
}

func fieldByJSONName(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.IsExported() && jsonName(f) == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func ratString(r *big.Rat) string {
	f, _ := r.Float64()
	return strconv.FormatFloat(f, 'g', -1, 64)
}
