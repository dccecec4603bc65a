package contextstore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Sentinels to test a failed call's code with errors.Is:
//
//	if errors.Is(err, contextstore.ErrNotFound) { ... }
//
// Every error a method returns for a failed RPC is an *Error (a failed
// precondition is a *PreconditionFailedError wrapping one, a compacted Watch
// start a *RevisionCompactedError, so errors.As finds the *Error either
// way); errors.Is matches it against the sentinel of its
// code (and against context.Canceled or context.DeadlineExceeded for
// CANCELLED and DEADLINE_EXCEEDED).
var (
	ErrNotFound          error = &codeSentinel{codes.NotFound}
	ErrInvalidArgument   error = &codeSentinel{codes.InvalidArgument}
	ErrResourceExhausted error = &codeSentinel{codes.ResourceExhausted}
	ErrUnavailable       error = &codeSentinel{codes.Unavailable}
)

// ErrPreconditionFailed matches, with errors.Is, a compare-and-set write whose
// precondition (IfVersion, IfSHA256) did not hold: a *PreconditionFailedError.
var ErrPreconditionFailed = errors.New("contextstore: precondition failed")

// ErrRevisionCompacted matches, with errors.Is, a Watch whose start revision
// the server no longer retains: a *RevisionCompactedError.
var ErrRevisionCompacted = errors.New("contextstore: revision compacted")

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

// The google.rpc.ErrorInfo of a failed precondition (the contract's
// "Precondition failures"); errorDomain is the domain of every reason the
// contract gives (REVISION_COMPACTED too).
const (
	preconditionReason = "PRECONDITION_FAILED"
	errorDomain        = "contextstore.dev"
)

// PreconditionFailedError is a compare-and-set write (IfVersion, IfSHA256)
// refused because the file there did not match: status ABORTED, with the
// state the server found. Nothing was changed; re-read, then retry or give
// up (the same call fails the same way).
//
//	var pf *contextstore.PreconditionFailedError
//	if errors.As(err, &pf) {
//		fmt.Println(pf.Path, pf.CurrentVersion, pf.CurrentSHA256)
//	}
//
// It wraps the call's *Error (Err), so errors.As(err, &e) with an *Error,
// status.Code(err) and errors.Is(err, ErrPreconditionFailed) all work.
type PreconditionFailedError struct {
	// Path is the file whose precondition failed (in a batch, that item's).
	Path string
	// CurrentVersion is the version of the file there now; 0 when none is.
	CurrentVersion int64
	// CurrentSHA256 is the digest of that file's content; empty when none is.
	CurrentSHA256 []byte
	// Err is the failed call: code ABORTED, the server's message.
	Err *Error
}

func (e *PreconditionFailedError) Error() string {
	message := fmt.Sprintf("contextstore: precondition failed on %q (current version %d, sha256 %x)",
		e.Path, e.CurrentVersion, e.CurrentSHA256)
	if e.Err != nil && e.Err.Message != "" {
		message += ": " + e.Err.Message
	}
	return message
}

// Unwrap returns the call's *Error.
func (e *PreconditionFailedError) Unwrap() error { return e.Err }

// Is reports whether target is ErrPreconditionFailed (the code sentinels
// are matched through Unwrap).
func (e *PreconditionFailedError) Is(target error) bool { return target == ErrPreconditionFailed }

// GRPCStatus returns the original status (ABORTED, with its ErrorInfo).
func (e *PreconditionFailedError) GRPCStatus() *status.Status {
	if e.Err == nil {
		return status.New(codes.Aborted, e.Error())
	}
	return e.Err.GRPCStatus()
}

// preconditionOf decodes a failed precondition's ErrorInfo; nil when info is
// another error's. A value the server did not give (or gave malformed) is
// left zero: version 0, an empty digest.
func preconditionOf(e *Error, info *errdetails.ErrorInfo) *PreconditionFailedError {
	if e.Code != codes.Aborted || info.GetReason() != preconditionReason || info.GetDomain() != errorDomain {
		return nil
	}
	metadata := info.GetMetadata()
	pf := &PreconditionFailedError{Path: metadata["path"], Err: e}
	if v, err := strconv.ParseInt(metadata["current_version"], 10, 64); err == nil {
		pf.CurrentVersion = v
	}
	if digest, err := hex.DecodeString(metadata["current_sha256"]); err == nil && len(digest) > 0 {
		pf.CurrentSHA256 = digest
	}
	return pf
}

// FromError turns an error returned by a generated stub into an *Error
// carrying the status code and the BadRequest / QuotaFailure details, or,
// for a failed precondition (ABORTED with an ErrorInfo PRECONDITION_FAILED),
// a *PreconditionFailedError wrapping that *Error, or, for a compacted Watch
// start (OUT_OF_RANGE with an ErrorInfo REVISION_COMPACTED), a
// *RevisionCompactedError wrapping it. An error that carries no gRPC status
// (or nil) is returned unchanged.
func FromError(err error) error {
	if err == nil {
		return nil
	}
	var precondition *PreconditionFailedError
	if errors.As(err, &precondition) {
		return precondition
	}
	var compacted *RevisionCompactedError
	if errors.As(err, &compacted) {
		return compacted
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
	// The first ErrorInfo the contract gives a reason decides the type.
	var reasoned error
	for _, detail := range st.Details() {
		switch d := detail.(type) {
		case *errdetails.ErrorInfo:
			if reasoned != nil {
				break
			}
			if pf := preconditionOf(e, d); pf != nil {
				reasoned = pf
			} else if rc := compactedOf(e, d); rc != nil {
				reasoned = rc
			}
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
	if reasoned != nil {
		return reasoned
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
