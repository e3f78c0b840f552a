package network

import (
	"crypto/sha512"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/saxsdog/saxs/internal/pyjson"
)

// Window is the accepted difference between a request's time and the
// server's clock: requests outside ±Window are "Untimely".
const Window = 900 * time.Second

// Signature returns the saxsdog signature of a request (spec §9.2): the
// lowercase hex SHA-512 of Python's json.dumps(req, sort_keys=True) with
// "sign" set to "", followed by the secret. req is not modified; its
// numbers should be json.Number (as pyjson.Decode returns them) or Go
// numbers.
func Signature(req map[string]any, secret string) (string, error) {
	m := make(map[string]any, len(req)+1)
	for k, v := range req {
		m[k] = v
	}
	m["sign"] = ""
	text, err := pyjson.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("signing: %w", err)
	}
	h := sha512.New()
	h.Write(text)
	h.Write([]byte(secret))
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Sign sets req["time"] to now (float seconds, like Python's time.time())
// and req["sign"] to the signature.
func Sign(req map[string]any, secret string, now time.Time) error {
	req["time"] = float64(now.UnixMicro()) / 1e6
	s, err := Signature(req, secret)
	if err != nil {
		return err
	}
	req["sign"] = s
	return nil
}

// AuthError is a request that failed authentication. Reason is the
// original's message: "Untimely request.", "Wrong signature." or, beyond
// the original, "Replayed request.".
type AuthError struct {
	Reason string
}

func (e *AuthError) Error() string { return "authentication failed: " + e.Reason }

// The reasons of AuthError.
const (
	ReasonUntimely = "Untimely request."
	ReasonWrongSig = "Wrong signature."
	ReasonReplayed = "Replayed request."
)

// Verifier checks signed requests for one secret and remembers the
// signatures it accepted within the time window, so that a request cannot
// be replayed. It is safe for concurrent use.
type Verifier struct {
	secret string
	window time.Duration
	max    int

	mu    sync.Mutex
	seen  map[string]time.Time // signature -> request time
	order []seenItem           // in insertion order, for pruning
}

type seenItem struct {
	sig string
	t   time.Time
}

// DefaultReplayCache is the largest number of signatures a Verifier
// remembers; beyond it the oldest are forgotten (and their requests could
// be replayed, if still within the window).
const DefaultReplayCache = 1 << 16

// NewVerifier returns a Verifier for secret with the window ±Window.
func NewVerifier(secret string) *Verifier {
	return &Verifier{secret: secret, window: Window, max: DefaultReplayCache, seen: map[string]time.Time{}}
}

// Verify checks the time and signature of a parsed request (numbers as
// json.Number) at now, and that the same signed request was not accepted
// before. It returns an *AuthError when the request is rejected.
func (v *Verifier) Verify(req map[string]any, now time.Time) error {
	sign, _ := req["sign"].(string)
	t, ok := Number(req["time"])
	if !ok || math.IsNaN(t) || math.Abs(t-float64(now.UnixNano())/1e9) >= v.window.Seconds() {
		return &AuthError{Reason: ReasonUntimely}
	}
	want, err := Signature(req, v.secret)
	if err != nil || subtle.ConstantTimeCompare([]byte(want), []byte(sign)) != 1 {
		return &AuthError{Reason: ReasonWrongSig}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.prune(now)
	if _, dup := v.seen[want]; dup {
		return &AuthError{Reason: ReasonReplayed}
	}
	rt := time.Unix(0, int64(t*1e9))
	v.seen[want] = rt
	v.order = append(v.order, seenItem{want, rt})
	for len(v.order) > v.max {
		delete(v.seen, v.order[0].sig)
		v.order = v.order[1:]
	}
	return nil
}

// prune forgets the signatures of requests that are too old to be
// accepted again anyway. Callers hold v.mu.
func (v *Verifier) prune(now time.Time) {
	limit := now.Add(-v.window)
	n := 0
	for n < len(v.order) && v.order[n].t.Before(limit) {
		// A request time far in the future (accepted within the window)
		// can sit after older ones; those are dropped by the size bound.
		delete(v.seen, v.order[n].sig)
		n++
	}
	if n > 0 {
		v.order = append(v.order[:0:0], v.order[n:]...)
	}
}

// Len returns the number of remembered signatures.
func (v *Verifier) Len() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.seen)
}

// Digest returns the lowercase hex SHA-512 of an attachment frame, as our
// client lists them in argument.data.
func Digest(frame []byte) string {
	h := sha512.Sum512(frame)
	return hex.EncodeToString(h[:])
}
