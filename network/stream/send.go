package stream

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/saxsdog/saxs"
)

// SendOptions describe a series to send.
type SendOptions struct {
	Series Series
	// Frames are sent in turn (frame i is Frames[i % len(Frames)]).
	Frames []*saxs.Image
	// Rate is the frames per second; 0 sends at full speed.
	Rate float64
	// Drop tells the frame numbers not to send (the header still
	// announces them), to simulate lost frames; nil drops none.
	Drop func(frame int64) bool
	// NoEnd leaves out the series end message.
	NoEnd  bool
	Logger *slog.Logger
}

// Sent sums up a series sent.
type Sent struct {
	Frames  int64 // images sent
	Dropped int64 // images left out by Drop
	Elapsed time.Duration
}

// Send sends one series (header, images, end) on sock, a PUSH socket,
// at the given rate; it returns when the series is sent or ctx ends. The
// frames' data are encoded once each.
func Send(ctx context.Context, sock zmq4.Socket, o SendOptions) (Sent, error) {
	var st Sent
	if len(o.Frames) == 0 {
		return st, fmt.Errorf("no frames to send")
	}
	s := o.Series
	hdr, err := s.EncodeHeader()
	if err != nil {
		return st, err
	}
	data := make([][]byte, len(o.Frames))
	for i, f := range o.Frames {
		if data[i], err = s.EncodeData(f); err != nil {
			return st, fmt.Errorf("frame %d: %w", i, err)
		}
	}
	send := func(parts [][]byte) error {
		if err := sock.SendMulti(zmq4.NewMsgFrom(parts...)); err != nil {
			return fmt.Errorf("send: %w", err)
		}
		return nil
	}
	start := time.Now()
	if err := send(hdr); err != nil {
		return st, err
	}
	var timer *time.Timer
	for i := int64(0); i < s.NImages; i++ {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		if o.Rate > 0 {
			at := start.Add(time.Duration(float64(i) / o.Rate * float64(time.Second)))
			if d := time.Until(at); d > 0 {
				if timer == nil {
					timer = time.NewTimer(d)
					defer timer.Stop()
				} else {
					timer.Reset(d)
				}
				select {
				case <-ctx.Done():
					return st, ctx.Err()
				case <-timer.C:
				}
			}
		}
		if o.Drop != nil && o.Drop(i) {
			st.Dropped++
			continue
		}
		msg, err := s.ImageMessage(i, data[i%int64(len(data))])
		if err != nil {
			return st, err
		}
		if err := send(msg); err != nil {
			return st, fmt.Errorf("frame %d: %w", i, err)
		}
		st.Frames++
	}
	if !o.NoEnd {
		end, err := s.EncodeEnd()
		if err != nil {
			return st, err
		}
		if err := send(end); err != nil {
			return st, err
		}
	}
	st.Elapsed = time.Since(start)
	if o.Logger != nil {
		o.Logger.Info("series sent", "series", s.ID, "version", int(s.Version), "frames", st.Frames, "dropped", st.Dropped, "seconds", st.Elapsed.Seconds())
	}
	return st, nil
}

// ParseDrop parses a list of frame numbers and ranges ("3,10-12") into a
// Drop function.
func ParseDrop(list string) (func(int64) bool, error) {
	if strings.TrimSpace(list) == "" {
		return nil, nil
	}
	type rng struct{ lo, hi int64 }
	var rs []rng
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		lo, hi, isRange := strings.Cut(f, "-")
		a, err := strconv.ParseInt(lo, 10, 64)
		if err != nil || a < 0 {
			return nil, fmt.Errorf("drop list: %q is not a frame number", f)
		}
		b := a
		if isRange {
			if b, err = strconv.ParseInt(hi, 10, 64); err != nil || b < a {
				return nil, fmt.Errorf("drop list: %q is not a range of frame numbers", f)
			}
		}
		rs = append(rs, rng{a, b})
	}
	return func(i int64) bool {
		for _, r := range rs {
			if i >= r.lo && i <= r.hi {
				return true
			}
		}
		return false
	}, nil
}
