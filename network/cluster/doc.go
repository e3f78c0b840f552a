// Package cluster spreads the frames of a saxsdog server's queue over
// worker processes on several machines, through NATS JetStream.
//
// The head (the saxsdog server, network.Server with ServerConfig.Cluster)
// keeps its REP socket, watch and feeder subscriber; each frame they find
// complete becomes a [Job] on the work-queue stream [JobsStream] (subject
// saxs.jobs.<queue id>). A job names a file (relative to SERVERDIR) and a
// calibration version, never pixels and never the saxsdog secret. The
// active calibration of each server and its masks are a [QueueSpec] in the
// key-value bucket [CalBucket]; its revision is the version a job names.
//
// Workers ([Worker], saxsdogworker) share the durable pull consumer
// [WorkersConsumer]: each job is delivered to one worker, acknowledged
// explicitly once its outputs are written (atomically, with the names the
// server itself would give them, through internal/batch), and delivered
// again after AckWait when a worker dies. A worker that keeps failing a job
// gives it up after MaxDeliver deliveries with a [DeadLetter] on
// saxs.dead.<queue id>. Every outcome, with the curves, is a [Result] on
// saxs.results.<queue id> (stream [ResultsStream]); the head aggregates
// them into stat, plot and fileslist, counting each job once however often
// it was delivered.
//
// Workers see the frames at the same place below their own SERVERDIR
// (the argument of saxsdogworker): jobs carry paths relative to it, so
// the shared folder may be mounted at different places on the machines.
package cluster
