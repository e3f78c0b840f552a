// Package render draws the per-frame pictures of saxsdog's -s/--svg and
// -p/--png options (spec §7.1):
//
//   - [CurveSVG] plots one integrated curve with its error bands, like the
//     original's plot() (SAXS/calibration.py): the intensity of the bins
//     with I > 0 on a logarithmic axis over q, a band of ± the standard
//     deviation of the pixel values in the ring (spec §3.2) and a band of
//     ± the Poisson error, titled with the image file name.
//   - [FramePNG] writes the detector frame itself as a log-scaled false
//     colour PNG, masked pixels and detector gaps marked. (The original
//     wrote a byte-scaled copy of the raw image, which shows nothing but
//     the hottest pixels.)
//
// Both are meant for batch use: a 1000-bin plot takes a few milliseconds
// and a Pilatus 1M frame some tens of milliseconds, and degenerate input
// (empty bins only, all intensities negative, all pixels masked) gives a
// picture, not an error or a panic.
package render
