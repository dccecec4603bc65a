package contextstore

import (
	"context"
	"errors"
	"io"
	"iter"
	"time"

	pb "github.com/contextstore/contextstore/client/go/gen/contextstore/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// WatchOption sets an optional field of Watch: WithStartRevision and
// WithWatchPrefix. (ListOption's WithPathPrefix is another type: the
// listing's prefix is not the watch's.)
type WatchOption func(*pb.WatchRequest)

// WithStartRevision watches from revision, exclusive: every change after it
// is replayed, then the live ones. Pass the last revision received, a
// Removed.Revision or a FilePage.Revision. 0 (the default) is from now.
func WithStartRevision(revision int64) WatchOption {
	return func(r *pb.WatchRequest) { r.StartRevision = revision }
}

// WithWatchPrefix watches only the events whose path starts with prefix
// (session events always arrive); "" (the default) is every event.
func WithWatchPrefix(prefix string) WatchOption {
	return func(r *pb.WatchRequest) { r.PathPrefix = prefix }
}

// Resuming a watch whose stream ended with UNAVAILABLE: the first retry since
// the last response goes at once, the next ones after 100 ms, doubling up to
// 2 s; after watchAttempts attempts in a row that received nothing, Watch
// gives up with that UNAVAILABLE error.
const (
	watchAttempts       = 5
	watchInitialBackoff = 100 * time.Millisecond
	watchMaxBackoff     = 2 * time.Second
)

// watchBackoff is the wait before the retry-th retry since the last response
// (1 for the first).
func watchBackoff(retry int) time.Duration {
	if retry <= 1 {
		return 0
	}
	delay := watchInitialBackoff
	for i := 2; i < retry && delay < watchMaxBackoff; i++ {
		delay *= 2
	}
	return min(delay, watchMaxBackoff)
}

// Watch iterates over the changes of this namespace, one WatchResponse per
// revision, in revision order, none skipped: the events of one atomic change
// (a call, a batch, a clear), or a progress response (Progress set, no
// events), which says the watcher is up to date with its revision. The first
// response is always a progress one, at the revision the stream starts from.
//
//	for r, err := range agent.Watch(ctx, contextstore.WithStartRevision(page.Revision)) {
//		if err != nil {
//			return err // *RevisionCompactedError: re-read, then watch again
//		}
//		for _, e := range r.Events {
//			fmt.Println(r.Revision, e.Kind, e.Path)
//		}
//	}
//
// It runs until ctx is cancelled (the error of that is yielded, matching
// context.Canceled or context.DeadlineExceeded with errors.Is) or the loop
// breaks, either of which closes the stream. It takes no default deadline: a
// watch is long-lived.
//
// Resume: when the stream ends with UNAVAILABLE (the server dropped it, is
// restarting or ended a long stream on purpose, the connection was lost), the
// iterator opens a new one from the last revision received (the caller's
// start revision if none was), with the same prefix, and carries on: no gap,
// no duplicate. The first retry goes at once, the next ones after 100 ms
// doubling to 2 s; after 5 attempts in a row that received nothing it yields
// the UNAVAILABLE error and ends. A stream ending without a status (the server
// never does so) is treated the same. Any other failure is yielded once, as
// the error of a zero WatchResponse, and ends the iteration: notably a
// *RevisionCompactedError when the start revision is older than the history
// the server keeps, which cannot be resumed.
func (s *Session) Watch(ctx context.Context, opts ...WatchOption) iter.Seq2[WatchResponse, error] {
	req := &pb.WatchRequest{}
	for _, opt := range opts {
		opt(req)
	}
	start, prefix := req.GetStartRevision(), req.GetPathPrefix()
	return func(yield func(WatchResponse, error) bool) {
		// Cancelling it when the loop stops closes the stream.
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		revision := start
		empty := 0 // attempts in a row that received nothing
		retry := 0 // retries since the last response
		for {
			received, err := s.watchOnce(ctx, revision, prefix, func(r WatchResponse) bool {
				revision = r.Revision
				return yield(r, nil)
			})
			switch {
			case errors.Is(err, errStopped):
				return
			case ctx.Err() != nil: // the caller's cancel or deadline, whatever the stream said
				yield(WatchResponse{}, contextError(ctx))
				return
			case status.Code(err) != codes.Unavailable:
				yield(WatchResponse{}, err)
				return
			}
			if received {
				empty, retry = 0, 0
			} else if empty++; empty >= watchAttempts {
				yield(WatchResponse{}, err)
				return
			}
			retry++
			if !sleep(ctx, watchBackoff(retry)) {
				yield(WatchResponse{}, contextError(ctx))
				return
			}
		}
	}
}

// errStopped is watchOnce's end when the caller's loop stopped.
var errStopped = errors.New("stopped")

// watchOnce runs one Watch stream from revision, handing each response to
// each, until the stream fails (its error, through FromError; UNAVAILABLE
// when it ended with OK) or each returns false (errStopped). received says
// whether any response arrived.
func (s *Session) watchOnce(ctx context.Context, revision int64, prefix string,
	each func(WatchResponse) bool) (received bool, err error) {
	req := &pb.WatchRequest{SessionId: s.id, StartRevision: revision, PathPrefix: prefix}
	stream, err := s.client.stub.Watch(ctx, req)
	if err != nil {
		return false, FromError(err)
	}
	for {
		r, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			// The contract never ends a watch with OK: resume as if dropped.
			return received, FromError(status.Error(codes.Unavailable, "the watch stream ended"))
		}
		if err != nil {
			return received, FromError(err)
		}
		received = true
		if !each(watchResponseOf(r)) {
			return true, errStopped
		}
	}
}

// sleep waits d; false when ctx was done first.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// contextError is ctx's error as an *Error (CANCELLED or DEADLINE_EXCEEDED),
// like the one a call cut short by it returns.
func contextError(ctx context.Context) error {
	return FromError(status.FromContextError(ctx.Err()).Err())
}
