#!/usr/bin/python3
"""Writes a synthetic calibrant frame made by pyFAI (Calibrant.fake_calibration_image)
for the saxs calibration tests: frame.f64 (rows*cols float64, little-endian, row 0
first), tth.f64 (pyFAI's 2theta of every pixel centre, rad). Argument: one JSON object
(see calibrate_pyfai_test.go)."""
import json, sys
import numpy
import pyFAI.calibrant, pyFAI.detectors
from pyFAI.azimuthalIntegrator import AzimuthalIntegrator

a = json.loads(sys.argv[1])
rows, cols, px = a["rows"], a["cols"], a["px_um"] * 1e-6
det = pyFAI.detectors.Detector(px, px, max_shape=(rows, cols))
ai = AzimuthalIntegrator(detector=det, wavelength=a["wavelength_A"] * 1e-10)
ai.setFit2D(a["dist_mm"], a["cx"], a["cy"], tilt=a["tilt"], tiltPlanRotation=a["tpr"],
            pixelX=a["px_um"], pixelY=a["px_um"])
cal = pyFAI.calibrant.get_calibrant(a["calibrant"])
cal.wavelength = ai.wavelength
img = cal.fake_calibration_image(ai, shape=(rows, cols), Imax=a["imax"], W=a["w"])
img = img / img.max() * a["imax"] + a["bg"]
rng = numpy.random.default_rng(a["seed"])
if a["noise"]:
    img = rng.poisson(img).astype(numpy.float64)
if a["gaps"]:
    # Pilatus module gaps: modules 487 x 195 pixels, 7 and 17 pixel gaps.
    for c0 in range(487, cols, 487 + 7):
        img[:, c0:c0 + 7] = -1
    for r0 in range(195, rows, 195 + 17):
        img[r0:r0 + 17, :] = -1
    # a few hot and dead pixels
    for _ in range(50):
        img[rng.integers(rows), rng.integers(cols)] = 1e6
        img[rng.integers(rows), rng.integers(cols)] = -2
img.astype("<f8").tofile(a["out"] + "/frame.f64")
ai.twoThetaArray((rows, cols)).astype("<f8").tofile(a["out"] + "/tth.f64")
