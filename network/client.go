package network

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
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
// attachment frames (their digests are added to argument.data) and
// returns the decoded reply. A reply that does not come in time gives a
// *NoAnswerError; an error reply is returned as a Reply, not an error
// (see Failed).
func (c *Client) Do(ctx context.Context, cmd string, arg Obj, attachments [][]byte) (*Reply, error) {
	if arg == nil {
		arg = Obj{}
	}
	if len(attachments) > 0 && !c.NoDigests {
		data, _ := arg["data"].(map[string]any)
		nd := Obj{}
		for k, v := range data {
			nd[k] = v
		}
		list := make([]any, len(attachments))
		for i, a := range attachments {
			list[i] = Digest(a)
		}
		nd[DigestKey] = list
		arg["data"] = nd
	}
	req := Obj{"command": cmd, "argument": arg}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	if err := Sign(req, c.Secret, now()); err != nil {
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
