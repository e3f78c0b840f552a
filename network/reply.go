package network

import (
	"io"
	"log"

	"github.com/saxsdog/saxs/internal/pyjson"
)

// Obj is a JSON object under construction.
type Obj = map[string]any

// The result strings of the saxsdog 2.0 server (spec §9.4, §9.7).
const (
	ResultNewQueue       = "new queue"
	ResultAborted        = "queue aborted"
	ResultClosed         = "queue closed"
	ResultRestarted      = "queue restarted with all files"
	ResultPlot           = "plot"
	ResultStat           = "stat"
	ResultCal            = "cal"
	ResultNoQueue        = "no queue"
	ResultListdir        = "listdir"
	ResultFileslist      = "resultfileslists"
	ResultEmpty          = "Empty"
	ResultError          = "Error"
	ResultValueError     = "ValueError in request"
	ResultValidation     = "ValidationError in request"
	ResultAuthError      = "AuthenticationError"
	ResultServerError    = "ServerError"
	ResultNotImplemented = "ErrorNotimplemented"
	ResultOSError        = "OSError"
)

// NewReply returns {"result": result, "data": data}.
func NewReply(result string, data Obj) Obj {
	if data == nil {
		data = Obj{}
	}
	return Obj{"result": result, "data": data}
}

// ErrorReply returns {"result": result, "data": {"Error": msg}}.
func ErrorReply(result, msg string) Obj {
	return NewReply(result, Obj{"Error": msg})
}

// ServerError returns the reply to an unexpected failure.
func ServerError(msg string) Obj { return ErrorReply(ResultServerError, msg) }

// mustReply encodes a reply; a value that cannot be encoded gives a
// ServerError reply instead.
func mustReply(r Obj) []byte {
	b, err := pyjson.Marshal(r)
	if err != nil {
		b, _ = pyjson.Marshal(ServerError("encoding the reply: " + err.Error()))
	}
	return b
}

func discardLogger() *log.Logger { return log.New(io.Discard, "", 0) }
