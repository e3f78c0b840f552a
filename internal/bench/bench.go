// Package bench is saxsbench: it converts the same folder of frames with
// saxs (the saxsdog batch pipeline) and with pyFAI (fabio + integrate1d +
// savetxt, the batch a beamline would otherwise run) and prints one table of
// ms per frame, frames per second and their ratio.
package bench

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/saxsdog/saxs"
	"github.com/saxsdog/saxs/internal/batch"
	"github.com/saxsdog/saxs/internal/cli"
)

//go:embed pyfai_batch.py
var pyfaiScript []byte

// Config is one benchmark run.
type Config struct {
	Frame        string // the frame to link Frames times
	Calibration  string // its calibration; its mask is used
	Frames       int
	Threads      int
	Bins         int
	Oversampling int
	Python       string // interpreter with pyFAI; "" skips pyFAI
	Dir          string // work folder; a temporary one when empty
	// Floor also runs the floor pipeline (see [Floor]) over the same
	// frames with the same workers, right after the saxs batch, and
	// reports saxs as a ratio to it.
	Floor bool
}

// Side is the timing of one implementation.
type Side struct {
	Name   string
	Frames int
	Setup  time.Duration // building the integrator (pyFAI: including its first frame)
	Loop   time.Duration // converting all frames
	CPU    time.Duration // CPU time (user + system) of the loop, when measured in this process
}

// CoresBusy returns the CPU time of the loop over its wall time: how many
// cores the loop kept busy on average (0 when not measured).
func (s Side) CoresBusy() float64 { return s.CPU.Seconds() / s.Loop.Seconds() }

// MsPerFrame returns the loop time per frame in milliseconds.
func (s Side) MsPerFrame() float64 { return float64(s.Loop.Microseconds()) / 1000 / float64(s.Frames) }

// FPS returns frames per second of the loop.
func (s Side) FPS() float64 { return float64(s.Frames) / s.Loop.Seconds() }

// Report is the outcome of a run.
type Report struct {
	Go, PyFAI      Side
	FloorSide      Side // the floor pipeline, when HaveFloor
	HaveFloor      bool
	PyFAIVersion   string
	MedianRelDiff  float64 // between the two curves of the first frame
	HavePyFAI      bool
	Machine        string
	Frames, Thread int
}

// Run performs the benchmark.
func Run(ctx context.Context, cfg Config, log *slog.Logger) (*Report, error) {
	dir := cfg.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "saxsbench")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	frames := filepath.Join(dir, "frames")
	if err := os.MkdirAll(frames, 0o755); err != nil {
		return nil, err
	}
	for i := range cfg.Frames {
		p := filepath.Join(frames, fmt.Sprintf("frame_%05d.tif", i))
		os.Remove(p)
		if err := os.Link(cfg.Frame, p); err != nil {
			data, rerr := os.ReadFile(cfg.Frame)
			if rerr != nil {
				return nil, rerr
			}
			if err := os.WriteFile(p, data, 0o644); err != nil {
				return nil, err
			}
		}
	}
	cal, err := saxs.LoadCalibration(cfg.Calibration)
	if err != nil {
		return nil, err
	}
	mask, err := saxs.OpenMask(cal.MaskPath(0))
	if err != nil {
		return nil, err
	}
	// Same bins for both: Bins uniform in q from 0 to the largest q of the
	// detector's corners.
	g := cal.Geometry
	qmax := 0.0
	for _, rc := range [][2]int{{0, 0}, {0, g.Imagesize[1] - 1}, {g.Imagesize[0] - 1, 0}, {g.Imagesize[0] - 1, g.Imagesize[1] - 1}} {
		qmax = math.Max(qmax, saxs.Q(cal, rc[0], rc[1]))
	}
	cal.Masks[0].Oversampling = cfg.Oversampling
	cal.Masks[0].RadialBins = &saxs.RadialBins{Start: 0, Stop: qmax, Count: cfg.Bins}

	rep := &Report{Machine: machine(), Frames: cfg.Frames, Thread: cfg.Threads}
	t0 := time.Now()
	ig, err := saxs.NewWithOptions(cal, saxs.Options{Masks: []*saxs.Mask{mask}, Workers: cfg.Threads})
	if err != nil {
		return nil, err
	}
	rep.Go = Side{Name: "saxs " + runtime.Version(), Frames: cfg.Frames, Setup: time.Since(t0)}
	outGo := filepath.Join(dir, "out-go")
	t1, c1 := time.Now(), cpuTime()
	sum, err := batch.Run(ctx, batch.Config{Integrator: ig, Roots: []string{frames}, OutDir: outGo,
		Workers: cfg.Threads, ErrorLog: "-", Logger: log})
	if err != nil {
		return nil, err
	}
	rep.Go.Loop, rep.Go.CPU = time.Since(t1), cpuTime()-c1
	if sum.Converted != cfg.Frames {
		return nil, fmt.Errorf("saxs converted %d of %d frames: %v", sum.Converted, cfg.Frames, sum.Failures)
	}
	if cfg.Floor {
		fi, err := os.Stat(filepath.Join(outGo, "frame_00000.chi"))
		if err != nil {
			return nil, err
		}
		list, err := listFrames(frames)
		if err != nil {
			return nil, err
		}
		c0 := cpuTime()
		d, err := Floor(ctx, list, filepath.Join(dir, "out-floor"), int(fi.Size()), cfg.Threads)
		if err != nil {
			return nil, err
		}
		rep.FloorSide = Side{Name: "floor (read, sum, atomic write)", Frames: len(list), Loop: d, CPU: cpuTime() - c0}
		rep.HaveFloor = true
	}
	if cfg.Python == "" {
		return rep, nil
	}
	script := filepath.Join(dir, "pyfai_batch.py")
	if err := os.WriteFile(script, pyfaiScript, 0o644); err != nil {
		return nil, err
	}
	maskRaw := make([]byte, len(mask.Masked))
	for i, m := range mask.Masked {
		if m {
			maskRaw[i] = 1
		}
	}
	maskFile := filepath.Join(dir, "mask.u8")
	if err := os.WriteFile(maskFile, maskRaw, 0o644); err != nil {
		return nil, err
	}
	outPy := filepath.Join(dir, "out-pyfai")
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	args := []string{script, "--frames", frames, "--out", outPy, "--mask", maskFile,
		"--rows", strconv.Itoa(g.Imagesize[0]), "--cols", strconv.Itoa(g.Imagesize[1]),
		"--dist", f(g.DetectorDistanceMM), "--cx", f(g.BeamCenter[1]), "--cy", f(float64(g.Imagesize[0]) - g.BeamCenter[0]),
		"--tilt", f(g.Tilt.TiltAngleDeg), "--rot", f(-g.Tilt.TiltRotDeg), "--pixel", f(g.PixelSizeMicroM[0]),
		"--wavelength", f(cal.Wavelength), "--bins", strconv.Itoa(cfg.Bins), "--qmin", "0", "--qmax", f(qmax),
		"--threads", strconv.Itoa(cfg.Threads)}
	if pc := cal.PolarizationCorrection; pc != nil {
		if pc.Angle != 0 {
			return nil, fmt.Errorf("polarization Angle %g: the pyFAI side supports Angle 0 only", pc.Angle)
		}
		args = append(args, "--polarization", f(2*pc.Fraction-1))
	}
	cmd := exec.CommandContext(ctx, cfg.Python, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("pyFAI batch (%s): %w\n%s", cfg.Python, err, lastLines(stderr.String(), 15))
	}
	var py struct {
		Version string  `json:"pyfai"`
		Frames  int     `json:"frames"`
		Setup   float64 `json:"setup_s"`
		Loop    float64 `json:"loop_s"`
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &py); err != nil {
		return nil, fmt.Errorf("pyFAI batch output %q: %w", stdout.String(), err)
	}
	rep.HavePyFAI = true
	rep.PyFAIVersion = py.Version
	rep.PyFAI = Side{Name: "pyFAI " + py.Version, Frames: py.Frames,
		Setup: time.Duration(py.Setup * float64(time.Second)), Loop: time.Duration(py.Loop * float64(time.Second))}
	rep.MedianRelDiff, err = compare(filepath.Join(outGo, "frame_00000.chi"), filepath.Join(outPy, "frame_00000.dat"))
	if err != nil {
		return nil, err
	}
	return rep, nil
}

// compare returns the median |relative difference| of the intensities of a
// .chi file and a pyFAI text curve on the same bins.
func compare(chiPath, datPath string) (float64, error) {
	chi, err := saxs.ReadChiFile(chiPath)
	if err != nil {
		return 0, err
	}
	data, err := os.ReadFile(datPath)
	if err != nil {
		return 0, err
	}
	var d []float64
	for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		fs := strings.Fields(line)
		if i >= chi.Len() || len(fs) < 2 {
			break
		}
		v, err := strconv.ParseFloat(fs[1], 64)
		if err != nil {
			return 0, fmt.Errorf("%s: line %d: %w", datPath, i+1, err)
		}
		if v != 0 && !math.IsNaN(chi.I[i]) {
			d = append(d, math.Abs(chi.I[i]-v)/math.Abs(v))
		}
	}
	if len(d) == 0 {
		return math.NaN(), nil
	}
	sort.Float64s(d)
	return d[len(d)/2], nil
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

// machine describes the CPU and core count.
func machine() string {
	cpu := runtime.GOARCH
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	return fmt.Sprintf("%s, %d cores, %s/%s", cpu, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH)
}

// Print writes the report as a Markdown table.
func (r *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "Machine: %s. %d frames, %d threads.\n\n", r.Machine, r.Frames, r.Thread)
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', tabwriter.Debug)
	fmt.Fprintln(tw, "| batch\t setup [ms]\t ms per frame\t frames/s\t")
	fmt.Fprintln(tw, "|---\t---\t---\t---\t")
	row := func(s Side) {
		fmt.Fprintf(tw, "| %s\t %.0f\t %.2f\t %.0f\t\n", s.Name, float64(s.Setup.Microseconds())/1000, s.MsPerFrame(), s.FPS())
	}
	row(r.Go)
	if r.HaveFloor {
		row(r.FloorSide)
		fmt.Fprintf(tw, "| ratio saxs/floor\t \t %.2f\t %.2f\t\n", r.Go.MsPerFrame()/r.FloorSide.MsPerFrame(), r.Go.FPS()/r.FloorSide.FPS())
	}
	if r.HavePyFAI {
		row(r.PyFAI)
		fmt.Fprintf(tw, "| ratio saxs/pyFAI\t %.2f\t %.2f\t %.1f\t\n",
			r.Go.Setup.Seconds()/r.PyFAI.Setup.Seconds(), r.Go.MsPerFrame()/r.PyFAI.MsPerFrame(), r.Go.FPS()/r.PyFAI.FPS())
	}
	tw.Flush()
	if r.Go.CPU > 0 {
		fmt.Fprintf(w, "\nCores busy (CPU time / wall time): saxs %.2f", r.Go.CoresBusy())
		if r.HaveFloor {
			fmt.Fprintf(w, ", floor %.2f", r.FloorSide.CoresBusy())
		}
		fmt.Fprintf(w, " of %d threads.\n", r.Thread)
	}
	if r.HavePyFAI {
		fmt.Fprintf(w, "\nFirst frame, same %s bins: median |relative difference| saxs vs pyFAI %.3f %%.\n",
			"q", 100*r.MedianRelDiff)
	}
}

// Main is the saxsbench command.
func Main(args []string, stdout, stderr io.Writer) int {
	cmd := cli.New("saxsbench", nil)
	fs := cmd.Flags
	cmd.Help = func() string {
		return "Usage: saxsbench [options]\n\nConverts the same folder of frames with saxs and with pyFAI and prints ms per frame,\n" +
			"frames per second and their ratio. pyFAI: apt-get install -y python3-pyfai.\n\nOptions:\n" + cli.FlagUsages(fs)
	}
	ref := "../shared/data/saxsdog-reference"
	var cfg Config
	fs.StringVar(&cfg.Frame, "frame", filepath.Join(ref, "buf1_00000.tif"), "`FILE`: the frame to convert (linked --frames times)")
	fs.StringVarP(&cfg.Calibration, cli.FlagCalibration, "c", filepath.Join(ref, "cal.json"), "calibration `FILE` of the frame (its mask is used)")
	fs.IntVar(&cfg.Frames, "frames", 200, "number of frames `N`")
	fs.IntVarP(&cfg.Threads, cli.FlagThreads, "t", runtime.NumCPU(), "convert `N` frames at once, in both batches")
	fs.IntVar(&cfg.Bins, "bins", 1000, "`N` radial bins")
	fs.IntVar(&cfg.Oversampling, "oversampling", 3, "saxs oversampling `N`")
	fs.StringVar(&cfg.Python, "python", "/usr/bin/python3", "`PYTHON` with pyFAI (\"\" to skip pyFAI)")
	fs.BoolVar(&cfg.Floor, "floor", false, "also time the floor pipeline (read into a reused buffer, int32 sum, atomic write of a .chi-sized file) over the same frames and print saxs as a ratio to it")
	fs.StringVar(&cfg.Dir, "dir", "", "work folder `DIR` (default: a temporary folder, removed afterwards)")
	if done, code := cmd.Parse(args, stdout, stderr); done {
		return code
	}
	if fs.NArg() > 0 {
		return cmd.UsageError(stderr, "unexpected argument %q", fs.Arg(0))
	}
	if cfg.Frames < 1 || cfg.Threads < 1 || cfg.Bins < 1 {
		return cmd.UsageError(stderr, "--frames, --threads and --bins must be positive")
	}
	if cfg.Python != "" {
		if err := exec.Command(cfg.Python, "-c", "import pyFAI, fabio").Run(); err != nil {
			fmt.Fprintf(stderr, "saxsbench: %s cannot import pyFAI and fabio (%v); install them with\n  apt-get install -y python3-pyfai\nor run with --python '' to time saxs alone\n", cfg.Python, err)
			return 1
		}
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	rep, err := Run(context.Background(), cfg, log)
	if err != nil {
		fmt.Fprintln(stderr, "saxsbench:", err)
		return 1
	}
	rep.Print(stdout)
	return 0
}
