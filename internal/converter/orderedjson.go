package converter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// object is a JSON object that remembers the order of its keys. The values
// held in a document are *object, []any, json.Number, string, bool and nil.
type object struct {
	members []member
}

type member struct {
	key string
	val any
}

func (o *object) index(key string) int {
	for i, m := range o.members {
		if m.key == key {
			return i
		}
	}
	return -1
}

// get returns the value of key.
func (o *object) get(key string) (any, bool) {
	if i := o.index(key); i >= 0 {
		return o.members[i].val, true
	}
	return nil, false
}

// getObject returns the value of key if it is an object.
func (o *object) getObject(key string) (*object, bool) {
	v, _ := o.get(key)
	obj, ok := v.(*object)
	return obj, ok
}

// set replaces the value of key in place, or appends key at the end.
func (o *object) set(key string, val any) {
	if i := o.index(key); i >= 0 {
		o.members[i].val = val
		return
	}
	o.members = append(o.members, member{key, val})
}

// insertBefore adds key just before the key before (at the end when before
// is absent). An existing key is only replaced in place.
func (o *object) insertBefore(before, key string, val any) {
	if i := o.index(key); i >= 0 {
		o.members[i].val = val
		return
	}
	i := o.index(before)
	if i < 0 {
		o.members = append(o.members, member{key, val})
		return
	}
	o.members = append(o.members, member{})
	copy(o.members[i+1:], o.members[i:])
	o.members[i] = member{key, val}
}

// objectAt returns the object stored under key, creating an empty one (at
// the end) when the key is absent or holds something else.
func (o *object) objectAt(key string) *object {
	if obj, ok := o.getObject(key); ok {
		return obj
	}
	obj := &object{}
	o.set(key, obj)
	return obj
}

// clone returns a deep copy of v.
func clone(v any) any {
	switch v := v.(type) {
	case *object:
		c := &object{members: make([]member, len(v.members))}
		for i, m := range v.members {
			c.members[i] = member{m.key, clone(m.val)}
		}
		return c
	case []any:
		c := make([]any, len(v))
		for i, x := range v {
			c[i] = clone(x)
		}
		return c
	}
	return v
}

// decodeOrdered parses one JSON value, keeping the key order of objects and
// the literal text of numbers. A repeated key keeps its first position and
// its last value, as encoding/json and Python do.
func decodeOrdered(data []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	v, err := decodeValue(d)
	if err != nil {
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		if err == nil {
			err = errors.New("unexpected data after the JSON value")
		}
		return nil, err
	}
	return v, nil
}

func decodeValue(d *json.Decoder) (any, error) {
	tok, err := d.Token()
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			o := &object{}
			for d.More() {
				kt, err := d.Token()
				if err != nil {
					return nil, err
				}
				key, ok := kt.(string)
				if !ok {
					return nil, fmt.Errorf("object key is %v, not a string", kt)
				}
				v, err := decodeValue(d)
				if err != nil {
					return nil, err
				}
				o.set(key, v)
			}
			if _, err := d.Token(); err != nil { // '}'
				return nil, err
			}
			return o, nil
		case '[':
			a := []any{}
			for d.More() {
				v, err := decodeValue(d)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			if _, err := d.Token(); err != nil { // ']'
				return nil, err
			}
			return a, nil
		}
		return nil, fmt.Errorf("unexpected %q", t)
	case string, json.Number, bool, nil:
		return t, nil
	}
	return nil, fmt.Errorf("unexpected token %v", tok)
}

// encodeIndented writes v the way Python's json.dump(v, f, indent=4,
// separators=(',', ': ')) lays it out: one member or element per line,
// four spaces per level, "[]" and "{}" for empty containers. Numbers keep
// their literal text. Strings are written as UTF-8 (Python escaped
// non-ASCII characters as \uXXXX; both read back the same). A newline ends
// the text.
func encodeIndented(v any) ([]byte, error) {
	var b bytes.Buffer
	if err := encodeValue(&b, v, 0); err != nil {
		return nil, err
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

func encodeValue(b *bytes.Buffer, v any, depth int) error {
	nl := func(d int) {
		b.WriteByte('\n')
		b.WriteString(strings.Repeat("    ", d))
	}
	switch v := v.(type) {
	case *object:
		if len(v.members) == 0 {
			b.WriteString("{}")
			return nil
		}
		b.WriteByte('{')
		for i, m := range v.members {
			if i > 0 {
				b.WriteByte(',')
			}
			nl(depth + 1)
			if err := encodeString(b, m.key); err != nil {
				return err
			}
			b.WriteString(": ")
			if err := encodeValue(b, m.val, depth+1); err != nil {
				return err
			}
		}
		nl(depth)
		b.WriteByte('}')
	case []any:
		if len(v) == 0 {
			b.WriteString("[]")
			return nil
		}
		b.WriteByte('[')
		for i, x := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			nl(depth + 1)
			if err := encodeValue(b, x, depth+1); err != nil {
				return err
			}
		}
		nl(depth)
		b.WriteByte(']')
	case json.Number:
		if !isJSONNumber(string(v)) {
			return fmt.Errorf("invalid number literal %q", string(v))
		}
		b.WriteString(string(v))
	case string:
		return encodeString(b, v)
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case nil:
		b.WriteString("null")
	default:
		return fmt.Errorf("cannot encode a value of type %T", v)
	}
	return nil
}

func encodeString(b *bytes.Buffer, s string) error {
	var sb bytes.Buffer
	e := json.NewEncoder(&sb)
	e.SetEscapeHTML(false)
	if err := e.Encode(s); err != nil {
		return err
	}
	b.Write(bytes.TrimSuffix(sb.Bytes(), []byte("\n")))
	return nil
}

// isJSONNumber reports whether s is a JSON number literal.
func isJSONNumber(s string) bool {
	return s != "" && json.Valid([]byte(s)) && (s[0] == '-' || (s[0] >= '0' && s[0] <= '9'))
}

// pyFloat formats f as Python's repr does (and so json.dump): the shortest
// digits that read back as f, in fixed notation with at least one decimal
// ("808.37", "1000.0") when the decimal exponent is in [-4, 16), otherwise
// in exponent notation ("1e-05"). f must be finite.
func pyFloat(f float64) string {
	if f == 0 {
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64)
	exp, _ := strconv.Atoi(e[strings.IndexByte(e, 'e')+1:])
	if exp < -4 || exp >= 16 {
		return e
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// numberValue returns the value of a JSON number held in a document.
func numberValue(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil
}
