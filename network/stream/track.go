package stream

// Tracker follows the messages of a stream: the current series, the
// frames received, gaps in the frame numbers (frames dropped) and frames
// that arrive out of order. It is not safe for concurrent use: the single
// receiver owns it.
type Tracker struct {
	header   *Header
	next     int64 // the frame number expected next
	received int64
	dropped  int64
	late     int64
	stray    int64 // images of no known series
}

// Event is what Tracker.Add tells about a message.
type Event struct {
	// Header is the series the message belongs to (nil for an image
	// before any header, or of another series).
	Header *Header
	// Gap is the number of frames skipped before this image (its number
	// is above the next expected); Late tells an image whose number is
	// below it (out of order or repeated).
	Gap  int64
	Late bool
	// Stray tells an image or end of no known series.
	Stray bool
	// Summary is set at the end of a series.
	Summary *Summary
}

// Summary sums up a series at its end.
type Summary struct {
	Series   uint64
	Received int64 // images received
	Expected int64 // NImages × NTrigger of the header, 0 if unknown
	Dropped  int64 // frames missing in the numbering (gaps)
	Late     int64 // images out of order
	// MissingAtEnd is the part of Dropped after the last image received:
	// frames announced that never came.
	MissingAtEnd int64
}

// Missing returns the frames expected but not received (0 when the
// header gave no count).
func (s Summary) Missing() int64 {
	if s.Expected == 0 {
		return 0
	}
	return max(0, s.Expected-s.Received)
}

// Add records a message and tells what it means for the series.
func (t *Tracker) Add(m *Message) Event {
	switch m.Kind {
	case KindHeader:
		*t = Tracker{header: m.Header, stray: t.stray}
		return Event{Header: m.Header}
	case KindImage:
		im := m.Image
		if t.header == nil || im.Series != t.header.Series {
			t.stray++
			return Event{Stray: true}
		}
		t.received++
		ev := Event{Header: t.header}
		switch {
		case im.Frame > t.next:
			ev.Gap = im.Frame - t.next
			t.dropped += ev.Gap
			t.next = im.Frame + 1
		case im.Frame < t.next:
			ev.Late = true
			t.late++
			if t.dropped > 0 {
				t.dropped-- // a frame counted as dropped has come after all
			}
		default:
			t.next++
		}
		return ev
	case KindEnd:
		if t.header == nil || m.End.Series != t.header.Series {
			return Event{Stray: true}
		}
		s := &Summary{Series: t.header.Series, Received: t.received, Expected: t.header.Expected(), Dropped: t.dropped, Late: t.late}
		if s.Expected > t.next {
			// frames missing at the end of the series are a gap too
			s.MissingAtEnd = s.Expected - t.next
			s.Dropped += s.MissingAtEnd
		}
		ev := Event{Header: t.header, Summary: s}
		t.header = nil
		return ev
	}
	return Event{}
}

// Stray returns the images and ends received for no known series.
func (t *Tracker) Stray() int64 { return t.stray }
