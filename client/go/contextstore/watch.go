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

// WatchOption sets an optional setting of Watch: WithStartRevision,
// WithWatchPrefix and WithResumeTimeout. (ListOption's WithPathPrefix is
// another type: the listing's prefix is not the watch's.)
type WatchOption func(*watchSettings)

// watchSettings is what Watch's options set.
type watchSettings struct {
	startRevision int64
	pathPrefix    string
	resumeTimeout time.Duration
	now           func() time.Time // the clock of the resume timeout
}

// WithStartRevision watches from revision, exclusive: every change after it
// is replayed, then the live ones. Pass the last revision received, a
// Removed.Revision or a FilePage.Revision. 0 (the default) is from now.
func WithStartRevision(revision int64) WatchOption {
	return func(w *watchSettings) { w.startRevision = revision }
}

// WithWatchPrefix watches only the events whose path starts with prefix
// (session events always arrive); "" (the default) is every event.
func WithWatchPrefix(prefix string) WatchOption {
	return func(w *watchSettings) { w.pathPrefix = prefix }
}

// WithResumeTimeout sets how long Watch keeps resuming a dropped stream
// without receiving anything before it yields the UNAVAILABLE error:
// DefaultResumeTimeout (30 s) when not set. It counts from the first failure
// of a run of failures; a response received ends the run. 0 or less: never
// resume.
func WithResumeTimeout(timeout time.Duration) WatchOption {
	return func(w *watchSettings) { w.resumeTimeout = timeout }
}

// DefaultResumeTimeout is how long Watch keeps resuming without receiving
// anything, unless WithResumeTimeout says otherwise: long enough for a server
// to restart and the channel to reconnect (gRPC's reconnect backoff alone is
// about 1 s).
const DefaultResumeTimeout = 30 * time.Second

// Resuming a watch whose stream ended with UNAVAILABLE: the first retry of a
// run of failures goes at once, the next ones after 100 ms, doubling up to
// 2 s, none past the resume timeout.
const (
	watchInitialBackoff = 100 * time.Millisecond
	watchMaxBackoff     = 2 * time.Second
)

// resume is where a watch resumes from and how long it waits before trying
// again: the policy every client shares (the Python client's Resume).
type resume struct {
	revision     int64         // of the last response received; the start revision before any
	patience     time.Duration // the resume timeout
	failing      bool          // in a run of failures, which began at failingSince
	failingSince time.Time
	attempts     int // retries in the run
}

// received notes a response: the next stream starts after it, and the run
// of failures, if any, is over.
func (r *resume) received(revision int64) {
	r.revision = revision
	r.failing, r.attempts = false, 0
}

// backoff is the wait, at now, before resuming after err; false: give up
// and return err (not UNAVAILABLE, or the resume timeout has passed since
// the run of failures began).
func (r *resume) backoff(err error, now time.Time) (time.Duration, bool) {
	if status.Code(err) != codes.Unavailable {
		return 0, false
	}
	if !r.failing {
		r.failing, r.failingSince = true, now
	}
	left := r.patience - now.Sub(r.failingSince)
	if left <= 0 {
		return 0, false
	}
	r.attempts++
	// The first at once (a server ending a stream on purpose is up), then backing off.
	if r.attempts == 1 {
		return 0, true
	}
	delay := watchInitialBackoff << min(r.attempts-2, 5) // 3.2 s: past the maximum
	return min(delay, watchMaxBackoff, left), true
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
// doubling to 2 s, none past the resume timeout; once that (WithResumeTimeout,
// by default DefaultResumeTimeout: 30 s) has passed since the first failure
// with no response received since, it yields the last UNAVAILABLE error and
// ends. A stream ending without a status (the server never does so) is
// treated the same. Any other failure is yielded once, as the error of a zero
// WatchResponse, and ends the iteration: notably a *RevisionCompactedError
// when the start revision is older than the history the server keeps, which
// cannot be resumed.
func (s *Session) Watch(ctx context.Context, opts ...WatchOption) iter.Seq2[WatchResponse, error] {
	settings := watchSettings{resumeTimeout: DefaultResumeTimeout, now: time.Now}
	for _, opt := range opts {
		opt(&settings)
	}
	prefix := settings.pathPrefix
	return func(yield func(WatchResponse, error) bool) {
		// Cancelling it when the loop stops closes the stream.
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		state := resume{revision: settings.startRevision, patience: settings.resumeTimeout}
		for {
			err := s.watchOnce(ctx, state.revision, prefix, func(r WatchResponse) bool {
				state.received(r.Revision)
				return yield(r, nil)
			})
			switch {
			case errors.Is(err, errStopped):
				return
			case ctx.Err() != nil: // the caller's cancel or deadline, whatever the stream said
				yield(WatchResponse{}, contextError(ctx))
				return
			}
			wait, again := state.backoff(err, settings.now())
			if !again {
				yield(WatchResponse{}, err)
				return
			}
			if !sleep(ctx, wait) {
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
// when it ended with OK) or each returns false (errStopped).
func (s *Session) watchOnce(ctx context.Context, revision int64, prefix string,
	each func(WatchResponse) bool) error {
	req := &pb.WatchRequest{SessionId: s.id, StartRevision: revision, PathPrefix: prefix}
	stream, err := s.client.stub.Watch(ctx, req)
	if err != nil {
		return FromError(err)
	}
	for {
		r, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			// The contract never ends a watch with OK: resume as if dropped.
			return FromError(status.Error(codes.Unavailable, "the watch stream ended"))
		}
		if err != nil {
			return FromError(err)
		}
		if !each(watchResponseOf(r)) {
			return errStopped
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
