"""An independent decoder of the Go encoder's stream messages for the
tests: reads a message (one file per part) and prints the decoded frame's
shape and counts as JSON, using Python's json/cbor2/lz4.block/bitshuffle.

Usage: pydecode.py PART...
"""
import json
import struct
import sys

import bitshuffle
import cbor2
import lz4.block
import numpy as np

parts = [open(p, "rb").read() for p in sys.argv[1:]]


def bslz4(data, dtype, shape):
    total, block = struct.unpack(">QI", data[:12])
    out = bitshuffle.decompress_lz4(np.frombuffer(data[12:], dtype=np.uint8), shape, dtype, block // dtype.itemsize)
    assert out.nbytes == total
    return out


if parts[0][:1] == b"{":
    d = json.loads(parts[1])
    cols, rows = d["shape"]
    dtype = np.dtype("<" + {"uint16": "u2", "uint32": "u4"}[d["type"]])
    if d["encoding"] == "lz4<":
        a = np.frombuffer(lz4.block.decompress(parts[2], uncompressed_size=rows * cols * dtype.itemsize), dtype=dtype).reshape(rows, cols)
    else:
        a = bslz4(parts[2], dtype, (rows, cols))
    frame = json.loads(parts[0])["frame"]
else:
    m = cbor2.loads(parts[0])
    if isinstance(m, cbor2.CBORTag) and m.tag == 55799:
        m = m.value
    arr = m["data"]["threshold_1"]
    assert arr.tag == 40
    (rows, cols), typed = arr.value
    dtype = np.dtype({69: "<u2", 70: "<u4"}[typed.tag])
    c = typed.value
    if isinstance(c, cbor2.CBORTag) and c.tag == 56500:
        alg, es, data = c.value
        if alg == "bslz4":
            a = bslz4(data, dtype, (rows, cols))
        else:  # lz4 in the HDF5 LZ4 filter framing
            total, block = struct.unpack(">QI", data[:12])
            p, out = 12, b""
            while len(out) < total:
                n = struct.unpack(">I", data[p:p + 4])[0]
                p += 4
                want = min(block, total - len(out))
                out += data[p:p + n] if n == want else lz4.block.decompress(data[p:p + n], uncompressed_size=want)
                p += n
            a = np.frombuffer(out, dtype=dtype).reshape(rows, cols)
    else:
        a = np.frombuffer(c, dtype=dtype).reshape(rows, cols)
    frame = m["image_id"]
print(json.dumps({"frame": frame, "rows": int(rows), "cols": int(cols), "counts": [int(x) for x in a.ravel()]}))
