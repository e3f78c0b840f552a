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
// never completes is reported (fileslist "Failed", on request). The
// commands and reply strings are those of the 2.0 server (see the Result
// constants); stat, plot and get answer at once from the latest state.
//
// # Additions to the replies, on request
//
// Original 2.0 clients validate every reply against the 2.0 result schema
// (LeashResultSchema.json), whose data and data.stat objects allow no
// other members; 0.3.0 clients know the 0.3.0 schema. So a reply carries
// what those schemas lack only when its request asks for it, with a
// member of argument.data set to true (the 2.0 request schema allows any
// argument.data, and original servers ignore it):
//
//	"argument": {"data": {"FramesPerSec": true}}  stat objects (stat, plot, Empty,
//	                                              close, readdir, abort) get
//	                                              "frames per sec": the frames
//	                                              converted in the last
//	                                              HistoryWindow, per second
//	"argument": {"data": {"SkippedFrames": true}} stat objects get "images
//	                                              skipped": the frames whose
//	                                              outputs existed (calibration
//	                                              OverwriteFiles false)
//	"argument": {"data": {"FailedFrames": true}}  fileslist gets "Failed": the
//	                                              frames given up, with why
//	"argument": {"data": {"Attachments": true}}   get about a queue started with
//	                                              the 0.3.0 form of new gets
//	                                              "attachments" beside the 0.3.0
//	                                              "directory" and "mask"
//
// (FramesPerSecKey, SkippedKey, FailedKey, AttachmentsKey.) A request without them,
// as an original client sends, gets the original's members only: a stat
// object has "images processed", "queue length", "time" and "start time".
// Our [Client] asks for all of them unless Client.Plain (saxsleash
// --plain); an original 0.3.0 server, whose request schema has no
// argument.data, needs Plain. Error replies always have data {"Error":
// message}, also ValidationError, whose data the original sent as a bare
// string against its own schema.
//
// # Feeder
//
// [RunFeeder] publishes {"command":"new file","argument":PATH} on a
// [Publisher] for each frame below a folder once it is complete.
//
// # Cluster
//
// With ServerConfig.Cluster (saxsdogserver --nats or --nats-embed) the
// server is the head of a cluster (package network/cluster): its queue
// turns each frame found complete into a job on NATS JetStream, the
// calibration and masks of new into a version in a key-value bucket, and
// saxsdogworker processes on other machines write the outputs; stat,
// plot and fileslist report their results, each job once, and the dead
// letters of frames given up as Failed. A queue that stops (new, readdir,
// abort, the end of the server) drops the jobs it still had.
//
// # Detector streams
//
// With ServerConfig.Stream (saxsdogserver --stream) a server also
// receives an Eiger's DECTRIS stream interface (v1 or v2, decoded by
// package network/stream) as its single PULL consumer and integrates each
// frame in memory with the active queue, writing
// <series>_<frame:06d>.chi ([StreamName]) where the queue writes the
// curves of a frame in its folder; [Server.StreamStats] counts the
// messages, frames, gaps and failures (streamserver.go).
package network
