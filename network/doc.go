// Package network is the saxsdog network: the processing server, the
// feeder that announces new frames, and the leash client that drives a
// server, wire-compatible with the original Python saxsdog (spec §9) over
// ZeroMQ (github.com/go-zeromq/zmq4, REQ/REP and PUB/SUB).
//
// # Configuration
//
// [NetConf] is ~/.saxsdognetwork (or --netconf, or $SAXSDOG_NETWORK) in
// either layout: the 0.3.0 single object or the 2.0 list of entries with
// Name. Each [Entry] gives a server's command address, its feeder's
// address and the shared secret.
//
// # Requests
//
// A request is one JSON frame {"command", "argument", "time", "sign"}
// followed by attachment frames {"filename", "data": base64}. It is
// signed as the original signs it ([Signature]: SHA-512 of Python's
// json.dumps(req, sort_keys=True) with "sign" = "", then the secret,
// reproduced byte for byte by internal/pyjson). A [Verifier] rejects,
// with the original's AuthenticationError reply, a wrong signature
// (constant-time compare), a time outside ±[Window] and, beyond the
// original, a replay of a request it accepted before. The original does
// not sign attachments; our [Client] lists their SHA-512 digests in
// argument.data (see [DigestKey]), which servers check when present (and
// require with ServerConfig.Strict).
//
// # Transport
//
// Every client request ([RoundTrip]) uses a fresh REQ socket and a
// deadline that also bounds the ZMTP handshake, so a restarted or stopped
// server cannot leave it stuck ([NoAnswerError]).
// A [RepServer] answers one request at a time and survives anything: the
// handshakes of new connections run beside zmq4's accept loop with a
// deadline ([HandshakeTimeout]), so a silent peer keeps no one out; a
// malformed request gets an error reply ([ParseRequest]), a panic in a
// handler a ServerError reply, a peer that announces a frame too large
// to allocate is disconnected before zmq4 tries ([MaxMessageSize]), and
// one that stops reading its replies is disconnected after
// [WriteTimeout].
//
// # Server
//
// A [Server] serves one configuration entry: a REP socket and at most one
// queue. A queue converts the frames of its folder below SERVERDIR with
// the saxsdog pipeline (internal/batch: same .chi files, byte for byte)
// as they are completely written, seen by its own watch of the folder or
// announced by the feeder ([Subscribe]), each frame once; a frame that
// never completes is reported (fileslist "Failed"). The commands and
// reply strings are those of the 2.0 server (see the Result constants);
// stat, plot and get answer at once from the latest state.
//
// # Feeder
//
// [RunFeeder] publishes {"command":"new file","argument":PATH} on a
// [Publisher] for each frame below a folder once it is complete.
package network
