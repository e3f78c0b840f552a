"""The pyFAI side of saxsbench: the batch a beamline would otherwise run.

Reads every frame of a folder with fabio, integrates it with pyFAI
(integrate1d, bbox pixel splitting, CSR, Poisson errors, mask, no solid-angle
correction, as fit2d and saxsdog) and writes a
text curve, on a pool of threads. Prints one JSON line with the timings.
"""
import argparse
import concurrent.futures as cf
import json
import os
import time

import fabio
import numpy as np
import pyFAI
from pyFAI.azimuthalIntegrator import AzimuthalIntegrator

p = argparse.ArgumentParser()
p.add_argument("--frames", required=True)
p.add_argument("--out", required=True)
p.add_argument("--mask", required=True, help="raw uint8, rows x cols, 1 = masked, row 0 first")
p.add_argument("--rows", type=int, required=True)
p.add_argument("--cols", type=int, required=True)
p.add_argument("--dist", type=float, required=True, help="mm")
p.add_argument("--cx", type=float, required=True, help="fit2d X beam centre, pixels")
p.add_argument("--cy", type=float, required=True, help="beam centre row from the top, pixels")
p.add_argument("--tilt", type=float, required=True)
p.add_argument("--rot", type=float, required=True)
p.add_argument("--pixel", type=float, required=True, help="um")
p.add_argument("--wavelength", type=float, required=True, help="Angstrom")
p.add_argument("--bins", type=int, required=True)
p.add_argument("--qmin", type=float, required=True)
p.add_argument("--qmax", type=float, required=True)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--polarization", type=float, default=None, help="pyFAI polarization_factor")
a = p.parse_args()

t0 = time.perf_counter()
ai = AzimuthalIntegrator()
ai.setFit2D(a.dist, centerX=a.cx, centerY=a.cy, tilt=a.tilt, tiltPlanRotation=a.rot,
            pixelX=a.pixel, pixelY=a.pixel)
ai.wavelength = a.wavelength * 1e-10
mask = np.fromfile(a.mask, dtype=np.uint8).reshape(a.rows, a.cols)
files = sorted(os.path.join(a.frames, f) for f in os.listdir(a.frames) if f.endswith(".tif"))
os.makedirs(a.out, exist_ok=True)


def one(path):
    data = fabio.open(path).data
    r = ai.integrate1d(data, a.bins, mask=mask, unit="q_nm^-1", radial_range=(a.qmin, a.qmax),
                       method=("bbox", "csr", "cython"), error_model="poisson",
                       correctSolidAngle=False, polarization_factor=a.polarization)
    name = os.path.join(a.out, os.path.basename(path)[:-4] + ".dat")
    np.savetxt(name, np.column_stack([r.radial, r.intensity, r.sigma]))


# The first frame builds pyFAI's sparse matrix: count it as setup.
one(files[0])
setup = time.perf_counter() - t0

t1 = time.perf_counter()
with cf.ThreadPoolExecutor(max_workers=a.threads) as pool:
    list(pool.map(one, files))
loop = time.perf_counter() - t1
print(json.dumps({"pyfai": pyFAI.version, "frames": len(files), "setup_s": setup, "loop_s": loop}))
