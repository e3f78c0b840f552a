"""An independent DECTRIS stream sender for the tests: a pyzmq PUSH socket
sending one series (v1 JSON multipart or v2 CBOR) of raw frames.

Usage: pysend.py VERSION ENCODING N RATE SERIES ROWS COLS FRAME.raw...

FRAME.raw files hold ROWS x COLS little-endian uint32 counts. ENCODING is
lz4 (v1 "lz4<", one LZ4 block), bslz4 (v1 "bs32-lz4<", v2 bslz4: bitshuffle
+ LZ4 with the HDF5 filter's 12-byte header) or none. RATE is frames per
second (0: full speed). The script binds 127.0.0.1 on a random port,
prints it on the first line of stdout, waits for a line on stdin (the
receiver is ready), sends, and waits until every message is delivered.
"""
import json
import struct
import sys
import time

import bitshuffle
import cbor2
import lz4.block
import numpy as np
import zmq

version, encoding, n, rate, series, rows, cols = sys.argv[1:8]
version, n, rate, series, rows, cols = int(version), int(n), float(rate), int(series), int(rows), int(cols)
frames = [np.fromfile(p, dtype="<u4").reshape(rows, cols) for p in sys.argv[8:]]


def compress(a):
    raw = a.tobytes()
    if encoding == "none":
        return raw
    if encoding == "lz4":
        return lz4.block.compress(raw, store_size=False)
    block = 8192 // a.dtype.itemsize
    body = bitshuffle.compress_lz4(a.ravel(), block).tobytes()
    return struct.pack(">QI", len(raw), block * a.dtype.itemsize) + body


data = [compress(f) for f in frames]
ctx = zmq.Context()
sock = ctx.socket(zmq.PUSH)
sock.setsockopt(zmq.SNDHWM, 100)  # at most 100 messages queued in the sender
port = sock.bind_to_random_port("tcp://127.0.0.1")
print(port, flush=True)
sys.stdin.readline()

if version == 1:
    sock.send_multipart([
        json.dumps({"htype": "dheader-1.0", "series": series, "header_detail": "basic"}).encode(),
        json.dumps({"nimages": n, "ntrigger": 1, "x_pixels_in_detector": cols, "y_pixels_in_detector": rows}).encode(),
    ])
else:
    sock.send(cbor2.dumps(cbor2.CBORTag(55799, {
        "type": "start", "series_id": series, "series_unique_id": "pysend", "number_of_images": n,
        "image_size_x": cols, "image_size_y": rows, "image_dtype": "uint32", "channels": ["threshold_1"],
    })))

enc1 = {"none": "<", "lz4": "lz4<", "bslz4": "bs32-lz4<"}[encoding]
start = time.monotonic()
for i in range(n):
    if rate > 0:
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    d = data[i % len(data)]
    if version == 1:
        sock.send_multipart([
            json.dumps({"htype": "dimage-1.0", "series": series, "frame": i, "hash": ""}).encode(),
            json.dumps({"htype": "dimage_d-1.0", "shape": [cols, rows], "type": "uint32", "encoding": enc1, "size": len(d)}).encode(),
            d,
            json.dumps({"htype": "dconfig-1.0", "start_time": i, "stop_time": i + 1, "real_time": 1}).encode(),
        ])
    else:
        if encoding == "bslz4":
            arr = cbor2.CBORTag(56500, ["bslz4", 4, d])
        else:
            arr = d
        sock.send(cbor2.dumps(cbor2.CBORTag(55799, {
            "type": "image", "series_id": series, "series_unique_id": "pysend", "image_id": i,
            "data": {"threshold_1": cbor2.CBORTag(40, [[rows, cols], cbor2.CBORTag(70, arr)])},
        })))

if version == 1:
    sock.send_multipart([json.dumps({"htype": "dseries_end-1.0", "series": series}).encode()])
else:
    sock.send(cbor2.dumps(cbor2.CBORTag(55799, {"type": "end", "series_id": series, "series_unique_id": "pysend"})))
sock.close(linger=-1)
ctx.term()
