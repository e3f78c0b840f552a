package monitor

import (
	"encoding/json"
	"math"
	"strconv"
)

// json returns the message's JSON encoding (see the package comment),
// encoding it on first use.
func (m *message) json() []byte {
	m.once.Do(func() { m.data = m.encode() })
	return m.data
}

// encode writes the JSON object of the message by hand: encoding/json
// rejects NaN, which must become null, and the float columns are the bulk
// of the message.
func (m *message) encode() []byte {
	n := 64 + len(m.file)
	for _, c := range m.curves {
		n += 64 + len(c.name) + 24*(len(c.q)+len(c.i)+len(c.sigma))
	}
	b := make([]byte, 0, n)
	b = append(b, `{"file":`...)
	b = appendString(b, m.file)
	b = append(b, `,"curves":[`...)
	for k, c := range m.curves {
		if k > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendString(b, c.name)
		b = append(b, `,"q":`...)
		b = appendFloats(b, c.q)
		b = append(b, `,"i":`...)
		b = appendFloats(b, c.i)
		b = append(b, `,"sigma":`...)
		b = appendFloats(b, c.sigma)
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	q, err := json.Marshal(s)
	if err != nil {
		// Marshal does not fail on strings; invalid UTF-8 becomes U+FFFD.
		return append(b, `""`...)
	}
	return append(b, q...)
}

// appendFloats appends v as a JSON array of numbers, with null for NaN and
// the infinities; a nil slice is an empty array.
func appendFloats(b []byte, v []float64) []byte {
	b = append(b, '[')
	for k, x := range v {
		if k > 0 {
			b = append(b, ',')
		}
		if math.IsNaN(x) || math.IsInf(x, 0) {
			b = append(b, "null"...)
			continue
		}
		b = strconv.AppendFloat(b, x, 'g', -1, 64)
	}
	return append(b, ']')
}
