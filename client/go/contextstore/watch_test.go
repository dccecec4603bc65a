package contextstore_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/contextstore/contextstore/client/go/contextstore"
	pb "github.com/contextstore/contextstore/client/go/gen/contextstore/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// watchFake serves Watch from a history of revisions 1..len(history) (each
// one FILE_CACHED event of the path history[i-1]): a stream sends a progress
// response at its start revision, then at most perStream of the changes after
// it that match its prefix, then ends with UNAVAILABLE (with OK when endOK).
// Stream i fails at once with fail[i] when that is not nil.
type watchFake struct {
	pb.UnimplementedContextStoreServiceServer
	history   []string
	perStream int
	endOK     bool
	fail      []error
	// hold keeps each stream open after what it sent, until its client goes.
	hold bool
	// tick, when set, runs at the start of every call.
	tick func()

	mu       sync.Mutex
	requests []*pb.WatchRequest
	deadline []bool // per stream: whether it had a deadline
	closed   chan struct{}
}

func (f *watchFake) Watch(r *pb.WatchRequest, stream grpc.ServerStreamingServer[pb.WatchResponse]) error {
	if f.tick != nil {
		f.tick()
	}
	f.mu.Lock()
	f.requests = append(f.requests, r)
	_, hasDeadline := stream.Context().Deadline()
	f.deadline = append(f.deadline, hasDeadline)
	var fail error
	if len(f.fail) > 0 {
		fail, f.fail = f.fail[0], f.fail[1:]
	}
	f.mu.Unlock()
	if fail != nil {
		return fail
	}
	start := r.GetStartRevision()
	if start == 0 {
		start = int64(len(f.history))
	}
	if err := stream.Send(&pb.WatchResponse{Revision: start, Progress: true}); err != nil {
		return err
	}
	sent := 0
	for rev := start + 1; rev <= int64(len(f.history)) && sent < f.perStream; rev++ {
		path := f.history[rev-1]
		if len(path) < len(r.GetPathPrefix()) || path[:len(r.GetPathPrefix())] != r.GetPathPrefix() {
			continue
		}
		event := &pb.WatchEvent{Kind: pb.WatchEventKind_WATCH_EVENT_KIND_FILE_CACHED, Path: path, Version: rev}
		if err := stream.Send(&pb.WatchResponse{Revision: rev, Events: []*pb.WatchEvent{event}}); err != nil {
			return err
		}
		sent++
	}
	if f.hold {
		<-stream.Context().Done()
		close(f.closed)
		return stream.Context().Err()
	}
	if f.endOK {
		return nil
	}
	return status.Error(codes.Unavailable, "stream over")
}

func (f *watchFake) sent() []*pb.WatchRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

// rawClient is a client over a connection without the client's service
// config, so that gRPC's own retry policy does not multiply the attempts the
// tests count.
func rawClient(t *testing.T, f *watchFake) *contextstore.Client {
	t.Helper()
	listener := serveFake(t, f)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return listener.DialContext(ctx) }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return contextstore.NewClientFromConn(conn, contextstore.WithTimeout(50*time.Millisecond))
}

// collect runs a watch until it has n event responses (progress skipped),
// or until it yields an error.
func collect(w func(func(contextstore.WatchResponse, error) bool), n int) ([]contextstore.WatchResponse, error) {
	var out []contextstore.WatchResponse
	var failed error
	w(func(r contextstore.WatchResponse, err error) bool {
		if err != nil {
			failed = err
			return false
		}
		if !r.Progress {
			out = append(out, r)
		}
		return len(out) < n
	})
	return out, failed
}

// A server that ends every stream after one change: the watch resumes from
// the last revision received each time, with the same session and prefix,
// and the caller sees every change once, in order. The calls have no
// deadline, although the client's default is 50 ms.
func TestWatchResumesFromTheLastRevision(t *testing.T) {
	f := &watchFake{history: []string{"a", "src/b", "c", "src/d", "src/e", "f"}, perStream: 1}
	client := rawClient(t, f)
	got, err := collect(client.Session("s").Watch(context.Background(),
		contextstore.WithStartRevision(1), contextstore.WithWatchPrefix("src/")), 3)
	if err != nil {
		t.Fatal(err)
	}
	var revisions []int64
	for _, r := range got {
		if len(r.Events) != 1 || r.Events[0].Kind != contextstore.EventFileCached || r.Events[0].Version != r.Revision {
			t.Fatalf("response %+v", r)
		}
		revisions = append(revisions, r.Revision)
	}
	if want := []int64{2, 4, 5}; !slices.Equal(revisions, want) {
		t.Fatalf("revisions = %v, want %v", revisions, want)
	}
	var starts []int64
	for _, r := range f.sent() {
		if r.GetSessionId() != "s" || r.GetPathPrefix() != "src/" {
			t.Fatalf("request %v", r)
		}
		starts = append(starts, r.GetStartRevision())
	}
	if want := []int64{1, 2, 4}; !slices.Equal(starts, want) {
		t.Fatalf("start revisions sent = %v, want %v", starts, want)
	}
	if slices.Contains(f.deadline, true) {
		t.Fatalf("a watch carried a deadline: %v", f.deadline)
	}
}

// A stream that ends with OK is resumed like a dropped one; so is one that
// failed before anything arrived, from the caller's start revision. Progress
// responses are yielded, the first at the start revision; from 0 ("now"),
// the resume starts from the revision that progress response gave.
func TestWatchResumesAfterOKAndEarlyFailures(t *testing.T) {
	f := &watchFake{history: []string{"a", "b", "c"}, perStream: 1, endOK: true,
		fail: []error{status.Error(codes.Unavailable, "down"), status.Error(codes.Unavailable, "down")}}
	client := rawClient(t, f)
	var seen []contextstore.WatchResponse
	for r, err := range client.Global().Watch(context.Background(), contextstore.WithStartRevision(1)) {
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, r)
		if len(seen) == 5 {
			break
		}
	}
	want := []contextstore.WatchResponse{{Revision: 1, Progress: true}, {Revision: 2}, {Revision: 2, Progress: true}, {Revision: 3}, {Revision: 3, Progress: true}}
	for i, r := range seen {
		if r.Revision != want[i].Revision || r.Progress != want[i].Progress {
			t.Fatalf("responses = %+v", seen)
		}
	}
	var starts []int64
	for _, r := range f.sent() {
		starts = append(starts, r.GetStartRevision())
		if r.SessionId != nil {
			t.Fatalf("global: session_id sent: %v", r)
		}
	}
	if want := []int64{1, 1, 1, 2, 3}; !slices.Equal(starts, want) {
		t.Fatalf("start revisions sent = %v, want %v", starts, want)
	}
}

// A server that stays down: the watch resumes until the (here tiny) resume
// timeout has passed since the first failure, then yields the UNAVAILABLE
// error and ends; every attempt from the caller's start revision.
func TestWatchGivesUpOnceTheResumeTimeoutHasPassed(t *testing.T) {
	down := status.Error(codes.Unavailable, "down")
	f := &watchFake{fail: slices.Repeat([]error{down}, 100)}
	client := rawClient(t, f)
	timeout := 300 * time.Millisecond
	began := time.Now()
	_, err := collect(client.Session("s").Watch(context.Background(),
		contextstore.WithStartRevision(7), contextstore.WithResumeTimeout(timeout)), 1)
	elapsed := time.Since(began)
	if !errors.Is(err, contextstore.ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
	sent := f.sent()
	if len(sent) < 2 || len(sent) > 10 {
		t.Fatalf("%d attempts, want a few (at once, then 100 ms, 200 ms...)", len(sent))
	}
	for _, r := range sent {
		if r.GetStartRevision() != 7 {
			t.Fatalf("start revision %d, want 7", r.GetStartRevision())
		}
	}
	if elapsed < timeout || elapsed > 5*time.Second {
		t.Fatalf("gave up after %v, want the resume timeout's %v", elapsed, timeout)
	}
}

// fakeClock is a clock that moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// A response resets the timeout. On a clock that moves 1 s at each call, with
// a 2.5 s timeout: 3 failed calls (2 s), one that receives, then drops (a new
// run of failures), 2 failed ones (2 s again), and one that receives: 5 s of
// failures in all, but never 2.5 s since a response, so the watch carries on.
func TestWatchResponsesResetTheResumeTimeout(t *testing.T) {
	down := status.Error(codes.Unavailable, "down")
	clock := &fakeClock{now: time.Unix(1000, 0)}
	f := &watchFake{history: []string{"a", "b", "c"}, perStream: 1,
		fail: []error{down, down, down, nil, down, down}, tick: func() { clock.advance(time.Second) }}
	client := rawClient(t, f)
	got, err := collect(client.Session("s").Watch(context.Background(), contextstore.WithStartRevision(1),
		contextstore.WithResumeTimeout(2500*time.Millisecond), contextstore.WithWatchClock(clock.Now)), 2)
	if err != nil || len(got) != 2 || got[0].Revision != 2 || got[1].Revision != 3 {
		t.Fatalf("got %+v, %v", got, err)
	}
	var starts []int64
	for _, r := range f.sent() {
		starts = append(starts, r.GetStartRevision())
	}
	if want := []int64{1, 1, 1, 1, 2, 2, 2}; !slices.Equal(starts, want) {
		t.Fatalf("start revisions sent = %v, want %v", starts, want)
	}

	// Without the response in the middle, the same clock gives up at the 4th call.
	f = &watchFake{history: []string{"a", "b", "c"}, perStream: 1,
		fail: []error{down, down, down, down, down, down, down}, tick: func() { clock.advance(time.Second) }}
	client = rawClient(t, f)
	_, err = collect(client.Session("s").Watch(context.Background(), contextstore.WithStartRevision(1),
		contextstore.WithResumeTimeout(2500*time.Millisecond), contextstore.WithWatchClock(clock.Now)), 2)
	if !errors.Is(err, contextstore.ErrUnavailable) || len(f.sent()) != 4 {
		t.Fatalf("err = %v after %d attempts, want UNAVAILABLE after 4", err, len(f.sent()))
	}
}

// Any other failure ends the watch at once, not resumed: a compacted start
// revision is a *RevisionCompactedError.
func TestWatchDoesNotResumeOtherFailures(t *testing.T) {
	f := &watchFake{fail: []error{compacted(t, map[string]string{"oldest_revision": "10", "current_revision": "42"})}}
	client := rawClient(t, f)
	_, err := collect(client.Session("s").Watch(context.Background(), contextstore.WithStartRevision(3)), 1)
	var rc *contextstore.RevisionCompactedError
	if !errors.As(err, &rc) || rc.OldestRevision != 10 || rc.CurrentRevision != 42 {
		t.Fatalf("err = %#v", err)
	}
	if n := len(f.sent()); n != 1 {
		t.Fatalf("%d attempts, want 1", n)
	}

	f = &watchFake{fail: []error{status.Error(codes.InvalidArgument, "start_revision")}}
	client = rawClient(t, f)
	_, err = collect(client.Session("s").Watch(context.Background(), contextstore.WithStartRevision(-1)), 1)
	if !errors.Is(err, contextstore.ErrInvalidArgument) || len(f.sent()) != 1 {
		t.Fatalf("err = %v after %d attempts", err, len(f.sent()))
	}
}

// Breaking out of the loop closes the stream; cancelling the context ends
// the loop with a CANCELLED error.
func TestWatchClosesOnBreakAndCancel(t *testing.T) {
	f := &watchFake{history: []string{"a"}, perStream: 1, hold: true, closed: make(chan struct{})}
	client := connectFake(t, serveFake(t, f))
	for range client.Session("s").Watch(context.Background()) {
		break
	}
	select {
	case <-f.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the stream is still open after break")
	}

	f.closed = make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var last error
	for r, err := range client.Session("s").Watch(ctx) {
		if err != nil {
			last = err
			continue
		}
		if r.Progress {
			cancel()
		}
	}
	if !errors.Is(last, context.Canceled) || status.Code(last) != codes.Canceled {
		t.Fatalf("after cancel: err = %v", last)
	}
}

func TestWatchEnumNames(t *testing.T) {
	for kind, name := range map[contextstore.WatchEventKind]string{
		contextstore.EventFileCached: "FILE_CACHED", contextstore.EventFileInvalidated: "FILE_INVALIDATED",
		contextstore.EventFileEvicted: "FILE_EVICTED", contextstore.EventAnalysisCached: "ANALYSIS_CACHED",
		contextstore.EventAnalysisRemoved: "ANALYSIS_REMOVED", contextstore.EventSessionCleared: "SESSION_CLEARED",
		contextstore.EventSessionExpired: "SESSION_EXPIRED", contextstore.EventUnspecified: "UNSPECIFIED",
		contextstore.WatchEventKind(99): "WatchEventKind(99)",
	} {
		if kind.String() != name {
			t.Errorf("%d: %q, want %q", int32(kind), kind.String(), name)
		}
	}
	for reason, name := range map[contextstore.RemovalReason]string{
		contextstore.ReasonStale: "STALE", contextstore.ReasonInvalidated: "INVALIDATED",
		contextstore.ReasonEvicted: "EVICTED", contextstore.ReasonUnspecified: "UNSPECIFIED",
	} {
		if reason.String() != name {
			t.Errorf("%d: %q, want %q", int32(reason), reason.String(), name)
		}
	}
}
