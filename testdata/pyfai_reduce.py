"""pyFAI side of the reduction tests (reduction_test.go).

Reads one JSON object of arguments on stdin, integrates a raw float64 frame
with pyFAI and prints the result as text rows: integrate1d gives
"radial intensity sigma"; integrate2d gives the intensity row by row
(one chi bin per row), after a line "radial..." and a line "chi...";
integrate_radial gives "chi intensity sigma".
The geometry comes from fit2d values through setFit2D, as the saxs
calibration holds them.
"""
import json
import sys

import numpy as np
from pyFAI.azimuthalIntegrator import AzimuthalIntegrator

a = json.load(sys.stdin)
rows, cols = a["rows"], a["cols"]
ai = AzimuthalIntegrator()
ai.setFit2D(a["dist"], centerX=a["cx"], centerY=a["cy"], tilt=a["tilt"],
            tiltPlanRotation=a["rot"], pixelX=a["pixel"], pixelY=a["pixel"])
ai.wavelength = a["wavelength"]
if a.get("chi_disc_at_zero"):
    ai.setChiDiscAtZero()  # chi in [0, 2pi): sectors through 180 degrees
data = np.fromfile(a["frame"], dtype="<f8").reshape(rows, cols)
mask = np.fromfile(a["mask"], dtype=np.uint8).reshape(rows, cols)
kw = dict(mask=mask, unit=a.get("unit", "q_nm^-1"), correctSolidAngle=a.get("solid_angle", False),
          polarization_factor=a.get("polarization"), method=tuple(a.get("method", ["bbox", "csr", "cython"])))
if a.get("sigma_clip"):
    kw["method"] = tuple(a.get("method", ["no", "csr", "cython"]))
if a.get("radial_range"):
    kw["radial_range"] = tuple(a["radial_range"])
if a.get("azimuth_range"):
    kw["azimuth_range"] = tuple(a["azimuth_range"])
if a.get("integrate_radial"):
    # I(chi) over the band radial_range: integrate_radial's intensity, and
    # the Poisson sigma of integrate2d_ng with the band as one radial bin
    # (integrate_radial gives none; summing the variances of its npt_rad
    # radial bins would count a pixel split between them as independent
    # parts).
    unit = kw.pop("unit")
    r = ai.integrate_radial(data, a["npt"], npt_rad=a.get("npt_rad", 100), radial_unit=unit, unit="chi_deg", **kw)
    r2 = ai.integrate2d_ng(data, 1, a["npt"], unit=unit, error_model="poisson", **kw)
    sig = np.sqrt(r2.sum_variance[:, 0]) / r2.sum_normalization[:, 0]
    for c, i, s in zip(r.radial, r.intensity, sig):
        print(repr(float(c)), repr(float(i)), repr(float(s)))
    sys.exit(0)
if a.get("npt_azim"):
    r = ai.integrate2d(data, a["npt"], a["npt_azim"], **kw)
    print(" ".join(repr(float(v)) for v in r.radial))
    print(" ".join(repr(float(v)) for v in r.azimuthal))
    for row in r.intensity:
        print(" ".join(repr(float(v)) for v in row))
    sys.exit(0)
if a.get("sigma_clip"):
    r = ai.sigma_clip_ng(data, a["npt"], error_model="azimuthal", thres=a["sigma_clip"], max_iter=5, **kw)
else:
    r = ai.integrate1d(data, a["npt"], error_model=a.get("error_model", "poisson"), **kw)
sig = r.sigma if r.sigma is not None else np.full_like(r.intensity, np.nan)
for q, i, s in zip(r.radial, r.intensity, sig):
    print(repr(float(q)), repr(float(i)), repr(float(s)))
