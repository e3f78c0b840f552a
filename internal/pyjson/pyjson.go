// Package pyjson reproduces, byte for byte, the JSON text that Python 2.7's
// json.dumps(obj, sort_keys=True) prints, and decodes JSON the way Python's
// json.loads reads it.
//
// The original saxsdog signs each network request with
// sha512(json.dumps(req, sort_keys=True) + secret) and writes the calibration
// with json.dumps into the first line of every .chi file, so a Go port needs
// the exact bytes of that canonical form:
//
//   - separators ", " and ": ", no other whitespace;
//   - object keys sorted by code point, recursively;
//   - floats printed as Python's repr: the shortest digits that round-trip,
//     in fixed notation with at least one decimal ("100.0", "-0.0",
//     "0.0001") when the decimal exponent is in [-4, 16), otherwise as
//     d.ddde±XX ("1e+16", "1e-05", "5e-324"); NaN, Infinity and -Infinity
//     for the non-finite values;
//   - integers printed as integers, of any size;
//   - strings escaped as with ensure_ascii: \" \\ \n \r \t \b \f, every
//     other character outside the printable ASCII range 0x20..0x7e
//     (including DEL) as \uXXXX in lowercase hex, with UTF-16 surrogate
//     pairs above the BMP; "/" is not escaped;
//   - true, false and null.
//
// Numbers keep the type they had in the JSON text they were decoded from: a
// literal containing '.', 'e' or 'E' is a float, any other literal is an
// integer. [Decode] therefore returns numbers as [json.Number], and
// [Marshal] applies that rule to every json.Number it is given.
package pyjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Marshal returns the text of Python 2.7 json.dumps(v, sort_keys=True).
//
// v may be built from map[string]any, []any, string, bool, nil, json.Number,
// float64, float32 and the integer types (the values [Decode] and
// encoding/json with UseNumber produce, plus Go numbers), *big.Int, and from
// maps with string keys, slices, arrays and pointers of those.
// json.RawMessage is decoded with [Decode] and re-encoded. Any other value
// (a struct, or a type implementing json.Marshaler) is first encoded with
// encoding/json and then re-encoded from its decoded form; in that case a
// float64 field with an integral value (1.0) becomes the integer 1, since
// encoding/json prints it without a decimal point.
//
// As with encoding/json, nil maps, slices and pointers encode as null. Go
// strings that are not valid UTF-8 have each invalid byte encoded as
// \ufffd.
func Marshal(v any) ([]byte, error) {
	e := encoder{buf: make([]byte, 0, 256)}
	if err := e.encode(v, 0); err != nil {
		return nil, err
	}
	return e.buf, nil
}

// maxDepth bounds the nesting of containers, to stop cyclic pointers and
// maps from recursing forever (Python raises "Circular reference detected").
const maxDepth = 1000

type encoder struct {
	buf []byte
}

func (e *encoder) encode(v any, depth int) error {
	if depth > maxDepth {
		return errors.New("pyjson: nesting too deep (circular reference?)")
	}
	switch x := v.(type) {
	case nil:
		e.buf = append(e.buf, "null"...)
	case bool:
		e.buf = appendBool(e.buf, x)
	case string:
		e.buf = AppendString(e.buf, x)
	case json.Number:
		return e.number(x)
	case float64:
		e.buf = AppendFloat(e.buf, x)
	case float32:
		// Python floats are doubles: print the float32's exact value.
		e.buf = AppendFloat(e.buf, float64(x))
	case int:
		e.buf = strconv.AppendInt(e.buf, int64(x), 10)
	case int64:
		e.buf = strconv.AppendInt(e.buf, x, 10)
	case int32:
		e.buf = strconv.AppendInt(e.buf, int64(x), 10)
	case uint64:
		e.buf = strconv.AppendUint(e.buf, x, 10)
	case *big.Int:
		if x == nil {
			e.buf = append(e.buf, "null"...)
		} else {
			e.buf = x.Append(e.buf, 10)
		}
	case map[string]any:
		if x == nil {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		return e.object(x, depth)
	case []any:
		if x == nil {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		e.buf = append(e.buf, '[')
		for i, el := range x {
			if i > 0 {
				e.buf = append(e.buf, ", "...)
			}
			if err := e.encode(el, depth+1); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, ']')
	case []float64:
		if x == nil {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		e.buf = append(e.buf, '[')
		for i, f := range x {
			if i > 0 {
				e.buf = append(e.buf, ", "...)
			}
			e.buf = AppendFloat(e.buf, f)
		}
		e.buf = append(e.buf, ']')
	case json.RawMessage:
		d, err := Decode(x)
		if err != nil {
			return err
		}
		return e.encode(d, depth+1)
	default:
		return e.reflectValue(reflect.ValueOf(v), depth)
	}
	return nil
}

func (e *encoder) object(m map[string]any, depth int) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	// Byte order of UTF-8 strings is code point order.
	slices.Sort(keys)
	e.buf = append(e.buf, '{')
	for i, k := range keys {
		if i > 0 {
			e.buf = append(e.buf, ", "...)
		}
		e.buf = AppendString(e.buf, k)
		e.buf = append(e.buf, ": "...)
		if err := e.encode(m[k], depth+1); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, '}')
	return nil
}

var jsonMarshalerType = reflect.TypeFor[json.Marshaler]()

// reflectValue handles the types that encode's type switch does not list.
func (e *encoder) reflectValue(rv reflect.Value, depth int) error {
	if !rv.IsValid() {
		e.buf = append(e.buf, "null"...)
		return nil
	}
	if rv.Type().Implements(jsonMarshalerType) {
		if rv.Kind() == reflect.Pointer && rv.IsNil() {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		return e.viaEncodingJSON(rv)
	}
	switch rv.Kind() {
	case reflect.Bool:
		e.buf = appendBool(e.buf, rv.Bool())
	case reflect.String:
		if rv.Type() == reflect.TypeFor[json.Number]() {
			return e.number(json.Number(rv.String()))
		}
		e.buf = AppendString(e.buf, rv.String())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		e.buf = strconv.AppendInt(e.buf, rv.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		e.buf = strconv.AppendUint(e.buf, rv.Uint(), 10)
	case reflect.Float32, reflect.Float64:
		e.buf = AppendFloat(e.buf, rv.Float())
	case reflect.Interface, reflect.Pointer:
		if rv.IsNil() {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		return e.encode(rv.Elem().Interface(), depth+1)
	case reflect.Slice:
		if rv.IsNil() {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			// encoding/json's base64 string, as the decoded side would see it.
			return e.viaEncodingJSON(rv)
		}
		fallthrough
	case reflect.Array:
		e.buf = append(e.buf, '[')
		for i := range rv.Len() {
			if i > 0 {
				e.buf = append(e.buf, ", "...)
			}
			if err := e.encode(rv.Index(i).Interface(), depth+1); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, ']')
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			return e.viaEncodingJSON(rv)
		}
		if rv.IsNil() {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		keys := rv.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		e.buf = append(e.buf, '{')
		for i, k := range keys {
			if i > 0 {
				e.buf = append(e.buf, ", "...)
			}
			e.buf = AppendString(e.buf, k.String())
			e.buf = append(e.buf, ": "...)
			if err := e.encode(rv.MapIndex(k).Interface(), depth+1); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, '}')
	case reflect.Struct:
		return e.viaEncodingJSON(rv)
	default:
		return fmt.Errorf("pyjson: cannot encode a value of type %s", rv.Type())
	}
	return nil
}

// viaEncodingJSON encodes rv with encoding/json, decodes the result and
// encodes that.
func (e *encoder) viaEncodingJSON(rv reflect.Value) error {
	b, err := json.Marshal(rv.Interface())
	if err != nil {
		return fmt.Errorf("pyjson: %w", err)
	}
	d, err := Decode(b)
	if err != nil {
		return err
	}
	e.buf, err = appendDecoded(e.buf, d)
	return err
}

// appendDecoded encodes a value produced by Decode (no reflection needed).
func appendDecoded(buf []byte, v any) ([]byte, error) {
	e := encoder{buf: buf}
	err := e.encode(v, 0)
	return e.buf, err
}

// number encodes a json.Number by Python's rule: float if the literal
// contains '.', 'e' or 'E', else int.
func (e *encoder) number(n json.Number) error {
	s := string(n)
	if !validNumber(s) {
		return fmt.Errorf("pyjson: invalid number literal %q", s)
	}
	if strings.ContainsAny(s, ".eE") {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return fmt.Errorf("pyjson: number %q: %w", s, err)
		}
		// On overflow ParseFloat returns ±Inf, as Python's float() does.
		e.buf = AppendFloat(e.buf, f)
		return nil
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		e.buf = strconv.AppendInt(e.buf, i, 10)
		return nil
	}
	var b big.Int
	if _, ok := b.SetString(s, 10); !ok {
		return fmt.Errorf("pyjson: invalid integer literal %q", s)
	}
	e.buf = b.Append(e.buf, 10)
	return nil
}

// validNumber reports whether s matches the JSON number grammar
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
func validNumber(s string) bool {
	return numberLen(s) == len(s) && len(s) > 0
}

// numberLen returns the length of the JSON number at the start of s, or 0.
func numberLen(s string) int {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	default:
		return 0
	}
	if i < len(s) && s[i] == '.' {
		j := i + 1
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		if j > i+1 {
			i = j
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i + 1
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		k := j
		for k < len(s) && isDigit(s[k]) {
			k++
		}
		if k > j {
			i = k
		}
	}
	return i
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func appendBool(buf []byte, b bool) []byte {
	if b {
		return append(buf, "true"...)
	}
	return append(buf, "false"...)
}

// AppendFloat appends Python's repr of f as json.dumps prints it: the
// shortest round-trip digits, fixed notation with at least one decimal when
// the decimal exponent is in [-4, 16), else d.ddde±XX; NaN, Infinity,
// -Infinity for the non-finite values.
func AppendFloat(buf []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(buf, "NaN"...)
	case math.IsInf(f, 1):
		return append(buf, "Infinity"...)
	case math.IsInf(f, -1):
		return append(buf, "-Infinity"...)
	case f == 0:
		if math.Signbit(f) {
			return append(buf, "-0.0"...)
		}
		return append(buf, "0.0"...)
	}
	// Go's shortest 'e' form has the same digits and layout as Python's
	// ("1e+16", "1.2345678901234568e+17", "5e-324": sign always, at
	// least two exponent digits). Decide the notation from its exponent.
	start := len(buf)
	buf = strconv.AppendFloat(buf, f, 'e', -1, 64)
	exp := 0
	if i := bytes.IndexByte(buf[start:], 'e'); i >= 0 {
		exp, _ = strconv.Atoi(string(buf[start+i+1:]))
	}
	if exp < -4 || exp >= 16 {
		return buf
	}
	buf = strconv.AppendFloat(buf[:start], f, 'f', -1, 64)
	if bytes.IndexByte(buf[start:], '.') < 0 {
		buf = append(buf, ".0"...)
	}
	return buf
}

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string literal escaped like Python's
// json.dumps with ensure_ascii=True.
func AppendString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c <= 0x7e && c != '"' && c != '\\' {
			i++
			continue
		}
		buf = append(buf, s[start:i]...)
		if c < utf8.RuneSelf {
			switch c {
			case '"', '\\':
				buf = append(buf, '\\', c)
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			case '\b':
				buf = append(buf, '\\', 'b')
			case '\f':
				buf = append(buf, '\\', 'f')
			default: // other control characters and DEL
				buf = appendU(buf, rune(c))
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r >= 0x10000 {
			r1, r2 := utf16.EncodeRune(r)
			buf = appendU(buf, r1)
			buf = appendU(buf, r2)
		} else {
			// An invalid byte decodes as U+FFFD, size 1.
			buf = appendU(buf, r)
		}
		i += size
		start = i
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}

func appendU(buf []byte, r rune) []byte {
	return append(buf, '\\', 'u',
		hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
}

// Decode parses one JSON value like encoding/json with UseNumber, returning
// map[string]any, []any, string, bool, nil and json.Number, and in addition
// accepts Python's bare tokens NaN, Infinity and -Infinity, which it returns
// as float64 values. Duplicate object keys keep the last value, as in
// Python. Whitespace is space, tab, LF and CR; anything but whitespace after
// the value is an error.
func Decode(data []byte) (any, error) {
	d := decoder{data: data}
	d.skipSpace()
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	d.skipSpace()
	if d.pos < len(d.data) {
		return nil, d.errorf("extra data after the JSON value")
	}
	return v, nil
}

// SyntaxError is a JSON syntax error found by [Decode].
type SyntaxError struct {
	Offset int // byte offset of the error in the input
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("pyjson: offset %d: %s", e.Offset, e.Msg)
}

type decoder struct {
	data []byte
	pos  int
}

func (d *decoder) errorf(format string, args ...any) error {
	return &SyntaxError{Offset: d.pos, Msg: fmt.Sprintf(format, args...)}
}

func (d *decoder) skipSpace() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *decoder) literal(lit string) bool {
	if bytes.HasPrefix(d.data[d.pos:], []byte(lit)) {
		d.pos += len(lit)
		return true
	}
	return false
}

func (d *decoder) value(depth int) (any, error) {
	if depth > maxDepth {
		return nil, d.errorf("nesting too deep")
	}
	if d.pos >= len(d.data) {
		return nil, d.errorf("unexpected end of input")
	}
	switch c := d.data[d.pos]; {
	case c == '{':
		return d.object(depth)
	case c == '[':
		return d.array(depth)
	case c == '"':
		return d.str()
	case d.literal("true"):
		return true, nil
	case d.literal("false"):
		return false, nil
	case d.literal("null"):
		return nil, nil
	case d.literal("NaN"):
		return math.NaN(), nil
	case d.literal("Infinity"):
		return math.Inf(1), nil
	case d.literal("-Infinity"):
		return math.Inf(-1), nil
	case c == '-' || isDigit(c):
		n := numberLen(string(d.data[d.pos:min(len(d.data), d.pos+numberScanLimit(d.data[d.pos:]))]))
		if n == 0 {
			return nil, d.errorf("invalid number")
		}
		s := string(d.data[d.pos : d.pos+n])
		d.pos += n
		return json.Number(s), nil
	default:
		return nil, d.errorf("unexpected character %q", c)
	}
}

// numberScanLimit returns the length of the run of characters that can
// belong to a number, so that numberLen need not copy the whole input.
func numberScanLimit(b []byte) int {
	i := 0
	for i < len(b) {
		switch c := b[i]; {
		case isDigit(c), c == '-', c == '+', c == '.', c == 'e', c == 'E':
			i++
		default:
			return i
		}
	}
	return i
}

func (d *decoder) object(depth int) (any, error) {
	d.pos++ // '{'
	m := map[string]any{}
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		return m, nil
	}
	for {
		d.skipSpace()
		if d.pos >= len(d.data) || d.data[d.pos] != '"' {
			return nil, d.errorf("expected a string key")
		}
		k, err := d.str()
		if err != nil {
			return nil, err
		}
		d.skipSpace()
		if d.pos >= len(d.data) || d.data[d.pos] != ':' {
			return nil, d.errorf("expected ':' after object key")
		}
		d.pos++
		d.skipSpace()
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		m[k] = v
		d.skipSpace()
		if d.pos >= len(d.data) {
			return nil, d.errorf("unexpected end of input in object")
		}
		switch d.data[d.pos] {
		case ',':
			d.pos++
		case '}':
			d.pos++
			return m, nil
		default:
			return nil, d.errorf("expected ',' or '}' in object")
		}
	}
}

func (d *decoder) array(depth int) (any, error) {
	d.pos++ // '['
	a := []any{}
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		return a, nil
	}
	for {
		d.skipSpace()
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		d.skipSpace()
		if d.pos >= len(d.data) {
			return nil, d.errorf("unexpected end of input in array")
		}
		switch d.data[d.pos] {
		case ',':
			d.pos++
		case ']':
			d.pos++
			return a, nil
		default:
			return nil, d.errorf("expected ',' or ']' in array")
		}
	}
}

// str parses a string literal starting at d.pos. Strings without escapes
// are copied directly; others are unescaped by encoding/json.
func (d *decoder) str() (string, error) {
	start := d.pos
	i := d.pos + 1
	escaped := false
	for ; i < len(d.data); i++ {
		c := d.data[i]
		switch {
		case c == '"':
			tok := d.data[start : i+1]
			d.pos = i + 1
			if !escaped && utf8.Valid(tok) {
				return string(tok[1 : len(tok)-1]), nil
			}
			var s string
			if err := json.Unmarshal(tok, &s); err != nil {
				d.pos = start
				return "", d.errorf("invalid string: %v", err)
			}
			return s, nil
		case c == '\\':
			escaped = true
			i++ // skip the escaped character (a '"' must not end the string)
		case c < 0x20:
			d.pos = i
			return "", d.errorf("control character %#02x in string", c)
		}
	}
	d.pos = start
	return "", d.errorf("unterminated string")
}
