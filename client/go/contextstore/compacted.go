package contextstore

import (
	"fmt"
	"strconv"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The google.rpc.ErrorInfo reason of a Watch whose start revision is no
// longer retained (the contract's Watch comment), in errorDomain.
const compactedReason = "REVISION_COMPACTED"

// RevisionCompactedError is a Watch refused because its start revision is
// older than the history the server still keeps for the namespace: status
// OUT_OF_RANGE, with the oldest start revision still served and the
// namespace's current revision. Watch does not resume from it (the changes in
// between are gone): re-read (ListFilesPage gives a revision) and watch again
// from there.
//
//	var rc *contextstore.RevisionCompactedError
//	if errors.As(err, &rc) {
//		fmt.Println(rc.OldestRevision, rc.CurrentRevision)
//	}
//
// Like *PreconditionFailedError it wraps the call's *Error (Err), so
// errors.As(err, &e) with an *Error, status.Code(err) and errors.Is(err,
// ErrRevisionCompacted) all work.
type RevisionCompactedError struct {
	// OldestRevision is the oldest start revision the server still serves.
	OldestRevision int64
	// CurrentRevision is the namespace's revision when the call was refused.
	CurrentRevision int64
	// Err is the failed call: code OUT_OF_RANGE, the server's message.
	Err *Error
}

func (e *RevisionCompactedError) Error() string {
	message := fmt.Sprintf("contextstore: revision compacted (oldest retained %d, current %d)",
		e.OldestRevision, e.CurrentRevision)
	if e.Err != nil && e.Err.Message != "" {
		message += ": " + e.Err.Message
	}
	return message
}

// Unwrap returns the call's *Error.
func (e *RevisionCompactedError) Unwrap() error { return e.Err }

// Is reports whether target is ErrRevisionCompacted (the code sentinels are
// matched through Unwrap).
func (e *RevisionCompactedError) Is(target error) bool { return target == ErrRevisionCompacted }

// GRPCStatus returns the original status (OUT_OF_RANGE, with its ErrorInfo).
func (e *RevisionCompactedError) GRPCStatus() *status.Status {
	if e.Err == nil {
		return status.New(codes.OutOfRange, e.Error())
	}
	return e.Err.GRPCStatus()
}

// compactedOf decodes a compacted start revision's ErrorInfo; nil when info
// is another error's. A revision the server did not give (or gave malformed)
// is left 0.
func compactedOf(e *Error, info *errdetails.ErrorInfo) *RevisionCompactedError {
	if e.Code != codes.OutOfRange || info.GetReason() != compactedReason || info.GetDomain() != errorDomain {
		return nil
	}
	metadata := info.GetMetadata()
	rc := &RevisionCompactedError{Err: e}
	if v, err := strconv.ParseInt(metadata["oldest_revision"], 10, 64); err == nil {
		rc.OldestRevision = v
	}
	if v, err := strconv.ParseInt(metadata["current_revision"], 10, 64); err == nil {
		rc.CurrentRevision = v
	}
	return rc
}
