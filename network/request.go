package network

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/saxsdog/saxs/internal/pyjson"
)

// Commands of the request schema (spec §9.5, 2.0).
var Commands = []string{"close", "abort", "new", "get", "plot", "plotdata", "readdir", "stat",
	"listdir", "fileslist", "mergedata", "getmergedata"}

// argumentKeys are the keys allowed in "argument".
var argumentKeys = []string{"calibration", "mergeconf", "data", "directory"}

// DigestKey is the member of argument.data in which our client lists the
// SHA-512 digests of the attachment frames, in order. Original servers
// ignore it.
const DigestKey = "AttachmentSHA512"

// Requests for what the original 2.0 result schema (LeashResultSchema.json)
// does not allow: each is a member of argument.data set to true (the 2.0
// request schema allows any argument.data; original servers ignore it).
// A reply carries an addition only when its request asks for it, so an
// original client, which validates every reply against that schema, gets
// the 2.0 keys only; our Client asks for all of them unless Plain.
const (
	// FramesPerSecKey asks for "frames per sec" (StatFramesPerSec) in
	// the stat objects of stat, plot, close, readdir and abort replies.
	FramesPerSecKey = "FramesPerSec"
	// FailedKey asks for the "Failed" list (the frames given up as
	// unreadable) in the fileslist reply's fileslist object.
	FailedKey = "FailedFrames"
	// SkippedKey asks for "images skipped" (StatSkipped) in the stat
	// objects, as FramesPerSecKey does for its member.
	SkippedKey = "SkippedFrames"
	// AttachmentsKey asks for "attachments" in the get reply of a queue
	// started with the 0.3.0 form of new, whose 0.3.0 reply has the mask
	// in data.mask only (a 2.0 queue's get always has "attachments").
	AttachmentsKey = "Attachments"
)

// StatFramesPerSec is the member of a stat object that gives the frames
// converted per second over the last HistoryWindow (sent on request:
// FramesPerSecKey).
const StatFramesPerSec = "frames per sec"

// StatSkipped is the member of a stat object that counts the frames
// skipped because their outputs exist (the calibration's OverwriteFiles
// false); sent on request (SkippedKey). Skipped frames are neither
// processed nor failed, and not in the queue length.
const StatSkipped = "images skipped"

// FailedList is the member of a fileslist object that lists the frames
// given up (sent on request: FailedKey).
const FailedList = "Failed"

// MaxRequestSize bounds the total size of a request's frames.
const MaxRequestSize = 64 << 20

// Attachment is a file sent with a request as a frame
// {"filename": ..., "data": base64}.
type Attachment struct {
	Filename string
	Data     []byte // decoded
	Raw      any    // the frame as decoded JSON, returned by get
}

// Request is a parsed, validated request.
type Request struct {
	Command  string
	Argument map[string]any
	Raw      map[string]any // the whole decoded frame 0
	Frames   [][]byte       // the attachment frames (1..n)
}

// ValidationError is a request that does not fit the request schema.
type ValidationError struct{ Msg string }

func (e *ValidationError) Error() string { return e.Msg }

// ParseRequest decodes and validates frame 0 of a request. A frame that is
// not JSON (or not UTF-8) gives an error whose reply is ValueError; one
// that does not fit the schema gives a *ValidationError.
func ParseRequest(frames [][]byte) (*Request, error) {
	if len(frames) == 0 {
		return nil, errors.New("empty request")
	}
	total := 0
	for _, f := range frames {
		total += len(f)
	}
	if total > MaxRequestSize {
		return nil, fmt.Errorf("request of %d bytes exceeds the limit of %d bytes", total, MaxRequestSize)
	}
	if !utf8.Valid(frames[0]) {
		return nil, errors.New("request is not valid UTF-8")
	}
	v, err := pyjson.Decode(frames[0])
	if err != nil {
		return nil, fmt.Errorf("no JSON object could be decoded: %w", err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, &ValidationError{"request is not a JSON object"}
	}
	for k := range m {
		switch k {
		case "command", "argument", "sign", "time":
		default:
			return nil, &ValidationError{fmt.Sprintf("Additional properties are not allowed (%q was unexpected)", k)}
		}
	}
	cmd, ok := m["command"].(string)
	if !ok {
		return nil, &ValidationError{"'command' is a required string property"}
	}
	if !slices.Contains(Commands, cmd) {
		return nil, &ValidationError{fmt.Sprintf("%q is not one of the commands %v", cmd, Commands)}
	}
	if _, ok := m["sign"].(string); !ok && m["sign"] != nil {
		return nil, &ValidationError{"'sign' is not a string"}
	}
	req := &Request{Command: cmd, Raw: m, Frames: frames[1:], Argument: map[string]any{}}
	if a, present := m["argument"]; present {
		arg, ok := a.(map[string]any)
		if !ok {
			return nil, &ValidationError{"'argument' is not an object"}
		}
		for k := range arg {
			if !slices.Contains(argumentKeys, k) {
				return nil, &ValidationError{fmt.Sprintf("Additional properties are not allowed in argument (%q was unexpected)", k)}
			}
		}
		req.Argument = arg
	}
	return req, nil
}

// Wants reports whether the request asks for the addition key (one of the
// *Key constants): argument.data[key] is true.
func (r *Request) Wants(key string) bool {
	d, _ := r.Argument["data"].(map[string]any)
	b, _ := d[key].(bool)
	return b
}

// CheckDigests compares the attachment frames with the digests listed in
// argument.data (if any). With strict, requests with attachments must
// list them.
func (r *Request) CheckDigests(strict bool) error {
	var list []any
	if d, ok := r.Argument["data"].(map[string]any); ok {
		if l, ok := d[DigestKey]; ok {
			if list, ok = l.([]any); !ok {
				return errors.New("attachment digests: not a list")
			}
		}
	}
	if list == nil {
		if strict && len(r.Frames) > 0 {
			return errors.New("attachment digests missing (server runs with --strict)")
		}
		return nil
	}
	if len(list) != len(r.Frames) {
		return fmt.Errorf("attachment digests: %d listed for %d attachments", len(list), len(r.Frames))
	}
	for i, f := range r.Frames {
		if s, _ := list[i].(string); s != Digest(f) {
			return fmt.Errorf("attachment %d does not match its digest", i+1)
		}
	}
	return nil
}

// Attachments decodes the attachment frames.
func (r *Request) Attachments() ([]Attachment, error) {
	var out []Attachment
	for i, f := range r.Frames {
		v, err := pyjson.Decode(f)
		if err != nil {
			return nil, fmt.Errorf("attachment %d: %w", i+1, err)
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("attachment %d: not a JSON object", i+1)
		}
		name, _ := m["filename"].(string)
		data, ok := m["data"].(string)
		if !ok {
			return nil, fmt.Errorf("attachment %d: no data string", i+1)
		}
		b, err := base64.StdEncoding.DecodeString(data)
		if err != nil {
			return nil, fmt.Errorf("attachment %d (%s): data is not base64: %w", i+1, name, err)
		}
		out = append(out, Attachment{Filename: name, Data: b, Raw: m})
	}
	return out, nil
}

// StringList reads a JSON list of strings (a "directory" argument); a
// single string is split into one component.
func StringList(v any) ([]string, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		return []string{x}, nil
	case []any:
		out := make([]string, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, errors.New("directory: not a list of strings")
			}
			out[i] = s
		}
		return out, nil
	}
	return nil, errors.New("directory: not a list of strings")
}
