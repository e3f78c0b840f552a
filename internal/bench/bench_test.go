package bench

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os/exec"
	"strings"
	"testing"
)

const python = "/usr/bin/python3"

func havePyFAI() bool {
	return exec.Command(python, "-c", "import pyFAI, fabio").Run() == nil
}

// The bundled sample converted by saxs and, where pyFAI is installed, by
// pyFAI on the same bins: the curves agree (pyFAI is an independent
// integrator: bounding-box pixel splitting instead of sub-pixel sampling).
func TestBenchSample(t *testing.T) {
	cfg := Config{
		Frame:        "../../testdata/sample/frames/run1/sample_00001.tif",
		Calibration:  "../../testdata/sample/cal.json",
		Frames:       3,
		Threads:      2,
		Bins:         100,
		Oversampling: 4,
		Floor:        true,
	}
	if havePyFAI() {
		cfg.Python = python
	} else {
		t.Log("pyFAI not installed (apt-get install -y python3-pyfai): timing saxs alone")
	}
	rep, err := Run(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Go.Frames != 3 || rep.Go.Loop <= 0 {
		t.Errorf("saxs side: %+v", rep.Go)
	}
	var out bytes.Buffer
	rep.Print(&out)
	if !rep.HaveFloor || rep.FloorSide.Frames != 3 || rep.FloorSide.Loop <= 0 || !strings.Contains(out.String(), "| ratio saxs/floor") {
		t.Errorf("floor side: %+v\n%s", rep.FloorSide, out.String())
	}
	if rep.Go.CPU <= 0 || !strings.Contains(out.String(), "Cores busy (CPU time / wall time): saxs ") {
		t.Logf("CPU time of the batch not measured here (%v)", rep.Go.CPU)
	}
	if !strings.Contains(out.String(), "| saxs ") {
		t.Errorf("table: %s", out.String())
	}
	if rep.HavePyFAI {
		t.Logf("median |relative difference| saxs vs pyFAI: %.3f %%", 100*rep.MedianRelDiff)
		if rep.PyFAI.Frames != 3 {
			t.Errorf("pyFAI converted %d frames", rep.PyFAI.Frames)
		}
		if rep.MedianRelDiff > 0.005 {
			t.Errorf("saxs and pyFAI differ by %.3f %% (median)", 100*rep.MedianRelDiff)
		}
	}
}

func TestMainUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Main([]string{"--frames", "0"}, &out, &errb); code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	// The help goes to stdout, like every tool's (it went to stderr).
	errb.Reset()
	if code := Main([]string{"--help"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "Usage: saxsbench") || errb.Len() != 0 {
		t.Errorf("help: exit %d, %q, stderr %q", code, out.String(), errb.String())
	}
}
