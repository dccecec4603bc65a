package main

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/contextstore/contextstore/client/go/contextstore"
	pb "github.com/contextstore/contextstore/client/go/gen/contextstore/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Watch sends a progress response at the start revision, then one change
// (a STALE analysis removal and a FILE_CACHED of "w", at start+1), then
// drops the stream, as the conformance server does. A negative start is
// compacted.
func (s *server) Watch(r *pb.WatchRequest, stream grpc.ServerStreamingServer[pb.WatchResponse]) error {
	start := r.GetStartRevision()
	if start < 0 {
		st, _ := status.New(codes.OutOfRange, "compacted").WithDetails(&errdetails.ErrorInfo{
			Reason: "REVISION_COMPACTED", Domain: "contextstore.dev",
			Metadata: map[string]string{"oldest_revision": "5", "current_revision": "9"},
		})
		return st.Err()
	}
	if err := stream.Send(&pb.WatchResponse{Revision: start, Progress: true}); err != nil {
		return err
	}
	events := []*pb.WatchEvent{
		{Kind: pb.WatchEventKind_WATCH_EVENT_KIND_ANALYSIS_REMOVED, Path: "w", AnalysisType: "ast",
			Reason: pb.RemovalReason_REMOVAL_REASON_STALE},
		{Kind: pb.WatchEventKind_WATCH_EVENT_KIND_FILE_CACHED, Path: "w", Sha256: []byte{0xff}, Version: start + 1},
	}
	if err := stream.Send(&pb.WatchResponse{Revision: start + 1, Events: events}); err != nil {
		return err
	}
	return status.Error(codes.Unavailable, "dropped")
}

// A watch after a step starts from that step's revision, resumes across the
// dropped streams, prints every event key, and skips progress; with
// responses 0 it returns [] after the first response. A compacted start's
// outcome carries both revisions; an after_step without a revision is a
// runner_error.
func TestWatchOperation(t *testing.T) {
	clients := poolOf(t, nil, nil, newServer())
	c := testCase{Name: "watch", Sessions: []string{"s"}, Steps: []step{
		{Op: "clear_session", Session: "s"},
		{Op: "watch", Session: "s", Args: json.RawMessage(`{"after_step": 0, "responses": 2}`)},
		{Op: "watch", Session: "s", Args: json.RawMessage(`{"start_revision": 3, "responses": 0}`)},
		{Op: "watch", Session: "s", Args: json.RawMessage(`{"start_revision": -1, "responses": 1}`)},
		{Op: "watch", Session: "s", Args: json.RawMessage(`{"after_step": 2, "responses": 1}`)},
		{Op: "watch", Session: "s", Args: json.RawMessage(`{"after_step": 9, "responses": 1}`)},
	}}
	line := runCase(clients, c)
	outcomes, _ := line["outcomes"].([]outcome)
	if len(outcomes) != 6 {
		t.Fatalf("line = %v", line)
	}
	event := func(revision int64) map[string]any {
		return map[string]any{"revision": revision, "events": []any{
			map[string]any{"kind": "ANALYSIS_REMOVED", "path": "w", "sha256": "", "version": int64(0), "analysis_type": "ast", "reason": "STALE"},
			map[string]any{"kind": "FILE_CACHED", "path": "w", "sha256": "/w==", "version": revision, "analysis_type": "", "reason": ""},
		}}
	}
	if want := []any{event(41), event(42)}; !reflect.DeepEqual(outcomes[1]["result"], want) {
		t.Fatalf("watch after_step 0 = %v,\nwant %v", outcomes[1], want)
	}
	if got, err := json.Marshal(outcomes[2]["result"]); err != nil || string(got) != "[]" {
		t.Fatalf("watch of 0 responses printed %s, %v", got, err)
	}
	failure, _ := outcomes[3]["error"].(map[string]any)
	if failure["code"] != "OUT_OF_RANGE" || failure["oldest_revision"] != int64(5) || failure["current_revision"] != int64(9) {
		t.Fatalf("compacted = %v", outcomes[3])
	}
	for _, i := range []int{4, 5} {
		if outcomes[i]["runner_error"] == nil {
			t.Fatalf("step %d = %v, want a runner_error", i, outcomes[i])
		}
	}
}

func TestWatchResponseOfProgressHasNoEvents(t *testing.T) {
	got, _ := json.Marshal(watchResponse(contextstore.WatchResponse{Revision: 7, Progress: true}))
	if string(got) != `{"events":[],"revision":7}` {
		t.Fatalf("printed %s", got)
	}
}
