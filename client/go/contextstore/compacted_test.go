package contextstore_test

import (
	"errors"
	"testing"

	"github.com/contextstore/contextstore/client/go/contextstore"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// compacted is the status the contract specifies for a start revision no
// longer retained, with the given ErrorInfo metadata.
func compacted(t *testing.T, metadata map[string]string) error {
	t.Helper()
	st, err := status.New(codes.OutOfRange, "revision 3 is compacted").WithDetails(&errdetails.ErrorInfo{
		Reason: "REVISION_COMPACTED", Domain: "contextstore.dev", Metadata: metadata,
	})
	if err != nil {
		t.Fatal(err)
	}
	return st.Err()
}

func TestFromErrorDecodesCompaction(t *testing.T) {
	err := contextstore.FromError(compacted(t, map[string]string{"oldest_revision": "1700000000000001", "current_revision": "1700000000000099"}))
	var rc *contextstore.RevisionCompactedError
	if !errors.As(err, &rc) || rc.OldestRevision != 1700000000000001 || rc.CurrentRevision != 1700000000000099 {
		t.Fatalf("err = %#v", err)
	}
	// The *Error hierarchy still holds, as for a failed precondition.
	var e *contextstore.Error
	if !errors.As(err, &e) || e.Code != codes.OutOfRange || rc.Err != e || e.Message != "revision 3 is compacted" {
		t.Fatalf("errors.As *Error: %#v", e)
	}
	if !errors.Is(err, contextstore.ErrRevisionCompacted) || errors.Is(err, contextstore.ErrPreconditionFailed) {
		t.Fatalf("errors.Is: %v", err)
	}
	var pf *contextstore.PreconditionFailedError
	if errors.As(err, &pf) {
		t.Fatal("a compaction is a *PreconditionFailedError")
	}
	if status.Code(err) != codes.OutOfRange || contextstore.FromError(err) != err || rc.Error() == "" {
		t.Fatalf("status.Code = %v, FromError idempotent: %v", status.Code(err), contextstore.FromError(err) == err)
	}

	// Missing or malformed revisions read 0.
	err = contextstore.FromError(compacted(t, map[string]string{"oldest_revision": "x"}))
	if !errors.As(err, &rc) || rc.OldestRevision != 0 || rc.CurrentRevision != 0 {
		t.Fatalf("malformed: %#v", err)
	}

	// OUT_OF_RANGE without that ErrorInfo, or that reason on another code,
	// is a plain *Error.
	other, _ := status.New(codes.OutOfRange, "x").WithDetails(&errdetails.ErrorInfo{Reason: "OTHER", Domain: "contextstore.dev"})
	aborted, _ := status.New(codes.Aborted, "x").WithDetails(&errdetails.ErrorInfo{Reason: "REVISION_COMPACTED", Domain: "contextstore.dev"})
	for _, plain := range []error{status.Error(codes.OutOfRange, "x"), other.Err(), aborted.Err()} {
		err := contextstore.FromError(plain)
		if errors.As(err, &rc) || errors.Is(err, contextstore.ErrRevisionCompacted) || !errors.As(err, &e) {
			t.Fatalf("%v: err = %#v", plain, err)
		}
	}
}
