package main

import (
	"context"
	"encoding/json"
	"maps"
	"net"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/contextstore/contextstore/client/go/contextstore"
	pb "github.com/contextstore/contextstore/client/go/gen/contextstore/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	grpcmetadata "google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
)

// server is a tiny in-memory server: files by path (one namespace is enough),
// the number of ClearSession calls it got and the authorization header of
// each call ("" when absent).
type server struct {
	pb.UnimplementedContextStoreServiceServer
	mu     sync.Mutex
	files  map[string][]byte
	clears int
	tokens []string
}

func (s *server) record(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	md, _ := grpcmetadata.FromIncomingContext(ctx)
	s.mu.Lock()
	s.tokens = append(s.tokens, strings.Join(md.Get("authorization"), ","))
	s.mu.Unlock()
	return handler(ctx, req)
}

func (s *server) CacheFile(_ context.Context, r *pb.CacheFileRequest) (*pb.CacheFileResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[r.GetPath()] = r.GetContent()
	return &pb.CacheFileResponse{Metadata: &pb.FileMetadata{Path: r.GetPath()}}, nil
}

func (s *server) GetFile(_ context.Context, r *pb.GetFileRequest) (*pb.GetFileResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	content, ok := s.files[r.GetPath()]
	if !ok {
		return nil, status.Error(codes.NotFound, "no such file")
	}
	return &pb.GetFileResponse{Content: content, Metadata: &pb.FileMetadata{Path: r.GetPath()}}, nil
}

func (s *server) ClearSession(context.Context, *pb.ClearSessionRequest) (*pb.ClearSessionResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clears++
	s.files = map[string][]byte{}
	return &pb.ClearSessionResponse{Revision: 40}, nil
}

// ListFiles pages through the paths in order, the token being the last path
// of the page.
func (s *server) ListFiles(_ context.Context, r *pb.ListFilesRequest) (*pb.ListFilesResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	size := int(r.GetPageSize())
	if size == 0 {
		size = 100
	}
	out := &pb.ListFilesResponse{}
	for _, p := range slices.Sorted(maps.Keys(s.files)) {
		if !strings.HasPrefix(p, r.GetPathPrefix()) || p <= r.GetPageToken() {
			continue
		}
		if len(out.Files) == size {
			out.NextPageToken = out.Files[size-1].Path
			break
		}
		out.Files = append(out.Files, &pb.FileMetadata{Path: p, Size: int64(len(s.files[p]))})
	}
	return out, nil
}

func (s *server) InvalidatePrefix(_ context.Context, r *pb.InvalidatePrefixRequest) (*pb.InvalidatePrefixResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := &pb.InvalidatePrefixResponse{}
	for p := range s.files {
		if strings.HasPrefix(p, r.GetPathPrefix()) {
			delete(s.files, p)
			out.FilesRemoved++
		}
	}
	return out, nil
}

// poolOf returns a runner pool over in-memory servers, the target
// "passthrough:///N" being servers[N], as if given by --target.
func poolOf(t *testing.T, named identities, token *string, servers ...*server) *pool {
	t.Helper()
	listeners := map[string]*bufconn.Listener{}
	var targets []string
	for i, s := range servers {
		listener := bufconn.Listen(1 << 20)
		g := grpc.NewServer(grpc.UnaryInterceptor(s.record))
		pb.RegisterContextStoreServiceServer(g, s)
		go func() { _ = g.Serve(listener) }()
		t.Cleanup(g.Stop)
		address := strconv.Itoa(i)
		listeners[address] = listener
		targets = append(targets, "passthrough:///"+address)
	}
	dialer := grpc.WithContextDialer(func(ctx context.Context, address string) (net.Conn, error) {
		return listeners[address].DialContext(ctx)
	})
	p := newPool(targets, []contextstore.Option{contextstore.WithDialOptions(dialer)}, named)
	p.defaultToken = token
	t.Cleanup(p.close)
	return p
}

func newServer() *server { return &server{files: map[string][]byte{}} }

// With two clients (two --target), step k goes to client k mod 2: a file
// cached through the first is a miss through the second, found again through
// the first; only the first clears.
func TestStepsAlternateOverTheClients(t *testing.T) {
	first, second := newServer(), newServer()
	clients := poolOf(t, nil, nil, first, second)
	c := testCase{Name: "alternate", Sessions: []string{"s", ""}, Steps: []step{
		{Op: "cache_file", Session: "s", Args: json.RawMessage(`{"path": "a", "content": "aGk="}`)},
		{Op: "get_file", Session: "s", Args: json.RawMessage(`{"path": "a"}`)},
		{Op: "get_file", Session: "s", Args: json.RawMessage(`{"path": "a"}`)},
	}}
	line := runCase(clients, c)
	outcomes, _ := line["outcomes"].([]outcome)
	if len(outcomes) != 3 || outcomes[0]["result"] == nil || outcomes[1]["miss"] != true || outcomes[2]["result"] == nil {
		t.Fatalf("outcomes = %v, want result, miss, result", line)
	}
	if first.clears != 2 || second.clears != 0 {
		t.Fatalf("clears: %d on the first, %d on the second; want 2 and 0", first.clears, second.clears)
	}
}

// An "as" step runs on its identity's client (same target choice: k mod n),
// sending that identity's token; the others, and the setup clears, send
// --token. An unknown identity is a runner_error. Clients are made once per
// (target, identity).
func TestAsStepsSendTheirIdentitysToken(t *testing.T) {
	t.Setenv(contextstore.TokenEnv, "from-env")
	first, second := newServer(), newServer()
	defaultToken := "default-token"
	p := poolOf(t, identities{"reader": "reader-token"}, &defaultToken, first, second)
	c := testCase{Name: "as", Sessions: []string{"s"}, Steps: []step{
		{Op: "cache_file", Session: "s", Args: json.RawMessage(`{"path": "a", "content": "aGk="}`)},
		{Op: "get_file", Session: "s", As: "reader", Args: json.RawMessage(`{"path": "a"}`)},
		{Op: "get_file", Session: "s", As: "reader", Args: json.RawMessage(`{"path": "a"}`)},
		{Op: "get_file", Session: "s", As: "stranger", Args: json.RawMessage(`{"path": "a"}`)},
	}}
	for range 2 {
		line := runCase(p, c)
		outcomes, _ := line["outcomes"].([]outcome)
		if len(outcomes) != 4 || outcomes[2]["result"] == nil || outcomes[3]["runner_error"] == nil {
			t.Fatalf("outcomes = %v, want the third a result and the fourth a runner_error", line)
		}
	}
	d, r := "Bearer default-token", "Bearer reader-token"
	if want := []string{d, d, r, d, d, r}; !slices.Equal(first.tokens, want) {
		t.Fatalf("the first server saw %q, want %q", first.tokens, want)
	}
	if want := []string{r, r}; !slices.Equal(second.tokens, want) {
		t.Fatalf("the second server saw %q, want %q", second.tokens, want)
	}
	if len(p.clients) != 3 {
		t.Fatalf("%d clients made, want 3: (first, default), (first, reader), (second, reader)", len(p.clients))
	}
}

// Without --token the default clients send $CONTEXTSTORE_TOKEN.
func TestDefaultTokenIsTheEnvironments(t *testing.T) {
	t.Setenv(contextstore.TokenEnv, "from-env")
	s := newServer()
	runCase(poolOf(t, nil, nil, s), testCase{Name: "env", Sessions: []string{"s"}})
	if !slices.Equal(s.tokens, []string{"Bearer from-env"}) {
		t.Fatalf("the server saw %q", s.tokens)
	}
}

func TestIdentityFlag(t *testing.T) {
	named := identities{}
	for _, v := range []string{"reader=r", "writer=w=x"} {
		if err := named.Set(v); err != nil {
			t.Fatal(err)
		}
	}
	if len(named) != 2 || named["reader"] != "r" || named["writer"] != "w=x" {
		t.Fatalf("identities = %v", named)
	}
	for _, bad := range []string{"reader=again", "=t", "nameonly", "empty="} {
		if err := named.Set(bad); err == nil {
			t.Errorf("--identity %q was accepted", bad)
		}
	}
}

func TestTargetFlagRepeats(t *testing.T) {
	var ts targets
	for _, v := range []string{"a:1,b:2", "c:3"} {
		if err := ts.Set(v); err != nil {
			t.Fatal(err)
		}
	}
	if len(ts) != 2 || ts[0] != "a:1,b:2" || ts[1] != "c:3" {
		t.Fatalf("targets = %q", ts)
	}
	if err := ts.Set(""); err == nil {
		t.Fatal("an empty --target was accepted")
	}
}

// if_version 0 and an absent if_version differ; known_sha256 is one digest or
// an object of digests by path.
func TestPreconditionAndKnownDigestArgs(t *testing.T) {
	a, err := decodeArgs(json.RawMessage(`{"path": "a", "if_version": 0, "if_sha256": "", "known_sha256": "AAE="}`))
	if err != nil {
		t.Fatal(err)
	}
	if a.IfVersion == nil || *a.IfVersion != 0 || a.IfSHA256 == nil || len(a.preconditions()) != 2 {
		t.Fatalf("args = %+v", a)
	}
	var known []byte
	if ok, err := a.knownSHA256(&known); !ok || err != nil || !slices.Equal(known, []byte{0, 1}) {
		t.Fatalf("known_sha256 = %v, %v, %v", known, ok, err)
	}
	a, err = decodeArgs(json.RawMessage(`{"path": "a", "known_sha256": {"a": "AAE="}}`))
	if err != nil {
		t.Fatal(err)
	}
	var byPath map[string][]byte
	if ok, err := a.knownSHA256(&byPath); !ok || err != nil || !slices.Equal(byPath["a"], []byte{0, 1}) {
		t.Fatalf("known_sha256 = %v, %v, %v", byPath, ok, err)
	}
	a, err = decodeArgs(json.RawMessage(`{"path": "a", "files": [{"path": "n", "content": "", "if_version": 0}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if a.IfVersion != nil || a.IfSHA256 != nil || len(a.preconditions()) != 0 || a.Files[0].IfVersion == nil {
		t.Fatalf("args = %+v", a)
	}
	if ok, _ := a.knownSHA256(&known); ok {
		t.Fatal("an absent known_sha256 was read")
	}
}

// A failed precondition's outcome adds the current version and digest.
func TestPreconditionOutcome(t *testing.T) {
	st, err := status.New(codes.Aborted, "precondition failed").WithDetails(&errdetails.ErrorInfo{
		Reason: "PRECONDITION_FAILED", Domain: "contextstore.dev",
		Metadata: map[string]string{"path": "a", "current_version": "3", "current_sha256": "00ff"},
	})
	if err != nil {
		t.Fatal(err)
	}
	failure, _ := errorOutcome(contextstore.FromError(st.Err()))["error"].(map[string]any)
	if failure["code"] != "ABORTED" || failure["current_version"] != int64(3) || failure["current_sha256"] != "AP8=" {
		t.Fatalf("outcome = %v", failure)
	}
	st, _ = status.New(codes.Aborted, "precondition failed").WithDetails(&errdetails.ErrorInfo{
		Reason: "PRECONDITION_FAILED", Domain: "contextstore.dev",
		Metadata: map[string]string{"path": "a", "current_version": "0", "current_sha256": ""},
	})
	failure, _ = errorOutcome(contextstore.FromError(st.Err()))["error"].(map[string]any)
	if failure["current_version"] != int64(0) || failure["current_sha256"] != "" {
		t.Fatalf("outcome = %v", failure)
	}
	failure, _ = errorOutcome(contextstore.FromError(status.Error(codes.Aborted, "other")))["error"].(map[string]any)
	if _, ok := failure["current_version"]; ok || failure["code"] != "ABORTED" {
		t.Fatalf("outcome = %v", failure)
	}
}

// list_files drains every page; list_files_page is one page and its token;
// invalidate_prefix counts what it removed.
func TestListAndInvalidatePrefixOperations(t *testing.T) {
	s := newServer()
	clients := poolOf(t, nil, nil, s)
	c := testCase{Name: "list", Sessions: []string{"s"}, Steps: []step{
		{Op: "cache_file", Session: "s", Args: json.RawMessage(`{"path": "b", "content": ""}`)},
		{Op: "cache_file", Session: "s", Args: json.RawMessage(`{"path": "a/2", "content": ""}`)},
		{Op: "cache_file", Session: "s", Args: json.RawMessage(`{"path": "a/1", "content": ""}`)},
		{Op: "cache_file", Session: "s", Args: json.RawMessage(`{"path": "a/3", "content": ""}`)},
		{Op: "list_files", Session: "s", Args: json.RawMessage(`{"path_prefix": "a/", "page_size": 2}`)},
		{Op: "list_files", Session: "s"},
		{Op: "list_files_page", Session: "s", Args: json.RawMessage(`{"path_prefix": "a/", "page_size": 2}`)},
		{Op: "list_files_page", Session: "s", Args: json.RawMessage(`{"path_prefix": "a/", "page_token": "a/2"}`)},
		{Op: "invalidate_prefix", Session: "s", Args: json.RawMessage(`{"path_prefix": "a/"}`)},
		{Op: "list_files", Session: "s", Args: json.RawMessage(`{"path_prefix": "a/"}`)},
	}}
	line := runCase(clients, c)
	all, _ := line["outcomes"].([]outcome)
	if len(all) != 10 {
		t.Fatalf("line = %v", line)
	}
	outcomes := all[3:] // after the four cache_file
	paths := func(result any) []string {
		var out []string
		for _, m := range result.([]any) {
			out = append(out, m.(map[string]any)["path"].(string))
		}
		return out
	}
	if got := paths(outcomes[1]["result"]); !slices.Equal(got, []string{"a/1", "a/2", "a/3"}) {
		t.Fatalf("list_files a/ = %v (%v)", got, outcomes[1])
	}
	if got := paths(outcomes[2]["result"]); !slices.Equal(got, []string{"a/1", "a/2", "a/3", "b"}) {
		t.Fatalf("list_files = %v", got)
	}
	first := outcomes[3]["result"].(map[string]any)
	if got := paths(first["files"]); !slices.Equal(got, []string{"a/1", "a/2"}) || first["next_page_token"] != "a/2" {
		t.Fatalf("list_files_page = %v", first)
	}
	last := outcomes[4]["result"].(map[string]any)
	if got := paths(last["files"]); !slices.Equal(got, []string{"a/3"}) || last["next_page_token"] != "" {
		t.Fatalf("last list_files_page = %v", last)
	}
	if got := outcomes[5]["result"]; !reflect.DeepEqual(got, map[string]any{"files": int64(3), "analyses": int64(0), "revision": int64(0)}) {
		t.Fatalf("invalidate_prefix = %v", outcomes[5])
	}
	// An empty listing is an empty list, not null.
	if got, err := json.Marshal(outcomes[6]["result"]); err != nil || string(got) != "[]" {
		t.Fatalf("empty list_files printed %s, %v", got, err)
	}
}
