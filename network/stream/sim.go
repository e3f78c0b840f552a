package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/saxsdog/saxs"
	"github.com/saxsdog/saxs/internal/cli"
)

const simUsage = `Usage: saxsstreamsim [--bind tcp://HOST:PORT] [--stream-version 1|2] [--encoding E] [--bits 16|32]
       [--rate HZ] [-n N] [--series ID] [--repeat K] [--drop LIST] [--cutoff C] [--pixel-mask FILE] FRAME...

Simulates an Eiger's stream interface for saxsdogserver --stream: binds a
ZeroMQ PUSH socket and, once a consumer has connected, sends K series of
N frames each (the FRAME files' frames in turn) as DECTRIS stream v1
(JSON multipart) or v2 (CBOR) messages, at HZ frames per second (0: as
fast as the consumer takes them). Frames listed in --drop (e.g.
"5,10-12") are announced but not sent, to test gap reports.
`

// SimMain runs saxsstreamsim with args; it returns the exit code.
func SimMain(args []string, stdout, stderr io.Writer) int {
	const tool = "saxsstreamsim"
	cmd := cli.New(tool, nil)
	fs := cmd.Flags
	cmd.Help = func() string { return simUsage + "\nOptions:\n" + cli.FlagUsages(fs) }
	bind := fs.String("bind", "tcp://127.0.0.1:9999", "bind the PUSH socket to `ADDRESS`")
	version := fs.Int("stream-version", 2, "stream interface `VERSION`: 1 (JSON multipart) or 2 (CBOR)")
	encoding := fs.String("encoding", "bslz4", "image `ENCODING`: bslz4 (v1 bs16/bs32-lz4<, v2 bslz4), lz4 (v1 lz4<, v2 lz4) or none")
	bits := fs.Int("bits", 32, "pixel `BITS`: 16 or 32")
	rate := fs.Float64("rate", 100, "frames per second (0: full speed)")
	n := fs.Int64P("images", "n", 100, "frames per series")
	series := fs.Uint64("series", 1, "`ID` of the first series (the next ones count up)")
	repeat := fs.Int("repeat", 1, "number of series to send")
	drop := fs.String("drop", "", "frame numbers not to send, e.g. 5,10-12")
	cutoff := fs.Uint64("cutoff", 0, "count cutoff to announce (v1 countrate_correction_count_cutoff, v2 saturation_value+1); 0 for none")
	maskFile := fs.String("pixel-mask", "", "send the mask `FILE` as the detector pixel mask (v1 header_detail all, v2 pixel_mask)")
	if done, code := cmd.Parse(args, stdout, stderr); done {
		return code
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	fail := func(err error) int {
		fmt.Fprintln(stderr, tool+":", err)
		return cli.ExitError
	}
	usage := func(err error) int { return cmd.UsageError(stderr, "%v", err) }
	if fs.NArg() == 0 {
		return usage(errors.New("no frame files given"))
	}
	s := Series{Version: Version(*version), ID: *series, NImages: *n, ElemSize: *bits / 8, CountCutoff: *cutoff}
	switch *encoding {
	case "bslz4":
		s.Encoding = EncBSLZ4
	case "lz4":
		s.Encoding = EncLZ4Block
		if s.Version == V2 {
			s.Encoding = EncLZ4
		}
	case "none":
		s.Encoding = EncNone
	default:
		return usage(fmt.Errorf("--encoding %q (bslz4, lz4 or none)", *encoding))
	}
	if *n < 1 || *repeat < 1 || *rate < 0 || *bits != 16 && *bits != 32 {
		return usage(errors.New("-n and --repeat must be positive, --rate not negative, --bits 16 or 32"))
	}
	dropFn, err := ParseDrop(*drop)
	if err != nil {
		return usage(err)
	}
	frames, err := readFrames(fs.Args())
	if err != nil {
		return fail(err)
	}
	s.Rows, s.Cols = frames[0].Rows, frames[0].Cols
	if *maskFile != "" {
		if s.PixelMask, err = saxs.OpenMask(*maskFile); err != nil {
			return fail(err)
		}
	}
	if err := s.Check(); err != nil {
		return usage(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	push := zmq4.NewPush(ctx, zmq4.WithTimeout(24*time.Hour), zmq4.WithLogger(stdlog.New(io.Discard, "", 0)))
	defer push.Close()
	if err := push.Listen(*bind); err != nil {
		return fail(fmt.Errorf("bind %s: %w", *bind, err))
	}
	fmt.Fprintf(stdout, "saxsstreamsim: sending on %s (waiting for a consumer)\n", *bind)
	for k := 0; k < *repeat; k++ {
		st, err := Send(ctx, push, SendOptions{Series: s, Frames: frames, Rate: *rate, Drop: dropFn, Logger: log})
		if err != nil {
			if ctx.Err() != nil {
				return 130
			}
			return fail(err)
		}
		fmt.Fprintf(stdout, "series %d: %d frames sent, %d left out, %.2f s (%.1f frames/s)\n",
			s.ID, st.Frames, st.Dropped, st.Elapsed.Seconds(), float64(st.Frames)/max(st.Elapsed.Seconds(), 1e-9))
		s.ID++
	}
	// Give the last messages time to leave before the socket closes.
	select {
	case <-ctx.Done():
	case <-time.After(500 * time.Millisecond):
	}
	return 0
}

// readFrames reads every frame of the given files; they must have one
// size.
func readFrames(paths []string) ([]*saxs.Image, error) {
	var out []*saxs.Image
	for _, p := range paths {
		src, err := saxs.OpenFrames(p)
		if err != nil {
			return nil, err
		}
		for i := 0; i < src.Len(); i++ {
			img := &saxs.Image{}
			if err := src.ReadFrame(i, img); err != nil {
				src.Close()
				return nil, err
			}
			if len(out) > 0 && (img.Rows != out[0].Rows || img.Cols != out[0].Cols) {
				src.Close()
				return nil, fmt.Errorf("%s: frame of %d×%d, the first was %d×%d", p, img.Cols, img.Rows, out[0].Cols, out[0].Rows)
			}
			out = append(out, img)
		}
		src.Close()
	}
	return out, nil
}
