#!/usr/bin/python3
"""A small REP server that checks requests the way the original saxsdog
2.0 server (SAXS/Server.py) does and answers with its reply strings
(spec 9.4, 9.7). It integrates nothing: "images processed" counts the .tif
files in the queue directory, and plot answers a fixed curve with NaN in it,
as the original's replies can.

Authentication as the original: parse frame 0, take its "sign", set
"sign" to "", recompute sha512(json.dumps(req, sort_keys=True) + secret)
from the parsed request and require |time - now| < 900.

Every request is logged as one JSON line to --log: the parsed request, the
attachments (filename, sha512 of the decoded payload) and the reply
result, so a test can see what arrived.

Usage: pyserver.py --port P --secret S --serverdir D --log FILE [--lifetime SEC]
"""

import argparse
import base64
import hashlib
import json
import os
import sys
import time

import zmq

COMMANDS = ["close", "abort", "new", "get", "plot", "plotdata", "readdir", "stat",
            "listdir", "fileslist", "mergedata", "getmergedata"]
ARGUMENT_KEYS = {"calibration", "mergeconf", "data", "directory"}


class State:
    def __init__(self, serverdir):
        self.serverdir = serverdir
        self.cal = None
        self.attachments = []
        self.dir = None
        self.start = None

    def count(self):
        n = 0
        for root, _dirs, files in os.walk(self.dir):
            n += sum(1 for f in files if f.endswith(".tif"))
        return n

    def stat(self):
        if self.cal is None:
            return {}
        return {"images processed": self.count(), "queue length": 0,
                "time": time.time(), "start time": self.start}


def validate(req):
    """The parts of LeashRequestSchema.json the original enforces."""
    if not isinstance(req, dict):
        return "request is not an object"
    extra = set(req) - {"command", "argument", "sign", "time"}
    if extra:
        return "Additional properties are not allowed (%s)" % ", ".join(sorted(extra))
    if req.get("command") not in COMMANDS:
        return "%r is not one of %r" % (req.get("command"), COMMANDS)
    arg = req.get("argument", {})
    if not isinstance(arg, dict):
        return "argument is not of type 'object'"
    if set(arg) - ARGUMENT_KEYS:
        return "Additional properties are not allowed in argument"
    if "sign" in req and not isinstance(req["sign"], str):
        return "sign is not of type 'string'"
    if "time" in req and (isinstance(req["time"], bool) or not isinstance(req["time"], (int, float))):
        return "time is not of type 'number'"
    return None


def authenticate(req, secret):
    sign = req.get("sign", "")
    req["sign"] = ""
    h = hashlib.sha512()
    h.update(json.dumps(req, sort_keys=True).encode("utf-8"))
    h.update(secret.encode("utf-8"))
    req["sign"] = sign
    if not abs(req.get("time", 0) - time.time()) < 900:
        return "Untimely request."
    if h.hexdigest() != sign:
        return "Wrong signature."
    return None


def handle(state, req, attachments):
    cmd = req["command"]
    arg = req.get("argument", {})
    if cmd == "stat":
        return {"result": "stat", "data": {"stat": state.stat()}}
    if cmd == "new":
        cal = arg.get("calibration")
        if not isinstance(cal, dict) or not isinstance(cal.get("Masks"), list):
            return {"result": "Error", "data": {"Error": "calibration without Masks"}}
        if len(attachments) != len(cal["Masks"]):
            return {"result": "Error", "data": {"Error": "%d masks, %d attachments" % (len(cal["Masks"]), len(attachments))}}
        for a in attachments:
            base64.b64decode(a["data"], validate=True)
        state.cal = cal
        state.attachments = attachments
        state.dir = os.path.normpath(os.path.join(state.serverdir, os.sep.join(cal.get("Directory", ["."]))))
        state.start = time.time()
        return {"result": "new queue", "data": {"cal": cal}}
    if cmd == "get":
        if state.cal is None:
            return {"result": "no queue", "data": {}}
        return {"result": "cal", "data": {"cal": state.cal, "attachments": state.attachments}}
    if cmd == "abort":
        state.cal = None
        return {"result": "queue aborted", "data": {"stat": {}}}
    if cmd == "close":
        return {"result": "queue closed", "data": {"stat": state.stat() or {}}}
    if cmd in ("plot", "plotdata"):
        if state.cal is None:
            return {"result": "no queue", "data": {}}
        graphs = [{"kind": "Radial", "conf": m,
                 "columnLabels": ["Scattering Vector  q [$nm^{-1}$]", "Intensity (Count/Pixel)", "Error Margin"],
                 "array": [[0.5, 1.5, 2.5], [float("nan"), 2.0, 3.0], [float("nan"), 0.1, 0.2]]}
                  for m in state.cal["Masks"]]
        return {"result": "plot", "data": {"filename": "x", "graphs": graphs, "stat": state.stat(),
                                           "history": [time.time()],
                                           "IntegralParameters": {"R0": {"time": [""], "file": ["x"], "I0": [float("nan")], "I1": [1.0], "I2": [2.0]}}}}
    if cmd == "readdir":
        if state.cal is None:
            return {"result": "ValueError", "data": {"Error": "Start Queue first"}}
        return {"result": "queue restarted with all files", "data": {"stat": state.stat()}}
    if cmd == "listdir":
        d = os.path.join(state.serverdir, os.sep.join(arg.get("directory", [])))
        try:
            content = [{"isdir": os.path.isdir(os.path.join(d, n)), "path": n} for n in sorted(os.listdir(d))]
        except OSError as e:
            return {"result": "OSError", "data": {"Error": str(e)}}
        return {"result": "listdir", "data": {"dircontent": content, "directory": d.split(os.sep)}}
    if cmd == "fileslist":
        if state.cal is None:
            return {"result": "no queue", "data": {}}
        names = sorted(os.path.join(r, f) for r, _d, fs in os.walk(state.dir) for f in fs if f.endswith(".tif"))
        return {"result": "resultfileslists",
                "data": {"fileslist": {"Radial%d" % i: [n[:-4] + "_cR%d.chi" % i for n in names]
                                       for i in range(len(state.cal["Masks"]))}}}
    return {"result": "ErrorNotimplemented", "data": {"Error": cmd + " not implemented"}}


def serve(args):
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.REP)
    sock.setsockopt(zmq.LINGER, 0)
    sock.bind("tcp://127.0.0.1:%d" % args.port)
    state = State(args.serverdir)
    log = open(args.log, "a") if args.log else None
    print("listening on port %d" % args.port, flush=True)
    end = time.time() + args.lifetime
    while time.time() < end:
        if sock.poll(200, zmq.POLLIN) == 0:
            continue
        frames = sock.recv_multipart()
        entry = {}
        try:
            req = json.loads(frames[0].decode("utf-8"))
            entry["request"] = req
            err = validate(req)
            if err:
                reply = {"result": "ValidationError in request", "data": err}
            else:
                err = authenticate(req, args.secret)
                if err:
                    reply = {"result": "AuthenticationError", "data": {"Error": err}}
                else:
                    atts = [json.loads(f.decode("utf-8")) for f in frames[1:]]
                    entry["attachments"] = [{"filename": a["filename"],
                                             "sha512": hashlib.sha512(base64.b64decode(a["data"])).hexdigest()}
                                            for a in atts]
                    reply = handle(state, req, atts)
        except ValueError as e:
            reply = {"result": "ValueError in request", "data": {"Error": str(e)}}
        except Exception as e:  # the 2.0 server's catch-all
            reply = {"result": "ServerError", "data": {"Error": repr(e)}}
        entry["result"] = reply["result"]
        if log:
            log.write(json.dumps(entry) + "\n")
            log.flush()
        sock.send(json.dumps(reply).encode("utf-8"))
    sock.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--secret", required=True)
    p.add_argument("--serverdir", default=".")
    p.add_argument("--log")
    p.add_argument("--lifetime", type=float, default=120.0)
    serve(p.parse_args())


if __name__ == "__main__":
    sys.exit(main())
