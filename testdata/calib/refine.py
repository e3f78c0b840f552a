#!/usr/bin/python3
"""pyFAI's own refinement (GeometryRefinement, rot3 and wavelength fixed) of the control
points saxs found, for the calibration tests. Argument: a JSON file
{"points": [[row, col, ring], ...], "wavelength_A", "px_um", "rows", "cols", "calibrant",
"start": [dist_mm, centerX, centerY]}; prints JSON: the fit2d geometry, the RMS and the
per-ring RMS of delta 2theta in degrees."""
import json, sys
import numpy
import pyFAI.calibrant, pyFAI.detectors
from pyFAI.geometryRefinement import GeometryRefinement

a = json.load(open(sys.argv[1]))
px = a["px_um"] * 1e-6
det = pyFAI.detectors.Detector(px, px, max_shape=(a["rows"], a["cols"]))
cal = pyFAI.calibrant.get_calibrant(a["calibrant"])
cal.wavelength = a["wavelength_A"] * 1e-10
pts = numpy.array(a["points"], dtype=float)
gr = GeometryRefinement(pts, detector=det, wavelength=cal.wavelength, calibrant=cal)
d, cx, cy = a["start"]
gr.setFit2D(d, cx, cy)
for _ in range(5):
    gr.refine2(maxiter=100000, fix=["wavelength", "rot3"])
tth = gr.tth(pts[:, 0], pts[:, 1])
ref = numpy.array(cal.get_2th())[pts[:, 2].astype(int)]
dt = numpy.degrees(tth - ref)
rings = {}
for r in sorted(set(pts[:, 2].astype(int))):
    sel = pts[:, 2].astype(int) == r
    rings[int(r)] = float(numpy.sqrt(numpy.mean(dt[sel] ** 2)))
f = gr.getFit2D()
print(json.dumps({"fit2d": {k: float(f[k]) for k in ("directDist", "centerX", "centerY", "tilt", "tiltPlanRotation")},
                  "rms": float(numpy.sqrt(numpy.mean(dt ** 2))), "rings": rings}))
