package contextstore_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/contextstore/contextstore/client/go/contextstore"
	pb "github.com/contextstore/contextstore/client/go/gen/contextstore/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"
)

// fake records what it receives and answers from a tiny in-memory map.
type fake struct {
	pb.UnimplementedContextStoreServiceServer
	mu        sync.Mutex
	sessions  []*string // session_id of each request, nil when absent
	deadlines []time.Duration
	files     map[string][]byte
	rpcs      []string // each method called, in order
	// unavailable makes the next calls of a method fail with UNAVAILABLE.
	unavailable map[string]int
}

// answer records a call of method and fails it while unavailable says so.
func (f *fake) answer(method string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rpcs = append(f.rpcs, method)
	if f.unavailable[method] > 0 {
		f.unavailable[method]--
		return status.Error(codes.Unavailable, "try again")
	}
	return nil
}

func (f *fake) record(ctx context.Context, session *string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sessions = append(f.sessions, session)
	if d, ok := ctx.Deadline(); ok {
		f.deadlines = append(f.deadlines, time.Until(d))
	} else {
		f.deadlines = append(f.deadlines, 0)
	}
}

func key(session *string, path string) string {
	if session == nil {
		return "\x00" + path
	}
	return *session + "\x00" + path
}

func (f *fake) CacheFile(ctx context.Context, r *pb.CacheFileRequest) (*pb.CacheFileResponse, error) {
	f.record(ctx, r.SessionId)
	if err := f.answer("CacheFile"); err != nil {
		return nil, err
	}
	if r.GetPath() == "" {
		st, _ := status.New(codes.InvalidArgument, "bad request").WithDetails(&errdetails.BadRequest{
			FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "path", Description: "must not be empty"}},
		})
		return nil, st.Err()
	}
	if len(r.GetContent()) > 8 {
		st, _ := status.New(codes.ResourceExhausted, "too big").WithDetails(&errdetails.QuotaFailure{
			Violations: []*errdetails.QuotaFailure_Violation{{Subject: "session_bytes", Description: "over budget"}},
		})
		return nil, st.Err()
	}
	f.mu.Lock()
	f.files[key(r.SessionId, r.GetPath())] = r.GetContent()
	f.mu.Unlock()
	return &pb.CacheFileResponse{Metadata: &pb.FileMetadata{Path: r.GetPath(), Size: int64(len(r.GetContent())), Labels: r.GetLabels(), Mtime: r.GetMtime()}}, nil
}

func (f *fake) GetFile(ctx context.Context, r *pb.GetFileRequest) (*pb.GetFileResponse, error) {
	f.record(ctx, r.SessionId)
	f.mu.Lock()
	content, ok := f.files[key(r.SessionId, r.GetPath())]
	f.mu.Unlock()
	if !ok {
		return nil, status.Error(codes.NotFound, "no such file")
	}
	return &pb.GetFileResponse{Content: content, Metadata: &pb.FileMetadata{Path: r.GetPath()}}, nil
}

func (f *fake) BatchGetFiles(ctx context.Context, r *pb.BatchGetFilesRequest) (*pb.BatchGetFilesResponse, error) {
	f.record(ctx, r.SessionId)
	out := &pb.BatchGetFilesResponse{}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range r.GetPaths() {
		content, ok := f.files[key(r.SessionId, p)]
		res := &pb.FileResult{Path: p, Found: ok}
		if ok {
			res.Content, res.Metadata = content, &pb.FileMetadata{Path: p}
		}
		out.Files = append(out.Files, res)
	}
	return out, nil
}

func (f *fake) GetStats(ctx context.Context, r *pb.GetStatsRequest) (*pb.GetStatsResponse, error) {
	f.record(ctx, r.SessionId)
	if err := f.answer("GetStats"); err != nil {
		return nil, err
	}
	return &pb.GetStatsResponse{Files: 1}, nil
}

func (f *fake) GetStoreStats(ctx context.Context, _ *pb.GetStoreStatsRequest) (*pb.GetStoreStatsResponse, error) {
	if err := f.answer("GetStoreStats"); err != nil {
		return nil, err
	}
	return &pb.GetStoreStatsResponse{Files: 7, Bytes: 100, Sessions: 3, Expirations: 2, HeldBytes: 60}, nil
}

func (f *fake) ClearSession(ctx context.Context, r *pb.ClearSessionRequest) (*pb.ClearSessionResponse, error) {
	f.record(ctx, r.SessionId)
	if err := f.answer("ClearSession"); err != nil {
		return nil, err
	}
	return &pb.ClearSessionResponse{FilesRemoved: 2, AnalysesRemoved: 1, Revision: 77}, nil
}

// GetServerInfo answers every field of Limits with a distinct non-zero value.
func (f *fake) GetServerInfo(ctx context.Context, _ *pb.GetServerInfoRequest) (*pb.GetServerInfoResponse, error) {
	if err := f.answer("GetServerInfo"); err != nil {
		return nil, err
	}
	limits := &pb.Limits{
		SessionTtl:            durationpb.New(90 * time.Minute),
		ReceiveTimeout:        durationpb.New(7500 * time.Millisecond),
		WatchProgressInterval: durationpb.New(2 * time.Second),
	}
	fields := limits.ProtoReflect().Descriptor().Fields()
	for i := range fields.Len() {
		if fields.Get(i).Kind() == protoreflect.Int64Kind {
			limits.ProtoReflect().Set(fields.Get(i), protoreflect.ValueOfInt64(int64(100+i)))
		}
	}
	return &pb.GetServerInfoResponse{
		Version: "0.2.0", Backend: "memory", Limits: limits,
		BackendProperties: map[string]string{"stripes": "64"},
	}, nil
}

// serve starts a fake server on an in-memory listener.
func serve(t *testing.T) (*fake, *bufconn.Listener) {
	t.Helper()
	f := &fake{files: map[string][]byte{}, unavailable: map[string]int{}}
	return f, serveFake(t, f)
}

func start(t *testing.T, opts ...contextstore.Option) (*contextstore.Client, *fake) {
	t.Helper()
	f, listener := serve(t)
	return connectFake(t, listener, opts...), f
}

func TestRoundTripAndNamespaces(t *testing.T) {
	client, f := start(t)
	ctx := context.Background()
	agent := client.Session("agent-42")
	mtime := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	meta, err := agent.CacheFile(ctx, "a.py", []byte("hello"), contextstore.WithLabels(map[string]string{"lang": "py"}), contextstore.WithMtime(mtime))
	if err != nil {
		t.Fatal(err)
	}
	if meta.Size != 5 || meta.Labels["lang"] != "py" || !meta.Mtime.Equal(mtime) {
		t.Fatalf("unexpected metadata %+v", meta)
	}
	file, err := agent.GetFile(ctx, "a.py")
	if err != nil || string(file.Content) != "hello" {
		t.Fatalf("GetFile = %v, %v", file, err)
	}
	// The global namespace is another namespace: a miss there.
	if _, err := client.Global().GetFile(ctx, "a.py"); !errors.Is(err, contextstore.ErrNotFound) {
		t.Fatalf("global GetFile error = %v, want ErrNotFound", err)
	}
	if len(f.sessions) != 3 || *f.sessions[0] != "agent-42" || f.sessions[2] != nil {
		t.Fatalf("session ids sent: %v", f.sessions)
	}
}

func TestStatsScopes(t *testing.T) {
	client, f := start(t)
	ctx := context.Background()
	// A handle's Stats is its namespace: session_id absent for the global
	// namespace, as in every other call.
	mine, err := client.Global().Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// A namespace's stats carry no held_bytes: HeldBytes is 0.
	if *mine != (contextstore.Stats{Files: 1}) {
		t.Fatalf("stats = %+v", mine)
	}
	if _, err := client.Session("s").Stats(ctx); err != nil {
		t.Fatal(err)
	}
	if f.sessions[0] != nil || f.sessions[1] == nil || *f.sessions[1] != "s" {
		t.Fatalf("session ids sent: %v", f.sessions)
	}
	// StoreStats is the whole store, from the client or any handle.
	for _, storeStats := range []func(context.Context) (*contextstore.Stats, error){
		client.StoreStats, client.Session("s").StoreStats, client.Global().StoreStats,
	} {
		stats, err := storeStats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := contextstore.Stats{Files: 7, Bytes: 100, Sessions: 3, Expirations: 2, HeldBytes: 60}
		if *stats != want {
			t.Fatalf("store stats = %+v", stats)
		}
	}
	want := []string{"GetStats", "GetStats", "GetStoreStats", "GetStoreStats", "GetStoreStats"}
	if !slices.Equal(f.rpcs, want) {
		t.Fatalf("rpcs = %v, want %v", f.rpcs, want)
	}
}

func TestClearSession(t *testing.T) {
	client, f := start(t)
	removed, err := client.Session("s").ClearSession(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if removed != (contextstore.Removed{Files: 2, Analyses: 1, Revision: 77}) {
		t.Fatalf("removed = %+v", removed)
	}
	if _, err := client.Global().ClearSession(context.Background()); err != nil {
		t.Fatal(err)
	}
	if *f.sessions[0] != "s" || f.sessions[1] != nil {
		t.Fatalf("session ids sent: %v", f.sessions)
	}
}

func TestServerInfo(t *testing.T) {
	client, _ := start(t)
	info, err := client.ServerInfo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.Version != "0.2.0" || info.Backend != "memory" || info.BackendProperties["stripes"] != "64" {
		t.Fatalf("info = %+v", info)
	}
	if info.Limits.SessionTTL != 90*time.Minute {
		t.Fatalf("session ttl = %v", info.Limits.SessionTTL)
	}
	if info.Limits.ReceiveTimeout != 7500*time.Millisecond {
		t.Fatalf("receive timeout = %v", info.Limits.ReceiveTimeout)
	}
	if info.Limits.WatchProgressInterval != 2*time.Second {
		t.Fatalf("watch progress interval = %v", info.Limits.WatchProgressInterval)
	}
	// Every limit of the contract reaches Limits: the fake sets each one.
	limits := reflect.ValueOf(info.Limits)
	if got, want := limits.NumField(), (&pb.Limits{}).ProtoReflect().Descriptor().Fields().Len(); got != want {
		t.Fatalf("Limits has %d fields, the contract %d", got, want)
	}
	for i := range limits.NumField() {
		if limits.Field(i).IsZero() {
			t.Errorf("Limits.%s is not filled", limits.Type().Field(i).Name)
		}
	}
	fromSession, err := client.Session("s").ServerInfo(context.Background())
	if err != nil || !reflect.DeepEqual(fromSession, info) {
		t.Fatalf("Session.ServerInfo = %+v, %v", fromSession, err)
	}
}

// Reads (NO_SIDE_EFFECTS in the contract) are retried on UNAVAILABLE; writes are not.
func TestRetriesReadsOnly(t *testing.T) {
	client, f := start(t)
	ctx := context.Background()
	f.unavailable["GetStats"] = 2
	if _, err := client.Session("s").Stats(ctx); err != nil {
		t.Fatalf("Stats after two UNAVAILABLE: %v", err)
	}
	f.unavailable["CacheFile"] = 1
	if _, err := client.Session("s").CacheFile(ctx, "a", nil); !errors.Is(err, contextstore.ErrUnavailable) {
		t.Fatalf("CacheFile error = %v, want ErrUnavailable", err)
	}
	want := []string{"GetStats", "GetStats", "GetStats", "CacheFile"}
	if !slices.Equal(f.rpcs, want) {
		t.Fatalf("rpcs = %v, want %v", f.rpcs, want)
	}
}

func TestMissIsErrNotFound(t *testing.T) {
	client, _ := start(t)
	_, err := client.Session("s").GetFile(context.Background(), "missing")
	if !errors.Is(err, contextstore.ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	var e *contextstore.Error
	if !errors.As(err, &e) || e.Code != codes.NotFound || status.Code(err) != codes.NotFound {
		t.Fatalf("err = %#v", err)
	}
}

func TestErrorDetails(t *testing.T) {
	client, _ := start(t)
	s := client.Session("s")
	_, err := s.CacheFile(context.Background(), "", nil)
	var e *contextstore.Error
	if !errors.As(err, &e) || !errors.Is(err, contextstore.ErrInvalidArgument) {
		t.Fatalf("err = %v", err)
	}
	if !slices.Equal(e.Fields(), []string{"path"}) || e.FieldViolations[0].Description == "" {
		t.Fatalf("violations = %+v", e.FieldViolations)
	}
	_, err = s.CacheFile(context.Background(), "big", []byte("0123456789"))
	if !errors.As(err, &e) || !errors.Is(err, contextstore.ErrResourceExhausted) {
		t.Fatalf("err = %v", err)
	}
	if !slices.Equal(e.QuotaSubjects(), []string{"session_bytes"}) {
		t.Fatalf("quota = %+v", e.QuotaViolations)
	}
}

func TestDefaultDeadline(t *testing.T) {
	client, f := start(t, contextstore.WithTimeout(3*time.Second))
	ctx := context.Background()
	_, _ = client.Global().GetFile(ctx, "x")
	_, _ = client.Stub().GetFile(ctx, &pb.GetFileRequest{Path: "x"}) // raw stub: the interceptor's
	short, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_, _ = client.Global().GetFile(short, "x")
	for i, want := range []time.Duration{3 * time.Second, 3 * time.Second, time.Second} {
		got := f.deadlines[i]
		if got <= 0 || got > want || got < want-time.Second/2 {
			t.Errorf("call %d: deadline in %v, want about %v", i, got, want)
		}
	}
}

func TestBatchGetFilesFound(t *testing.T) {
	client, _ := start(t)
	ctx := context.Background()
	s := client.Session("s")
	if _, err := s.CacheFile(ctx, "a", []byte("A")); err != nil {
		t.Fatal(err)
	}
	results, err := s.BatchGetFiles(ctx, []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 2 || !results[0].Found || string(results[0].Content) != "A" || results[1].Found || results[1].Path != "b" {
		t.Fatalf("results = %+v", results)
	}
}
