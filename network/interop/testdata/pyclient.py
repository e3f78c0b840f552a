#!/usr/bin/python3
"""An original-style saxsdog client (Python 3, python3-zmq), written from the
wire contract only (spec 9.2, 9.3, 9.7, 9.8): it signs with Python's own
json.dumps(sort_keys=True) + sha512 and sends Python's json.dumps bytes as
they are (float repr, \\u escapes, surrogate pairs).

  pyclient.py scenario --url U --secret S --cal CAL --serverdir D --queue a/b
                       --frames f1.tif,f2.tif [-n 20] [--timeout 60]
      new (2.0 calibration with its masks attached, base64), plot before the
      first frame, n frames copied into SERVERDIR/a/b while the queue runs,
      stat until all are processed, plot, get, fileslist, listdir, close,
      abort, stat. Checks the reply
      strings and the data layouts; prints a JSON summary; exit 1 on a
      mismatch.

  pyclient.py request --url U --secret S --command C [--argument JSON]
      one signed request; prints the reply.

  pyclient.py digests --url U --secret S --cal CAL --queue a/b
      new with our extension's attachment digests absent, right, wrong, and
      right but an attachment changed; prints {variant: result}.

  pyclient.py flood --url U --secret S [-n 3000]
      a DEALER sends n get requests and never reads the replies; then an
      ordinary stat must still be answered.

  pyclient.py poll --url U --secret S --until FILE [--every 0.02] [--connect-each]
      stat, get and plot, again and again (a pause of --every between the
      rounds), each on the same socket (with --connect-each on a new
      connection, as saxsleash makes), until FILE exists; prints
      "polling" after the first round, then each request as JSON
      {"samples": [[command, start (Unix s), round trip (ms)], ...]};
      exit 1 when a request is not answered.

  pyclient.py canon --url U --secret S
      stat requests whose arguments stress the canonical form (float repr,
      -0.0, big ints, NaN, escapes, characters above the BMP, key order),
      each sent as json.dumps bytes and as raw UTF-8; all must be accepted.
"""

import argparse
import base64
import json
import math
import os
import shutil
import sys
import time

from saxsnet import CheckError, Client, attachment, check


def is_number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def check_stat(s, where):
    check(isinstance(s, dict), "%s: stat is %r, not an object", where, s)
    for k in ("images processed", "queue length"):
        check(isinstance(s.get(k), int) and not isinstance(s.get(k), bool),
              "%s: stat[%r] = %r is not an integer", where, k, s.get(k))
    for k in ("time", "start time"):
        check(is_number(s.get(k)), "%s: stat[%r] = %r is not a number", where, k, s.get(k))


def check_graph(g, where):
    check(g.get("kind") in ("Radial", "Slice"), "%s: kind %r", where, g.get("kind"))
    labels = g.get("columnLabels")
    check(isinstance(labels, list) and len(labels) == 3 and all(isinstance(x, str) for x in labels),
          "%s: columnLabels %r", where, labels)
    arr = g.get("array")
    check(isinstance(arr, list) and len(arr) == 3, "%s: array is not 3 columns", where)
    n = len(arr[0])
    check(n > 0 and all(isinstance(c, list) and len(c) == n for c in arr),
          "%s: array columns of unequal length", where)
    check(all(is_number(v) for c in arr for v in c), "%s: array holds a non-number", where)
    q = arr[0]
    check(all(math.isfinite(v) for v in q), "%s: q not finite", where)
    check(all(q[i] < q[i + 1] for i in range(n - 1)), "%s: q not increasing", where)
    check("conf" in g, "%s: no conf", where)


def wait_processed(c, n, timeout):
    end = time.time() + timeout
    last = None
    while time.time() < end:
        r = c.request("stat")
        check(r.get("result") == "stat", "stat: result %r", r.get("result"))
        last = r["data"]["stat"]
        check_stat(last, "stat")
        if last["images processed"] >= n:
            return last
        time.sleep(0.2)
    raise CheckError("stat: %r after %ss, want %d images processed" % (last, timeout, n))


def scenario(args):
    c = Client(args.url, args.secret, timeout=args.request_timeout)
    summary = {}
    r = c.request("stat")
    check(r.get("result") == "stat", "stat before new: %r", r)
    summary["stat before new"] = r

    with open(args.cal) as f:
        cal = json.load(f)
    caldir = os.path.dirname(os.path.abspath(args.cal))
    cal["Directory"] = args.queue.split("/")
    # Non-ASCII, sent as \\u escapes and a surrogate pair by json.dumps.
    cal["Title"] = cal.get("Title", "") + " caf\u00e9 \u2713 \U0001d11e"
    atts = []
    for m in cal["Masks"]:
        with open(os.path.join(caldir, m["MaskFile"]), "rb") as f:
            atts.append(attachment(m["MaskFile"], f.read()))
    qdir = os.path.join(args.serverdir, *cal["Directory"])
    os.makedirs(qdir, exist_ok=True)

    r = c.request("new", {"calibration": cal, "data": {}}, atts)
    check(r.get("result") == "new queue", "new: %r", r)
    check(r["data"].get("cal") == cal, "new: data.cal differs from the calibration sent: %r", r["data"].get("cal"))

    r = c.request("plot")
    check(isinstance(r.get("result"), str) and isinstance(r.get("data"), dict),
          "plot before the first frame: %r", r)
    check(r["result"] != "ServerError", "plot before the first frame: %r", r)
    summary["plot before the first frame"] = r["result"]

    frames = args.frames.split(",")
    for i in range(args.n):
        shutil.copyfile(frames[i % len(frames)], os.path.join(qdir, "frame_%05d.tif" % i))
        time.sleep(0.02)
    s = wait_processed(c, args.n, args.timeout)
    time.sleep(1.0)
    r = c.request("stat")
    s = r["data"]["stat"]
    check(s["images processed"] == args.n, "stat after %d frames: %r (a frame converted twice?)", args.n, s)
    summary["stat"] = s

    r = c.request("plot")
    check(r.get("result") == "plot", "plot: %r", r.get("result"))
    d = r["data"]
    check(isinstance(d.get("filename"), str), "plot: filename %r", d.get("filename"))
    check(isinstance(d.get("graphs"), list) and len(d["graphs"]) == len(cal["Masks"]),
          "plot: %d graphs for %d masks", len(d.get("graphs") or []), len(cal["Masks"]))
    for i, g in enumerate(d["graphs"]):
        check_graph(g, "plot graph %d" % i)
    check_stat(d.get("stat"), "plot")
    check(isinstance(d.get("history"), list) and len(d["history"]) >= 1 and all(is_number(t) for t in d["history"]),
          "plot: history %r", d.get("history"))
    ip = d.get("IntegralParameters")
    check(isinstance(ip, dict) and len(ip) >= 1, "plot: IntegralParameters %r", ip)
    for key, v in ip.items():
        check(all(k in v for k in ("time", "file", "I0", "I1", "I2")), "plot: IntegralParameters[%r] keys %r", key, sorted(v))
        lens = {len(v[k]) for k in ("time", "file", "I0", "I1", "I2")}
        check(len(lens) == 1 and lens.pop() >= 1, "plot: IntegralParameters[%r] lists of unequal length", key)
    summary["plot"] = {"filename": d["filename"], "graphs": [{"kind": g["kind"], "rows": len(g["array"][0])} for g in d["graphs"]],
                       "history": len(d["history"]), "IntegralParameters": {k: len(v["I0"]) for k, v in ip.items()}}

    r = c.request("get")
    check(r.get("result") == "cal", "get: %r", r.get("result"))
    check(r["data"].get("cal") == cal, "get: data.cal differs from the calibration sent")
    got = r["data"].get("attachments")
    check(got == [json.loads(a) for a in atts], "get: attachments differ from those sent")
    for a in got:
        base64.b64decode(a["data"], validate=True)

    r = c.request("fileslist")
    check(r.get("result") == "resultfileslists", "fileslist: %r", r.get("result"))
    fl = r["data"].get("fileslist")
    check(isinstance(fl, dict) and all(isinstance(v, list) for v in fl.values()), "fileslist: %r", fl)
    for i in range(len(cal["Masks"])):
        check(len(fl.get("Radial%d" % i, [])) == args.n, "fileslist: Radial%d has %d entries, want %d",
              i, len(fl.get("Radial%d" % i, [])), args.n)

    parent = cal["Directory"][:-1]
    r = c.request("listdir", {"directory": parent})
    check(r.get("result") == "listdir", "listdir %r: %r", parent, r)
    content = r["data"].get("dircontent")
    check(isinstance(content, list) and all(isinstance(e.get("isdir"), bool) and isinstance(e.get("path"), str) for e in content),
          "listdir: dircontent %r", content)
    check({"isdir": True, "path": cal["Directory"][-1]} in content, "listdir %r: no folder %r in %r", parent, cal["Directory"][-1], content)
    check(isinstance(r["data"].get("directory"), list), "listdir: directory %r", r["data"].get("directory"))

    r = c.request("close")
    check(r.get("result") == "queue closed", "close: %r", r)
    check_stat(r["data"].get("stat"), "close")

    r = c.request("abort")
    check(r.get("result") == "queue aborted", "abort: %r", r)
    check(isinstance(r.get("data"), dict) and isinstance(r["data"].get("stat"), dict), "abort: data %r", r.get("data"))
    r = c.request("stat")
    check(r.get("result") == "stat", "stat after abort: %r", r)
    summary["stat after abort"] = r["data"]
    c.close()
    json.dump(summary, sys.stdout, indent=1)
    print()


# Arguments whose canonical text is hard to get right: float repr at the
# boundaries of fixed notation, -0.0, big ints, NaN and infinities, escapes,
# characters above the BMP (in values and keys: code point order is not
# UTF-16 order), and control characters.
CANON_CASES = [
    {"data": {"f": [0.1, 100.0, 1e16, 1e15, 9999999999999998.0, 1e-05, 0.0001, 5e-324,
                    1.2345678901234568e+17, 1.7976931348623157e+308, 2.5e-07, 123456789.123456789]}},
    {"data": {"z": -0.0, "i": 12345678901234567890123456789, "n": -1, "zero": 0}},
    {"data": {"nan": float("nan"), "inf": float("inf"), "ninf": float("-inf")}},
    {"data": {"s": "caf\u00e9 \U0001d11e \u2603 \"q\" back\\slash /slash \x7f \x00\x01\x1f \n\r\t\b\f"}},
    {"data": {"\uffff": 1, "\U0001d11e": 2, "\u00e9": 3, "a": 4, "A": 5, "": 6}},
    {"data": [True, False, None, [], {}, [[1.5]], {"b": {"a": {}}}]},
    {"data": {"t": 1404979588.715198, "big": 1e300, "small": -1e-300}},
    {"directory": ["data", "run1"], "data": "plain string"},
]


def canon_cases(args):
    """Each case once as Python's json.dumps bytes (ASCII, \\u escapes) and
    once as raw UTF-8 (ensure_ascii=False); the server must answer stat."""
    import json as _json
    from saxsnet import sign
    c = Client(args.url, args.secret, timeout=args.request_timeout)
    bad = []
    for i, arg in enumerate(CANON_CASES):
        for ascii_only in (True, False):
            req = {"command": "stat", "argument": arg}
            sign(req, args.secret)
            raw = c.send_frames([_json.dumps(req, ensure_ascii=ascii_only).encode("utf-8")])
            r = _json.loads(raw.decode("utf-8"))
            if r.get("result") != "stat":
                bad.append("case %d (ensure_ascii=%s) %s: %s" % (i, ascii_only, _json.dumps(arg)[:120], raw[:300]))
    c.close()
    for b in bad:
        print("FAIL", b)
    print("%d of %d requests accepted" % (2 * len(CANON_CASES) - len(bad), 2 * len(CANON_CASES)))
    if bad:
        raise CheckError("%d requests signed by Python were not accepted" % len(bad))


def digests(args):
    """new with the sample calibration, masks attached, in four variants of
    our extension's attachment digests (argument.data.AttachmentSHA512, the
    SHA-512 hex of each attachment frame): none, right, wrong, and right
    digests but an attachment changed after signing. Prints the results."""
    import hashlib
    c = Client(args.url, args.secret, timeout=args.request_timeout)
    with open(args.cal) as f:
        cal = json.load(f)
    cal["Directory"] = args.queue.split("/")
    caldir = os.path.dirname(os.path.abspath(args.cal))
    atts = []
    for m in cal["Masks"]:
        with open(os.path.join(caldir, m["MaskFile"]), "rb") as f:
            atts.append(attachment(m["MaskFile"], f.read()))
    good = [hashlib.sha512(a.encode("utf-8")).hexdigest() for a in atts]
    tampered = json.loads(atts[0])
    raw = bytearray(base64.b64decode(tampered["data"]))
    raw[-1] ^= 0xff
    tampered["data"] = base64.b64encode(bytes(raw)).decode("ascii")
    variants = {
        "none": ({}, atts),
        "good": ({"AttachmentSHA512": good}, atts),
        "wrong": ({"AttachmentSHA512": ["0" * 128] + good[1:]}, atts),
        "tampered": ({"AttachmentSHA512": good}, [json.dumps(tampered)] + atts[1:]),
    }
    out = {}
    for name, (data, frames) in variants.items():
        out[name] = c.request("new", {"calibration": cal, "data": data}, frames).get("result")
    c.close()
    json.dump(out, sys.stdout)
    print()


def flood(args):
    """A peer that sends many signed get requests on a DEALER socket and
    never reads the replies (receive queue of 1, a small kernel buffer),
    while an ordinary client asks stat: the stat must be answered."""
    import zmq
    from saxsnet import sign
    ctx = zmq.Context.instance()
    d = ctx.socket(zmq.DEALER)
    d.setsockopt(zmq.RCVHWM, 1)
    d.setsockopt(zmq.RCVBUF, 4096)
    d.setsockopt(zmq.LINGER, 0)
    d.connect(args.url)
    for _ in range(args.n):
        req = {"command": "get", "argument": {}}
        sign(req, args.secret)
        d.send_multipart([b"", json.dumps(req).encode("utf-8")])
    time.sleep(2)
    c = Client(args.url, args.secret, timeout=args.request_timeout)
    try:
        r = c.request("stat")
        check(r.get("result") == "stat", "stat while a peer does not read: %r", r)
        print("stat answered while a peer left %d replies unread" % args.n)
    finally:
        c.close()
        d.close(0)


def one_request(args):
    c = Client(args.url, args.secret, timeout=args.request_timeout)
    arg = json.loads(args.argument) if args.argument else {}
    r = c.request(args.command, arg, now=time.time() + args.time_offset)
    json.dump(r, sys.stdout, indent=4)
    print()
    c.close()


def poll(args):
    c = Client(args.url, args.secret, timeout=args.request_timeout)
    samples = []
    while not os.path.exists(args.until):
        for cmd in ("stat", "get", "plot"):
            start, t = time.time(), time.monotonic()
            r = c.request(cmd)
            if args.connect_each:
                c.close()
            ms = (time.monotonic() - t) * 1000
            check(isinstance(r, dict) and "result" in r, "%s: reply %r", cmd, r)
            samples.append([cmd, start, ms])
        if len(samples) == 3:
            print("polling", flush=True)
        time.sleep(args.every)
    c.close()
    json.dump({"samples": samples}, sys.stdout)
    print()


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("scenario", "request", "canon", "digests", "flood", "poll"):
        s = sub.add_parser(name)
        s.add_argument("--url", required=True)
        s.add_argument("--secret", required=True)
        s.add_argument("--request-timeout", type=float, default=10.0)
    s = sub.choices["scenario"]
    s.add_argument("--cal", required=True)
    s.add_argument("--serverdir", required=True)
    s.add_argument("--queue", required=True)
    s.add_argument("--frames", required=True)
    s.add_argument("-n", type=int, default=20)
    s.add_argument("--timeout", type=float, default=60.0)
    sub.choices["flood"].add_argument("-n", type=int, default=3000)
    s = sub.choices["digests"]
    s.add_argument("--cal", required=True)
    s.add_argument("--queue", required=True)
    s = sub.choices["poll"]
    s.add_argument("--until", required=True)
    s.add_argument("--every", type=float, default=0.02)
    s.add_argument("--connect-each", action="store_true")
    s = sub.choices["request"]
    s.add_argument("--command", required=True)
    s.add_argument("--argument")
    s.add_argument("--time-offset", type=float, default=0.0)
    args = p.parse_args()
    try:
        {"scenario": scenario, "request": one_request, "canon": canon_cases, "digests": digests, "flood": flood,
         "poll": poll}[args.cmd](args)
    except (CheckError, TimeoutError) as e:
        print("FAIL: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
