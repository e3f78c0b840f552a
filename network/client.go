package network

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/saxsdog/saxs/internal/pyjson"
)

// Client sends signed requests to one server (the leash).
type Client struct {
	// Addr is the server's address, tcp://host:port.
	Addr string
	// Secret is the shared secret of the network configuration.
	Secret string
	// Timeout bounds each request (DefaultTimeout when 0).
	Timeout time.Duration
	// Now gives the request time; nil means time.Now.
	Now func() time.Time
	// NoDigests leaves the attachment digests out of argument.data, for
	// 0.3.0 servers, whose request schema has no "data".
	NoDigests bool
	// Plain sends the requests as the original client does: argument.data
	// holds only what the caller put there (no attachment digests, no
	// requests for additions such as FramesPerSecKey), so the replies
	// have the original's keys. An original 0.3.0 server, whose request
	// schema has no argument.data, needs it.
	Plain bool
}

// additions returns the members of argument.data with which Do asks for
// the additions to the reply of cmd (see FramesPerSecKey).
func additions(cmd string) Obj {
	switch cmd {
	case "stat", "plot", "close", "readdir", "abort":
		return Obj{FramesPerSecKey: true, SkippedKey: true}
	case "fileslist":
		return Obj{FailedKey: true}
	case "get":
		return Obj{AttachmentsKey: true}
	}
	return nil
}

// FailedError is a reply whose result is an error.
type FailedError struct {
	Reply *Reply
}

func (e *FailedError) Error() string {
	if t := e.Reply.ErrorText(); t != "" {
		return e.Reply.Result + ": " + t
	}
	return e.Reply.Result
}

// Failed reports whether a reply result is one of the error results.
func Failed(result string) bool {
	switch result {
	case ResultError, ResultValueError, ResultValidation, ResultAuthError, ResultServerError,
		ResultNotImplemented, ResultOSError, "ValueError", "IOError", "AuthenticationError in request":
		return true
	}
	return false
}

// FileAttachment builds an attachment frame {"filename", "data": base64}.
func FileAttachment(filename string, data []byte) ([]byte, error) {
	return pyjson.Marshal(Obj{"filename": filename, "data": base64.StdEncoding.EncodeToString(data)})
}

// Do signs and sends {"command": cmd, "argument": arg} with the given
// attachment frames and returns the decoded reply. Unless Plain, the
// attachments' digests (DigestKey, unless NoDigests) and the requests for
// the additions to the reply (FramesPerSecKey, FailedKey, AttachmentsKey)
// are added to argument.data; arg itself is not modified. A reply that
// does not come in time gives a *NoAnswerError; an error reply is
// returned as a Reply, not an error (see Failed).
func (c *Client) Do(ctx context.Context, cmd string, arg Obj, attachments [][]byte) (*Reply, error) {
	arg = maps.Clone(arg)
	if arg == nil {
		arg = Obj{}
	}
	add := Obj{}
	if !c.Plain {
		maps.Copy(add, additions(cmd))
		if len(attachments) > 0 && !c.NoDigests {
			list := make([]any, len(attachments))
			for i, a := range attachments {
				list[i] = Digest(a)
			}
			add[DigestKey] = list
		}
	}
	if len(add) > 0 {
		data, _ := arg["data"].(map[string]any)
		nd := maps.Clone(data)
		if nd == nil {
			nd = Obj{}
		}
		maps.Copy(nd, add)
		arg["data"] = nd
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	var last time.Time
	for attempt := 0; ; attempt++ {
		t := now()
		if !t.After(last) {
			t = last.Add(time.Microsecond)
		}
		last = t
		r, err := c.roundTrip(ctx, Obj{"command": cmd, "argument": arg}, t, attachments)
		// Two clients with one secret that send the same command at the
		// same instant send the same bytes, and the server takes the
		// second for a replay and rejects it unexecuted: sent again at
		// another time it is a new request.
		if err != nil || attempt == maxReplayRetries || r.Result != ResultAuthError || r.ErrorText() != ReasonReplayed {
			return r, err
		}
	}
}

// maxReplayRetries bounds how often Do sends a request again that the
// server rejected as a replay.
const maxReplayRetries = 3

// roundTrip signs req at t and sends it with the attachments.
func (c *Client) roundTrip(ctx context.Context, req Obj, t time.Time, attachments [][]byte) (*Reply, error) {
	if err := Sign(req, c.Secret, t); err != nil {
		return nil, err
	}
	frame0, err := pyjson.Marshal(req)
	if err != nil {
		return nil, err
	}
	frames := append([][]byte{frame0}, attachments...)
	rep, err := RoundTrip(ctx, c.Addr, frames, c.Timeout)
	if err != nil {
		return nil, err
	}
	if len(rep) == 0 {
		return nil, errors.New("empty reply")
	}
	r, err := ParseReply(rep[0])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Addr, err)
	}
	return r, nil
}
