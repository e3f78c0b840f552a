package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Names of the JetStream objects of a saxsdog cluster.
const (
	// JobsStream is the work-queue stream of the jobs (subjects
	// saxs.jobs.<queue id>).
	JobsStream = "SAXS_JOBS"
	// ResultsStream keeps the results (saxs.results.<queue id>) and the
	// dead letters (saxs.dead.<queue id>) for ResultsMaxAge.
	ResultsStream = "SAXS_RESULTS"
	// WorkersConsumer is the durable pull consumer all workers share.
	WorkersConsumer = "saxs-workers"
	// CalBucket is the key-value bucket of the active calibrations, one
	// key per server of the head (see QueueSpec).
	CalBucket = "saxs_calibration"

	// JobsPrefix, ResultsPrefix and DeadPrefix start the subjects; the
	// queue id follows.
	JobsPrefix    = "saxs.jobs."
	ResultsPrefix = "saxs.results."
	DeadPrefix    = "saxs.dead."
)

// Defaults of the delivery settings.
const (
	// DefaultAckWait is Settings.AckWait when not set.
	DefaultAckWait = 30 * time.Second
	// DefaultMaxDeliver is Settings.MaxDeliver when not set.
	DefaultMaxDeliver = 5
	// ResultsMaxAge is how long results and dead letters are kept (a
	// queue's results are dropped when it stops, its dead letters stay);
	// ResultsMaxBytes bounds them, the oldest going first.
	ResultsMaxAge   = 24 * time.Hour
	ResultsMaxBytes = 1 << 30
	// calHistory is how many versions of a calibration key the bucket keeps.
	calHistory = 8
)

// Settings are the delivery settings of the jobs consumer, chosen by the
// head.
type Settings struct {
	// AckWait is how long a worker may hold a job without a word before it
	// goes to another one (workers send progress every AckWait/3).
	AckWait time.Duration
	// MaxDeliver bounds the deliveries of a job; the worker of the last
	// one writes a dead letter if it fails too.
	MaxDeliver int
}

func (s Settings) withDefaults() Settings {
	if s.AckWait <= 0 {
		s.AckWait = DefaultAckWait
	}
	if s.MaxDeliver <= 0 {
		s.MaxDeliver = DefaultMaxDeliver
	}
	return s
}

// Job is one frame file to integrate: the JSON of a message on
// saxs.jobs.<queue id>. It names files, never carries pixels or secrets.
type Job struct {
	// ID identifies the announcement; a redelivered job keeps it, so the
	// head counts its result once.
	ID string `json:"id"`
	// Queue is the queue id (the subject's last token).
	Queue string `json:"queue"`
	// Key and Version name the calibration: the key in CalBucket and its
	// revision.
	Key     string `json:"key"`
	Version uint64 `json:"version"`
	// Frame is the frame file, slash-separated, relative to SERVERDIR.
	Frame string `json:"frame"`
	// Outputs, when set, lists the files the job writes, for people
	// reading the stream. The worker names the outputs itself, from the
	// naming rules of the QueueSpec (RelPath or OutDir, as the server
	// names them); the saxsdog server leaves this empty.
	Outputs []string `json:"outputs,omitempty"`
	// Announced is when the head published the job.
	Announced time.Time `json:"announced"`
}

// Mask is a mask file as sent with new.
type Mask struct {
	Name string `json:"name"`
	Data []byte `json:"data"`
}

// QueueSpec is the value of a calibration key: everything a worker needs
// to integrate the frames of a queue and name their outputs as the
// server does.
type QueueSpec struct {
	// Queue is the queue id.
	Queue string `json:"queue"`
	// Calibration is the calibration JSON as received with new.
	Calibration json.RawMessage `json:"calibration"`
	// Masks are the mask files, one per calibration mask.
	Masks []Mask `json:"masks"`
	// Dir is the queue folder, slash-separated, relative to SERVERDIR.
	Dir string `json:"dir"`
	// RelPath writes the outputs into this folder relative to each
	// frame's (the server's -R); empty when OutDir is set.
	RelPath string `json:"rel_path,omitempty"`
	// OutDir is the server's -o folder: relative to SERVERDIR when below
	// it, absolute otherwise (then the workers must see it at that path).
	// The outputs go below OutDir/Dir, as the server writes them.
	OutDir string `json:"out_dir,omitempty"`
	// Dat and NXcanSAS add those outputs (saxsdogserver --format).
	Dat      bool `json:"dat,omitempty"`
	NXcanSAS bool `json:"nxcansas,omitempty"`
}

// Curve is one curve of a result: what plot shows.
type Curve struct {
	// Q, I and Sigma are the bin centres, intensities and errors.
	Q     Floats `json:"q"`
	I     Floats `json:"i"`
	Sigma Floats `json:"sigma"`
	// I0, I1 and I2 are the integral parameters of the curve.
	I0 Float `json:"I0"`
	I1 Float `json:"I1"`
	I2 Float `json:"I2"`
}

// Params are the integral parameters of one curve (spec §3.3).
type Params struct {
	I0 Float `json:"I0"`
	I1 Float `json:"I1"`
	I2 Float `json:"I2"`
	// Slice marks an output without integral parameters, a GISAXS slice's
	// file: the head leaves it out of the live file list.
	Slice bool `json:"slice,omitempty"`
}

// Result is the outcome of a job: the JSON of a message on
// saxs.results.<queue id>.
type Result struct {
	// Job is the job's ID, Queue its queue id.
	Job   string `json:"job"`
	Queue string `json:"queue"`
	// Frame is the job's frame (relative to SERVERDIR).
	Frame string `json:"frame"`
	// Outputs are the files written, relative to SERVERDIR when below it
	// ("" for a curve not written).
	Outputs []string `json:"outputs"`
	// Curves are those of the frame (of a multi-frame file, its last
	// frame's).
	Curves []Curve `json:"curves,omitempty"`
	// Params are the integral parameters of the curve of each of Outputs
	// (of every frame of a multi-frame file), zero for a curve not
	// written; the head lists them in the live file list. Empty from a
	// worker that predates them.
	Params []Params `json:"params,omitempty"`
	// Skipped tells that the frame was not converted because its outputs
	// exist (the calibration's OverwriteFiles false); Outputs lists them,
	// Curves and Params are empty.
	Skipped bool `json:"skipped,omitempty"`
	// Slices are the GISAXS slices of the same frame, one per calibration
	// slice (without rows for a slice that is not computed); I0, I1 and I2
	// are 0.
	Slices []Curve `json:"slices,omitempty"`
	// Worker names the worker; Delivery is the delivery that succeeded.
	Worker   string    `json:"worker"`
	Delivery uint64    `json:"delivery"`
	Written  time.Time `json:"written"`
}

// DeadLetter is a job given up: the JSON of a message on
// saxs.dead.<queue id>.
type DeadLetter struct {
	// Job is the job, when its JSON could be read; Raw is the message
	// otherwise.
	Job *Job   `json:"job,omitempty"`
	Raw string `json:"raw,omitempty"`
	// Reason tells why; Deliveries how often it was tried.
	Reason     string `json:"reason"`
	Deliveries uint64 `json:"deliveries"`
	Worker     string `json:"worker,omitempty"`
}

// Path returns the frame of the dead letter, or "" when unknown.
func (d DeadLetter) Path() string {
	if d.Job != nil {
		return d.Job.Frame
	}
	return ""
}

// NewID returns a random identifier usable as a subject token.
func NewID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// queueOfSubject returns the last token of a subject.
func queueOfSubject(subject string) string {
	if i := strings.LastIndexByte(subject, '.'); i >= 0 {
		return subject[i+1:]
	}
	return subject
}

// validToken reports whether s can be a subject token or key.
func validToken(s string) bool {
	return s != "" && !strings.ContainsAny(s, ". *>\t\r\n")
}

// Setup creates or updates the streams, the bucket and the workers'
// consumer (the head does this; workers only look them up).
func Setup(ctx context.Context, js jetstream.JetStream, s Settings) error {
	s = s.withDefaults()
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: JobsStream, Subjects: []string{JobsPrefix + ">"}, Retention: jetstream.WorkQueuePolicy,
		Storage: jetstream.FileStorage, Description: "saxsdog frames to integrate",
	}); err != nil {
		return fmt.Errorf("cluster: jobs stream: %w", err)
	}
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: ResultsStream, Subjects: []string{ResultsPrefix + ">", DeadPrefix + ">"}, Retention: jetstream.LimitsPolicy,
		Storage: jetstream.FileStorage, MaxAge: ResultsMaxAge, MaxBytes: ResultsMaxBytes, Discard: jetstream.DiscardOld,
		Description: "saxsdog results and dead letters",
	}); err != nil {
		return fmt.Errorf("cluster: results stream: %w", err)
	}
	if _, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: CalBucket, History: calHistory, Storage: jetstream.FileStorage,
		Description: "saxsdog active calibrations and masks",
	}); err != nil {
		return fmt.Errorf("cluster: calibration bucket: %w", err)
	}
	if _, err := js.CreateOrUpdateConsumer(ctx, JobsStream, jetstream.ConsumerConfig{
		Durable: WorkersConsumer, AckPolicy: jetstream.AckExplicitPolicy, AckWait: s.AckWait,
		MaxDeliver: s.MaxDeliver, FilterSubject: JobsPrefix + ">", MaxAckPending: -1,
		Description: "saxsdog workers",
	}); err != nil {
		return fmt.Errorf("cluster: workers consumer: %w", err)
	}
	return nil
}

// ErrNotSetUp is returned by a worker that finds no jobs consumer (no
// head has run Setup yet).
var ErrNotSetUp = errors.New("cluster: no jobs consumer (start the head first)")
