package main

import (
	"context"
	"encoding/json"
	"net"
	"sync"
	"testing"

	"github.com/contextstore/contextstore/client/go/contextstore"
	pb "github.com/contextstore/contextstore/client/go/gen/contextstore/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
)

// server is a tiny in-memory server: files by path (one namespace is enough)
// and the number of ClearSession calls it got.
type server struct {
	pb.UnimplementedContextStoreServiceServer
	mu     sync.Mutex
	files  map[string][]byte
	clears int
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
	return &pb.ClearSessionResponse{}, nil
}

func clientOf(t *testing.T, s *server) *contextstore.Client {
	t.Helper()
	listener := bufconn.Listen(1 << 20)
	g := grpc.NewServer()
	pb.RegisterContextStoreServiceServer(g, s)
	go func() { _ = g.Serve(listener) }()
	t.Cleanup(g.Stop)
	dialer := grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
		return listener.DialContext(ctx)
	})
	client, err := contextstore.NewClient("passthrough:///bufnet", contextstore.WithDialOptions(dialer))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}

// With two clients (two --target), step k goes to client k mod 2: a file
// cached through the first is a miss through the second, found again through
// the first; only the first clears.
func TestStepsAlternateOverTheClients(t *testing.T) {
	first, second := &server{files: map[string][]byte{}}, &server{files: map[string][]byte{}}
	clients := []*contextstore.Client{clientOf(t, first), clientOf(t, second)}
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
