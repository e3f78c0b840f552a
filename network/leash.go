package network

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/saxsdog/saxs/internal/pyjson"
)

// LoadNew reads a 2.0 calibration file for new: the calibration as
// decoded JSON (numbers keep their type) and one attachment frame per
// Masks[i].MaskFile, read relative to the calibration's folder.
func LoadNew(calPath string) (Obj, [][]byte, error) {
	cal, err := readJSONObject(calPath)
	if err != nil {
		return nil, nil, err
	}
	masks, ok := cal["Masks"].([]any)
	if !ok {
		return nil, nil, fmt.Errorf("%s: no Masks list (a 0.3.0 calibration needs: new cal.json mask.msk DIR)", calPath)
	}
	var atts [][]byte
	for i, m := range masks {
		mm, _ := m.(map[string]any)
		name, _ := mm["MaskFile"].(string)
		if name == "" {
			return nil, nil, fmt.Errorf("%s: Masks[%d] has no MaskFile", calPath, i)
		}
		a, err := readAttachment(name, resolveNear(calPath, name))
		if err != nil {
			return nil, nil, err
		}
		atts = append(atts, a)
	}
	return cal, atts, nil
}

// LoadNewFlat reads a 0.3.0 (flat) calibration and its mask for the 0.3.0
// form of new: the argument {"calibration", "directory"} and the mask
// attachment. dir is the queue folder relative to the server folder. The
// 0.3.0 request schema allows no other argument, so send it with
// Client.NoDigests for an original 0.3.0 server.
func LoadNewFlat(calPath, maskPath, dir string) (Obj, [][]byte, error) {
	cal, err := readJSONObject(calPath)
	if err != nil {
		return nil, nil, err
	}
	if _, ok := cal["Masks"]; ok {
		return nil, nil, fmt.Errorf("%s is a 2.0 calibration: use new cal.json", calPath)
	}
	a, err := readAttachment(maskPath, maskPath)
	if err != nil {
		return nil, nil, err
	}
	comps := strings.Split(filepath.ToSlash(filepath.Clean(dir)), "/")
	return Obj{"calibration": cal, "directory": toAny(comps)}, [][]byte{a}, nil
}

func resolveNear(calPath, name string) string {
	if filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(filepath.Dir(calPath), name)
}

func readAttachment(name, path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("mask: %w", err)
	}
	return FileAttachment(name, data)
}

func readJSONObject(path string) (Obj, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	v, err := pyjson.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New(path + ": not a JSON object")
	}
	return m, nil
}
