package contextstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Sentinels to test a failed call's code with errors.Is:
//
//	if errors.Is(err, contextstore.ErrNotFound) { ... }
//
// Every error a method returns for a failed RPC is an *Error; errors.Is
// matches it against the sentinel of its code (and against context.Canceled
// or context.DeadlineExceeded for CANCELLED and DEADLINE_EXCEEDED).
var (
	ErrNotFound          error = &codeSentinel{codes.NotFound}
	ErrInvalidArgument   error = &codeSentinel{codes.InvalidArgument}
	ErrResourceExhausted error = &codeSentinel{codes.ResourceExhausted}
	ErrUnavailable       error = &codeSentinel{codes.Unavailable}
)

type codeSentinel struct{ code codes.Code }

func (s *codeSentinel) Error() string { return "contextstore: " + CodeName(s.code) }

// FieldViolation is one bad field of an INVALID_ARGUMENT reply
// (google.rpc.BadRequest), e.g. "path" or "files[3].path".
type FieldViolation struct {
	Field       string
	Description string
}

// QuotaViolation is one exceeded limit of a RESOURCE_EXHAUSTED reply
// (google.rpc.QuotaFailure), e.g. "session_bytes" or "max_message_bytes".
type QuotaViolation struct {
	Subject     string
	Description string
}

// Error is a failed call: its gRPC status code, message and the details the
// server attached.
type Error struct {
	Code    codes.Code
	Message string
	// FieldViolations name each bad field (INVALID_ARGUMENT).
	FieldViolations []FieldViolation
	// QuotaViolations name each exceeded limit (RESOURCE_EXHAUSTED).
	QuotaViolations []QuotaViolation

	status *status.Status
}

func (e *Error) Error() string {
	message := e.Message
	if message == "" { // the server's messages already name the violations
		var parts []string
		for _, v := range e.FieldViolations {
			parts = append(parts, v.Field+": "+v.Description)
		}
		for _, v := range e.QuotaViolations {
			parts = append(parts, v.Subject+": "+v.Description)
		}
		message = strings.Join(parts, "; ")
	}
	return fmt.Sprintf("contextstore: %s: %s", CodeName(e.Code), message)
}

// Is reports whether target is the sentinel of e's code.
func (e *Error) Is(target error) bool {
	if s, ok := target.(*codeSentinel); ok {
		return s.code == e.Code
	}
	switch target {
	case context.Canceled:
		return e.Code == codes.Canceled
	case context.DeadlineExceeded:
		return e.Code == codes.DeadlineExceeded
	}
	return false
}

// GRPCStatus returns the original status, so status.FromError and
// status.Code work on an *Error too.
func (e *Error) GRPCStatus() *status.Status {
	if e.status == nil {
		return status.New(e.Code, e.Message)
	}
	return e.status
}

// Fields lists the field of each field violation.
func (e *Error) Fields() []string {
	out := make([]string, len(e.FieldViolations))
	for i, v := range e.FieldViolations {
		out[i] = v.Field
	}
	return out
}

// QuotaSubjects lists the subject of each quota violation.
func (e *Error) QuotaSubjects() []string {
	out := make([]string, len(e.QuotaViolations))
	for i, v := range e.QuotaViolations {
		out[i] = v.Subject
	}
	return out
}

// FromError turns an error returned by a generated stub into an *Error
// carrying the status code and the BadRequest / QuotaFailure details. An error
// that carries no gRPC status (or nil) is returned unchanged.
func FromError(err error) error {
	if err == nil {
		return nil
	}
	var already *Error
	if errors.As(err, &already) {
		return already
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	e := &Error{Code: st.Code(), Message: st.Message(), status: st}
	for _, detail := range st.Details() {
		switch d := detail.(type) {
		case *errdetails.BadRequest:
			for _, v := range d.GetFieldViolations() {
				e.FieldViolations = append(e.FieldViolations, FieldViolation{v.GetField(), v.GetDescription()})
			}
		case *errdetails.QuotaFailure:
			for _, v := range d.GetViolations() {
				e.QuotaViolations = append(e.QuotaViolations, QuotaViolation{v.GetSubject(), v.GetDescription()})
			}
		}
	}
	return e
}

var codeNames = map[codes.Code]string{
	codes.OK:                 "OK",
	codes.Canceled:           "CANCELLED",
	codes.Unknown:            "UNKNOWN",
	codes.InvalidArgument:    "INVALID_ARGUMENT",
	codes.DeadlineExceeded:   "DEADLINE_EXCEEDED",
	codes.NotFound:           "NOT_FOUND",
	codes.AlreadyExists:      "ALREADY_EXISTS",
	codes.PermissionDenied:   "PERMISSION_DENIED",
	codes.ResourceExhausted:  "RESOURCE_EXHAUSTED",
	codes.FailedPrecondition: "FAILED_PRECONDITION",
	codes.Aborted:            "ABORTED",
	codes.OutOfRange:         "OUT_OF_RANGE",
	codes.Unimplemented:      "UNIMPLEMENTED",
	codes.Internal:           "INTERNAL",
	codes.Unavailable:        "UNAVAILABLE",
	codes.DataLoss:           "DATA_LOSS",
	codes.Unauthenticated:    "UNAUTHENTICATED",
}

// CodeName is the canonical name of a status code, as in google/rpc/code.proto
// ("NOT_FOUND", "INVALID_ARGUMENT", ...).
func CodeName(c codes.Code) string {
	if name, ok := codeNames[c]; ok {
		return name
	}
	return fmt.Sprintf("CODE(%d)", uint32(c))
}
