package network

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saxsdog/saxs/internal/pyjson"
)

// The two test vectors of spec §9.2 (computed with Python 2.7.18), given
// as the wire text a server receives: the signature is recomputed from
// the parsed message.
func TestSignatureVectors(t *testing.T) {
	cases := []struct{ wire, want string }{
		{`{"command":"stat","argument":{},"time":1404979588.715198,"sign":"x"}`,
			"d4c0495b292319a33fdc243b79fb35414bb857745d075e444c2358ff875577ac3a1d81da83f6739ce61a141e6163bf5d49a0eb9b4ad3d1e55051add0baa99b44"},
		{`{"time": 1500000000.0, "command": "new", "argument": {"data": {}, "calibration": {"Wavelength": 1.54, "Title": "caf\u00e9", "Masks": [{"qStop": 5.0, "Oversampling": 2}]}}}`,
			"517605b38ba16a9947ac2a0d00848ad0a2bfac875c4942c4e5a96ddf7e5902af080fa2f463dfcde63c9f47645539bba6508903009383216febb153259d6af4b9"},
	}
	for _, c := range cases {
		v, err := pyjson.Decode([]byte(c.wire))
		require.NoError(t, err)
		got, err := Signature(v.(map[string]any), testSecret)
		require.NoError(t, err)
		assert.Equal(t, c.want, got)
	}
}

// TestCanonicalForm checks the canonical text of parsed requests against
// what Python 2.7's json.dumps(json.loads(wire), sort_keys=True) prints
// (the expected strings follow Python's documented repr and ensure_ascii
// rules).
func TestCanonicalForm(t *testing.T) {
	cases := []struct{ name, wire, want string }{
		{"float with integral value stays float", `1.0`, `1.0`},
		{"exponent makes a float", `1E2`, `100.0`},
		{"int stays int", `100`, `100`},
		{"negative zero", `-0.0`, `-0.0`},
		{"fixed notation up to 1e16", `1234567890123456.0`, `1234567890123456.0`},
		{"1e16 switches to exponent", `1e16`, `1e+16`},
		{"small fixed", `0.0001`, `0.0001`},
		{"below 1e-4 exponent", `0.00001`, `1e-05`},
		{"shortest round trip", `0.1`, `0.1`},
		{"17 digits", `123456789012345678.0`, `1.2345678901234568e+17`},
		{"denormal", `5e-324`, `5e-324`},
		{"big int", `123456789012345678901234567890`, `123456789012345678901234567890`},
		{"negative big int", `-98765432109876543210`, `-98765432109876543210`},
		{"unicode above the BMP", `"\ud83d\ude00"`, `"\ud83d\ude00"`},
		{"raw unicode above the BMP", "\"\U0001F600\"", `"\ud83d\ude00"`},
		{"latin", `"é"`, `"\u00e9"`},
		{"control characters", `"\u0001\u001f\n\t\b\f\r"`, `"\u0001\u001f\n\t\b\f\r"`},
		{"DEL escaped, slash not", `"\u007f/"`, `"\u007f/"`},
		{"quotes and backslash", `"\"\\"`, `"\"\\"`},
		{"sorted keys", `{"b":1,"a":{"d":[],"c":null}}`, `{"a": {"c": null, "d": []}, "b": 1}`},
		{"NaN token", `NaN`, `NaN`},
		{"literals", `[true,false,null]`, `[true, false, null]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := pyjson.Decode([]byte(c.wire))
			require.NoError(t, err)
			got, err := pyjson.Marshal(v)
			require.NoError(t, err)
			assert.Equal(t, c.want, string(got))
		})
	}
}

func signedRequest(t *testing.T, secret string, now time.Time) map[string]any {
	t.Helper()
	req := map[string]any{"command": "stat", "argument": map[string]any{}}
	require.NoError(t, Sign(req, secret, now))
	// As received: through the wire text.
	b, err := pyjson.Marshal(req)
	require.NoError(t, err)
	v, err := pyjson.Decode(b)
	require.NoError(t, err)
	return v.(map[string]any)
}

func TestVerifier(t *testing.T) {
	now := time.Unix(1_800_000_000, 123456000)
	reason := func(err error) string {
		var ae *AuthError
		if errors.As(err, &ae) {
			return ae.Reason
		}
		return ""
	}
	t.Run("accepts once, rejects the replay", func(t *testing.T) {
		v := NewVerifier(testSecret)
		req := signedRequest(t, testSecret, now)
		require.NoError(t, v.Verify(req, now))
		assert.Equal(t, ReasonReplayed, reason(v.Verify(req, now.Add(time.Second))))
	})
	t.Run("wrong secret", func(t *testing.T) {
		v := NewVerifier(testSecret)
		req := signedRequest(t, "another secret of thirty characters", now)
		assert.Equal(t, ReasonWrongSig, reason(v.Verify(req, now)))
	})
	t.Run("tampered", func(t *testing.T) {
		v := NewVerifier(testSecret)
		req := signedRequest(t, testSecret, now)
		req["command"] = "abort"
		assert.Equal(t, ReasonWrongSig, reason(v.Verify(req, now)))
	})
	t.Run("untimely", func(t *testing.T) {
		v := NewVerifier(testSecret)
		assert.Equal(t, ReasonUntimely, reason(v.Verify(signedRequest(t, testSecret, now.Add(-Window)), now)))
		assert.Equal(t, ReasonUntimely, reason(v.Verify(signedRequest(t, testSecret, now.Add(Window+time.Second)), now)))
		assert.NoError(t, v.Verify(signedRequest(t, testSecret, now.Add(-Window+time.Second)), now))
	})
	t.Run("no time", func(t *testing.T) {
		v := NewVerifier(testSecret)
		req := signedRequest(t, testSecret, now)
		delete(req, "time")
		assert.Equal(t, ReasonUntimely, reason(v.Verify(req, now)))
	})
	t.Run("cache pruned by time and bounded", func(t *testing.T) {
		v := NewVerifier(testSecret)
		v.max = 3
		for i := range 5 {
			require.NoError(t, v.Verify(signedRequest(t, testSecret, now.Add(time.Duration(i)*time.Millisecond)), now))
		}
		assert.Equal(t, 3, v.Len())
		require.NoError(t, v.Verify(signedRequest(t, testSecret, now.Add(Window)), now.Add(Window+time.Second)))
		assert.Equal(t, 1, v.Len(), "the old signatures are forgotten once outside the window")
	})
}

func TestCheckDigests(t *testing.T) {
	att, err := FileAttachment("mask.msk", []byte("mask bytes"))
	require.NoError(t, err)
	mk := func(data any) *Request {
		arg := map[string]any{}
		if data != nil {
			arg["data"] = data
		}
		return &Request{Command: "new", Argument: arg, Frames: [][]byte{att}}
	}
	assert.NoError(t, mk(nil).CheckDigests(false))
	assert.Error(t, mk(nil).CheckDigests(true))
	assert.NoError(t, mk(map[string]any{DigestKey: []any{Digest(att)}}).CheckDigests(true))
	assert.Error(t, mk(map[string]any{DigestKey: []any{Digest([]byte("other"))}}).CheckDigests(false))
	assert.Error(t, mk(map[string]any{DigestKey: []any{}}).CheckDigests(false))
}

// FuzzParseRequest feeds arbitrary frames to the request parser and the
// verifier: no panic, and the canonical form of anything decoded is a
// fixed point (decoding and re-encoding it gives the same text).
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		`{"command":"stat","argument":{},"time":1404979588.715198,"sign":""}`,
		`{"command":"new","argument":{"calibration":{"Masks":[{"qStop":5.0}]},"data":{}},"time":1e9,"sign":"ab"}`,
		`{"command":"listdir","argument":{"directory":["a","..","\ud83d\ude00"]}}`,
		`[1, 2.5, -0.0, 1e400, NaN, -Infinity, "\u0000"]`,
		`{"a":123456789012345678901234567890}`, `nul`, `{"command":7}`, "\xff\xfe",
	} {
		f.Add([]byte(s))
	}
	v := NewVerifier(testSecret)
	f.Fuzz(func(t *testing.T, data []byte) {
		if req, err := ParseRequest([][]byte{data}); err == nil {
			_ = v.Verify(req.Raw, time.Unix(1404979588, 0))
			_ = req.CheckDigests(true)
		}
		x, err := pyjson.Decode(data)
		if err != nil {
			return
		}
		a, err := pyjson.Marshal(x)
		if err != nil {
			return
		}
		y, err := pyjson.Decode(a)
		if err != nil {
			t.Fatalf("canonical text does not decode: %q: %v", a, err)
		}
		b, err := pyjson.Marshal(y)
		if err != nil || string(a) != string(b) {
			t.Fatalf("canonical form is not a fixed point: %q then %q (%v)", a, b, err)
		}
	})
}
