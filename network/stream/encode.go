package stream

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/fxamacker/cbor/v2"
	"github.com/saxsdog/saxs"
	"github.com/saxsdog/saxs/internal/compress"
)

// Series describes a series to encode.
type Series struct {
	Version Version
	ID      uint64
	// NImages is the number of frames announced (NTrigger is 1).
	NImages int64
	Rows    int
	Cols    int
	// ElemSize is 2 (uint16) or 4 (uint32).
	ElemSize int
	// Encoding is the compression of the images: EncBSLZ4, EncLZ4Block
	// (v1 only), EncLZ4 (v2 only) or EncNone.
	Encoding Encoding
	// PixelMask is sent in the header when set (v1 with header_detail
	// all).
	PixelMask *saxs.Mask
	// CountCutoff is sent when non-zero (v1 countrate_correction_count_cutoff,
	// v2 saturation_value = CountCutoff-1).
	CountCutoff uint64
	// Geometry sent when non-zero: wavelength in Å, detector distance in
	// m, beam centre (x, y) in pixels.
	Wavelength, DetectorDistance float64
	BeamCenter                   [2]float64
}

// Check reports whether the series can be encoded.
func (s *Series) Check() error {
	switch {
	case s.Version != V1 && s.Version != V2:
		return fmt.Errorf("stream version %d (1 or 2)", s.Version)
	case s.ElemSize != 2 && s.ElemSize != 4:
		return fmt.Errorf("element size %d (2 or 4)", s.ElemSize)
	case s.Rows <= 0 || s.Cols <= 0:
		return fmt.Errorf("frame size %d×%d", s.Cols, s.Rows)
	case s.Version == V1 && s.Encoding == EncLZ4, s.Version == V2 && s.Encoding == EncLZ4Block:
		return fmt.Errorf("encoding %v is not part of stream v%d", s.Encoding, s.Version)
	case s.PixelMask != nil && (s.PixelMask.Rows != s.Rows || s.PixelMask.Cols != s.Cols):
		return fmt.Errorf("pixel mask of %d×%d for %d×%d frames", s.PixelMask.Cols, s.PixelMask.Rows, s.Cols, s.Rows)
	}
	return nil
}

func (s *Series) typeName() string {
	if s.ElemSize == 2 {
		return "uint16"
	}
	return "uint32"
}

// EncodeHeader returns the series' header message.
func (s *Series) EncodeHeader() ([][]byte, error) {
	if err := s.Check(); err != nil {
		return nil, err
	}
	if s.Version == V2 {
		m := map[string]any{"type": "start", "series_id": s.ID, "series_unique_id": fmt.Sprintf("saxsstreamsim-%d", s.ID),
			"number_of_images": s.NImages, "image_size_x": s.Cols, "image_size_y": s.Rows,
			"image_dtype": s.typeName(), "channels": []string{"threshold_1"}}
		if s.CountCutoff > 0 {
			m["saturation_value"] = s.CountCutoff - 1
		}
		s.geometry(m, "incident_wavelength")
		if s.PixelMask != nil {
			raw := make([]byte, 4*s.Rows*s.Cols)
			for i, b := range s.PixelMask.Masked {
				if b {
					binary.LittleEndian.PutUint32(raw[4*i:], 1)
				}
			}
			m["pixel_mask"] = map[string]any{"threshold_1": multiDim(s.Rows, s.Cols, tagUint32LE, raw)}
		}
		b, err := encodeCBOR(m)
		return [][]byte{b}, err
	}
	detail := "basic"
	if s.PixelMask != nil {
		detail = "all"
	}
	h, _ := json.Marshal(map[string]any{"htype": htHeader, "series": s.ID, "header_detail": detail})
	cfg := map[string]any{"nimages": s.NImages, "ntrigger": 1, "x_pixels_in_detector": s.Cols, "y_pixels_in_detector": s.Rows,
		"bit_depth_image": 8 * s.ElemSize}
	if s.CountCutoff > 0 {
		cfg["countrate_correction_count_cutoff"] = s.CountCutoff
	}
	s.geometry(cfg, "wavelength")
	c, _ := json.Marshal(cfg)
	parts := [][]byte{h, c}
	if s.PixelMask != nil {
		ph, _ := json.Marshal(map[string]any{"htype": htPixelMask, "shape": []int{s.Cols, s.Rows}, "type": "uint32"})
		raw := make([]byte, 4*s.Rows*s.Cols)
		for i, b := range s.PixelMask.Masked {
			if b {
				binary.LittleEndian.PutUint32(raw[4*i:], 1)
			}
		}
		parts = append(parts, ph, raw)
	}
	return parts, nil
}

// EncodeImage returns the message of frame number frame with img's
// counts (negative counts are sent as their two's complement, the
// all-ones value of a defective pixel for -1).
func (s *Series) EncodeImage(frame int64, img *saxs.Image) ([][]byte, error) {
	data, err := s.EncodeData(img)
	if err != nil {
		return nil, err
	}
	return s.ImageMessage(frame, data)
}

// EncodeData returns img's counts as the image data of the series'
// element size and encoding (see EncodeImage).
func (s *Series) EncodeData(img *saxs.Image) ([]byte, error) {
	if err := s.Check(); err != nil {
		return nil, err
	}
	if img.Rows != s.Rows || img.Cols != s.Cols {
		return nil, fmt.Errorf("frame of %d×%d for a %d×%d series", img.Cols, img.Rows, s.Cols, s.Rows)
	}
	raw := make([]byte, s.ElemSize*s.Rows*s.Cols)
	for i := 0; i < s.Rows*s.Cols; i++ {
		var v int64
		if img.Counts != nil {
			v = int64(img.Counts[i])
		} else {
			v = int64(img.Values[i])
		}
		if s.ElemSize == 2 {
			binary.LittleEndian.PutUint16(raw[2*i:], uint16(v))
		} else {
			binary.LittleEndian.PutUint32(raw[4*i:], uint32(v))
		}
	}
	switch s.Encoding {
	case EncNone:
		return raw, nil
	case EncLZ4Block:
		return compress.EncodeLZ4Block(raw), nil
	case EncLZ4:
		return compress.EncodeLZ4(raw), nil
	case EncBSLZ4:
		return compress.EncodeBitshuffleLZ4(raw, s.ElemSize), nil
	}
	return nil, fmt.Errorf("encoding %v: %w", s.Encoding, ErrUnsupported)
}

// ImageMessage returns the message of frame number frame with data from
// EncodeData.
func (s *Series) ImageMessage(frame int64, data []byte) ([][]byte, error) {
	if s.Version == V2 {
		tag := uint64(tagUint32LE)
		if s.ElemSize == 2 {
			tag = tagUint16LE
		}
		var arr any = data
		switch s.Encoding {
		case EncBSLZ4:
			arr = cbor.Tag{Number: tagCompression, Content: []any{"bslz4", s.ElemSize, data}}
		case EncLZ4:
			arr = cbor.Tag{Number: tagCompression, Content: []any{"lz4", 0, data}}
		}
		m := map[string]any{"type": "image", "series_id": s.ID, "series_unique_id": fmt.Sprintf("saxsstreamsim-%d", s.ID),
			"image_id": frame, "real_time": []int{1, 1}, "start_time": []int64{frame, 1}, "stop_time": []int64{frame + 1, 1},
			"data": map[string]any{"threshold_1": multiDimAny(s.Rows, s.Cols, tag, arr)}}
		b, err := encodeCBOR(m)
		return [][]byte{b}, err
	}
	enc := map[Encoding]string{EncNone: "<", EncLZ4Block: "lz4<", EncBSLZ4: fmt.Sprintf("bs%d-lz4<", 8*s.ElemSize)}[s.Encoding]
	h, _ := json.Marshal(map[string]any{"htype": htImage, "series": s.ID, "frame": frame, "hash": ""})
	d, _ := json.Marshal(map[string]any{"htype": htImageD, "shape": []int{s.Cols, s.Rows}, "type": s.typeName(), "encoding": enc, "size": len(data)})
	c, _ := json.Marshal(map[string]any{"htype": htConfig, "start_time": frame, "stop_time": frame + 1, "real_time": 1})
	return [][]byte{h, d, data, c}, nil
}

// EncodeEnd returns the series' end message.
func (s *Series) EncodeEnd() ([][]byte, error) {
	if s.Version == V2 {
		b, err := encodeCBOR(map[string]any{"type": "end", "series_id": s.ID, "series_unique_id": fmt.Sprintf("saxsstreamsim-%d", s.ID)})
		return [][]byte{b}, err
	}
	h, _ := json.Marshal(map[string]any{"htype": htEnd, "series": s.ID})
	return [][]byte{h}, nil
}

// geometry adds the non-zero geometry fields to a header map, the
// wavelength under the given name.
func (s *Series) geometry(m map[string]any, wavelength string) {
	if s.Wavelength > 0 {
		m[wavelength] = s.Wavelength
	}
	if s.DetectorDistance > 0 {
		m["detector_distance"] = s.DetectorDistance
	}
	if s.BeamCenter != [2]float64{} {
		m["beam_center_x"], m["beam_center_y"] = s.BeamCenter[0], s.BeamCenter[1]
	}
}

func multiDim(rows, cols int, tag uint64, raw []byte) cbor.Tag {
	return multiDimAny(rows, cols, tag, raw)
}

func multiDimAny(rows, cols int, tag uint64, arr any) cbor.Tag {
	return cbor.Tag{Number: tagMultiDim, Content: []any{[]int{rows, cols}, cbor.Tag{Number: tag, Content: arr}}}
}

// encodeCBOR encodes v with the self-describe tag, as the detector does.
func encodeCBOR(v any) ([]byte, error) {
	b, err := cbor.Marshal(cbor.Tag{Number: 55799, Content: v})
	if err != nil {
		return nil, fmt.Errorf("CBOR: %w", err)
	}
	return b, nil
}
