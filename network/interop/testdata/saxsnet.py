"""Helpers shared by the interoperability scripts: the original saxsdog's
request signing and a REQ client, written from the wire contract (spec 9.2,
9.3) and nothing else.

The signing is the original Leash.addauthentication: set time to
time.time(), sign to "", take json.dumps(req, sort_keys=True), and sign with
sha512 of that text followed by the secret. The request goes out as
json.dumps(req) (key order irrelevant), attachments as further frames.
"""

import base64
import hashlib
import json
import time

import zmq


def canonical(req):
    """The text the original signs: Python's own json.dumps, sort_keys."""
    return json.dumps(req, sort_keys=True)


def signature(req, secret):
    """sha512(canonical(req with sign="") + secret), lowercase hex."""
    r = dict(req)
    r["sign"] = ""
    h = hashlib.sha512()
    h.update(canonical(r).encode("utf-8"))
    h.update(secret.encode("utf-8"))
    return h.hexdigest()


def sign(req, secret, now=None):
    """Adds time and sign to req in place, as the original client does."""
    req["time"] = time.time() if now is None else now
    req["sign"] = ""
    req["sign"] = signature(req, secret)
    return req


def attachment(filename, payload):
    """One attachment frame of the 2.0 protocol: {"filename", "data": base64}."""
    return json.dumps({"filename": filename,
                       "data": base64.b64encode(payload).decode("ascii")})


class Client:
    """A REQ client like the original Leash (LINGER 1, a poll deadline), but
    with a fresh socket after a timeout so one lost reply does not wedge it."""

    def __init__(self, url, secret, timeout=10.0):
        self.url = url
        self.secret = secret
        self.timeout = timeout
        self.ctx = zmq.Context.instance()
        self.sock = None

    def _socket(self):
        if self.sock is None:
            self.sock = self.ctx.socket(zmq.REQ)
            self.sock.setsockopt(zmq.LINGER, 1)
            self.sock.connect(self.url)
        return self.sock

    def close(self):
        if self.sock is not None:
            self.sock.close(linger=0)
            self.sock = None

    def send_frames(self, frames):
        """Sends raw frames (bytes or str) and returns the raw reply bytes."""
        s = self._socket()
        s.send_multipart([f if isinstance(f, bytes) else f.encode("utf-8") for f in frames])
        if s.poll(int(self.timeout * 1000), zmq.POLLIN) == 0:
            self.close()
            raise TimeoutError("no reply from %s within %ss" % (self.url, self.timeout))
        return b"".join(s.recv_multipart())

    def request(self, command, argument=None, attachments=(), secret=None, now=None):
        """Signs and sends one request; returns the parsed reply (NaN allowed)."""
        req = {"command": command, "argument": {} if argument is None else argument}
        sign(req, self.secret if secret is None else secret, now)
        raw = self.send_frames([json.dumps(req)] + list(attachments))
        return json.loads(raw.decode("utf-8"))


class CheckError(Exception):
    """A reply that does not match the contract."""


def check(cond, msg, *args):
    if not cond:
        raise CheckError(msg % args if args else msg)
