package pyjson

import (
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testSecret = "0123456789abcdef0123456789abcd"

// sign computes the saxsdog request signature: sha512 of the canonical JSON
// with "sign" set to "" followed by the secret.
func sign(t *testing.T, req map[string]any) (string, string) {
	t.Helper()
	req["sign"] = ""
	b, err := Marshal(req)
	require.NoError(t, err)
	h := sha512.New()
	h.Write(b)
	h.Write([]byte(testSecret))
	return string(b), hex.EncodeToString(h.Sum(nil))
}

// TestSigningVectors checks the two test vectors of spec §9.2, computed with
// Python 2.7.18.
func TestSigningVectors(t *testing.T) {
	t.Run("stat", func(t *testing.T) {
		req := map[string]any{
			"command":  "stat",
			"argument": map[string]any{},
			"time":     1404979588.715198,
		}
		s, sig := sign(t, req)
		assert.Equal(t, `{"argument": {}, "command": "stat", "sign": "", "time": 1404979588.715198}`, s)
		assert.Equal(t, "d4c0495b292319a33fdc243b79fb35414bb857745d075e444c2358ff875577ac3a1d81da83f6739ce61a141e6163bf5d49a0eb9b4ad3d1e55051add0baa99b44", sig)
	})
	t.Run("new", func(t *testing.T) {
		req := map[string]any{
			"command": "new",
			"argument": map[string]any{
				"calibration": map[string]any{
					"Title":      "café",
					"Wavelength": 1.54,
					"Masks":      []any{map[string]any{"qStop": 5.0, "Oversampling": 2}},
				},
				"data": map[string]any{},
			},
			"time": 1500000000.0,
		}
		s, sig := sign(t, req)
		assert.Equal(t, `{"argument": {"calibration": {"Masks": [{"Oversampling": 2, "qStop": 5.0}], "Title": "caf\u00e9", "Wavelength": 1.54}, "data": {}}, "command": "new", "sign": "", "time": 1500000000.0}`, s)
		assert.Equal(t, "517605b38ba16a9947ac2a0d00848ad0a2bfac875c4942c4e5a96ddf7e5902af080fa2f463dfcde63c9f47645539bba6508903009383216febb153259d6af4b9", sig)
	})
	t.Run("new, as received", func(t *testing.T) {
		// A server recomputes the signature from the parsed message, whose
		// numbers are json.Number: "5.0" must stay a float, "2" an int.
		wire := `{"time":1500000000.0,"sign":"517605b3","command":"new","argument":{"data":{},` +
			`"calibration":{"Wavelength":1.54,"Title":"caf\u00e9","Masks":[{"qStop":5.0,"Oversampling":2}]}}}`
		v, err := Decode([]byte(wire))
		require.NoError(t, err)
		_, sig := sign(t, v.(map[string]any))
		assert.Equal(t, "517605b38ba16a9947ac2a0d00848ad0a2bfac875c4942c4e5a96ddf7e5902af080fa2f463dfcde63c9f47645539bba6508903009383216febb153259d6af4b9", sig)
	})
}

// TestFloatRepr checks Python 2.7 repr(float) (values from Python 2.7.18).
func TestFloatRepr(t *testing.T) {
	cases := []struct {
		f    float64
		want string
	}{
		{1500000000.0, "1500000000.0"},
		{100.0, "100.0"},
		{math.Copysign(0, -1), "-0.0"},
		{0, "0.0"},
		{1e16, "1e+16"},                            // first exponent-form power
		{9999999999999998.0, "9999999999999998.0"}, // largest below 1e16
		{1e-5, "1e-05"},
		{0.0001, "0.0001"}, // 1e-4 is the smallest fixed-form exponent
		{0.00011, "0.00011"},
		{9.9999e-05, "9.9999e-05"},
		{1.2345678901234568e+17, "1.2345678901234568e+17"},
		{5e-324, "5e-324"},
		{math.MaxFloat64, "1.7976931348623157e+308"},
		{0.1, "0.1"},
		{1.0 / 3, "0.3333333333333333"},
		{123456789012345.6, "123456789012345.6"},
		{1e22, "1e+22"},
		{2.5e-7, "2.5e-07"},
		{1404979588.715198, "1404979588.715198"},
		{1e100, "1e+100"},
		{-1.5e-10, "-1.5e-10"},
		{0.5, "0.5"},
		{-100, "-100.0"},
		{math.NaN(), "NaN"},
		{math.Inf(1), "Infinity"},
		{math.Inf(-1), "-Infinity"},
	}
	for _, c := range cases {
		b, err := Marshal(c.f)
		require.NoError(t, err)
		assert.Equal(t, c.want, string(b), "repr(%v)", c.f)
	}
}

func TestNumbers(t *testing.T) {
	cases := []struct {
		in   any
		want string
	}{
		{json.Number("1E5"), "100000.0"},
		{json.Number("-0"), "0"},
		{json.Number("1e400"), "Infinity"},
		{json.Number("-1e400"), "-Infinity"},
		{json.Number("1e-400"), "0.0"},
		{json.Number("123456789012345678901234567890"), "123456789012345678901234567890"},
		{json.Number("-123456789012345678901234567890"), "-123456789012345678901234567890"},
		{json.Number("1.0e0"), "1.0"},
		{json.Number("0.1e1"), "1.0"},
		{json.Number("5.0"), "5.0"},
		{json.Number("2"), "2"},
		{int64(-7), "-7"},
		{7, "7"},
		{uint8(255), "255"},
		{float32(0.5), "0.5"},
		{big.NewInt(-3), "-3"},
		{true, "true"},
		{false, "false"},
		{nil, "null"},
	}
	for _, c := range cases {
		b, err := Marshal(c.in)
		require.NoError(t, err, "%#v", c.in)
		assert.Equal(t, c.want, string(b), "%#v", c.in)
	}
	for _, bad := range []json.Number{"", "01", "1.", "+1", "abc", "1e", "--1", "0x10"} {
		_, err := Marshal(bad)
		assert.Error(t, err, "json.Number(%q)", bad)
	}
}

func TestStringEscaping(t *testing.T) {
	cases := []struct {
		in, want string
	}{
		// From Python 2.7.18 json.dumps(u"...").
		{"a\"b\\c\n\r\t\b\f\x00\x1f\x7f/\u00e9\u20ac\U0001F600~ ", `"a\"b\\c\n\r\t\b\f\u0000\u001f\u007f/\u00e9\u20ac\ud83d\ude00~ "`},
		{"", `""`},
		{"plain ASCII / text", `"plain ASCII / text"`},
		{"\u00ff\u0100\uffff", `"\u00ff\u0100\uffff"`},
		{"\U0010FFFF", `"\udbff\udfff"`},
		{"\x0b\x1b", `"\u000b\u001b"`},
		{"bad\xffutf8", `"bad\ufffdutf8"`},
	}
	for _, c := range cases {
		b, err := Marshal(c.in)
		require.NoError(t, err)
		assert.Equal(t, c.want, string(b), "%q", c.in)
	}
}

func TestSortedKeys(t *testing.T) {
	v := map[string]any{
		"b": []any{1, 2.0, nil, true, false, map[string]any{"é": 1, "z": 2, "A": 3, "a": map[string]any{}}},
		"a": "x", "\U0001F600": 1, "\uffff": 2,
	}
	b, err := Marshal(v)
	require.NoError(t, err)
	// Python 2.7.18 (wide build, code point order).
	assert.Equal(t, `{"a": "x", "b": [1, 2.0, null, true, false, {"A": 3, "a": {}, "z": 2, "\u00e9": 1}], "\uffff": 2, "\ud83d\ude00": 1}`, string(b))
}

func TestReflectTypes(t *testing.T) {
	type inner struct {
		X float64 `json:"x"`
		N string  `json:"n,omitempty"`
	}
	cases := []struct {
		in   any
		want string
	}{
		{[]float64{1, 0.5, math.NaN()}, "[1.0, 0.5, NaN]"},
		{[]string{"a", "b"}, `["a", "b"]`},
		{[2]int{3, 4}, "[3, 4]"},
		{map[string]float64{"b": 1, "a": 2}, `{"a": 2.0, "b": 1.0}`},
		{map[string][]int{"k": {1}}, `{"k": [1]}`},
		{&inner{X: 1.5}, `{"x": 1.5}`},
		{inner{X: 2}, `{"x": 2}`}, // via encoding/json: integral float becomes int
		{json.RawMessage(`{"b":1.0,"a":[NaN]}`), `{"a": [NaN], "b": 1.0}`},
		{(*inner)(nil), "null"},
		{[]any(nil), "null"},
		{map[string]any(nil), "null"},
		{[]float64(nil), "null"},
		{[]int(nil), "null"},
	}
	for _, c := range cases {
		b, err := Marshal(c.in)
		require.NoError(t, err, "%#v", c.in)
		assert.Equal(t, c.want, string(b), "%#v", c.in)
	}
	_, err := Marshal(make(chan int))
	assert.Error(t, err)
	_, err = Marshal(map[string]any{"f": func() {}})
	assert.Error(t, err)
}

func TestCycle(t *testing.T) {
	m := map[string]any{}
	m["self"] = m
	_, err := Marshal(m)
	assert.Error(t, err)
}

func TestDecode(t *testing.T) {
	v, err := Decode([]byte(` [1E5, -0, 1e400, -1e400, 1e-400, 123456789012345678901234567890, 1.0e0, NaN, Infinity, -Infinity, 0.1e1] `))
	require.NoError(t, err)
	a := v.([]any)
	assert.Equal(t, json.Number("1E5"), a[0])
	assert.True(t, math.IsNaN(a[7].(float64)))
	assert.Equal(t, math.Inf(1), a[8])
	assert.Equal(t, math.Inf(-1), a[9])
	b, err := Marshal(v)
	require.NoError(t, err)
	// Python 2.7.18: json.dumps(json.loads(...)).
	assert.Equal(t, "[100000.0, 0, Infinity, -Infinity, 0.0, 123456789012345678901234567890, 1.0, NaN, Infinity, -Infinity, 1.0]", string(b))

	v, err = Decode([]byte("{\"a\" :\t{\"b\\u00e9\\\"\": [true,false,null,\"x\\ny\"]}, \"a\": 2,\r\n\"c\":{}}"))
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"a": json.Number("2"), "c": map[string]any{}}, v)

	v, err = Decode([]byte(`{"k": "\ud83d\ude00 \"q\" caf\u00e9 \/"}`))
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"k": "\U0001F600 \"q\" café /"}, v)

	for _, bad := range []string{
		"", " ", "{", "[1,]", "[1 2]", `{"a" 1}`, `{a: 1}`, `{"a": 1,}`, "01", "1.", "-", "nan",
		"infinity", "+1", `"abc`, "\"a\x01b\"", "[1] x", "tru", `"\x"`, "{}{}",
	} {
		_, err := Decode([]byte(bad))
		var se *SyntaxError
		assert.True(t, errors.As(err, &se), "Decode(%q) = %v, want *SyntaxError", bad, err)
	}
}

func TestRoundTrip(t *testing.T) {
	in := `{"argument": {"calibration": {"Masks": [{"Oversampling": 2, "qStop": 5.0}], "Title": "caf\u00e9", "Wavelength": 1.54}, "data": {}}, "command": "new", "sign": "", "time": 1500000000.0}`
	v, err := Decode([]byte(in))
	require.NoError(t, err)
	b, err := Marshal(v)
	require.NoError(t, err)
	assert.Equal(t, in, string(b))
}

func BenchmarkMarshal(b *testing.B) {
	v, err := Decode([]byte(`{"argument": {"calibration": {"Masks": [{"Oversampling": 2, "qStop": 5.0}], "Title": "caf\u00e9", "Wavelength": 1.54}, "data": {}}, "command": "new", "sign": "", "time": 1500000000.0}`))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Marshal(v); err != nil {
			b.Fatal(err)
		}
	}
}
