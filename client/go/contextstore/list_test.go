package contextstore_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/contextstore/contextstore/client/go/contextstore"
	pb "github.com/contextstore/contextstore/client/go/gen/contextstore/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// listFake serves ListFiles from pages, the token of page i being "p<i>",
// and records every ListFiles and InvalidatePrefix request.
type listFake struct {
	pb.UnimplementedContextStoreServiceServer
	mu       sync.Mutex
	pages    [][]string // the paths of each page
	requests []proto.Message
	// failAt fails the call asking for that page (0: none).
	failAt int
}

func (f *listFake) ListFiles(_ context.Context, r *pb.ListFilesRequest) (*pb.ListFilesResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, r)
	i := 0
	if r.GetPageToken() != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(r.GetPageToken(), "p"))
		if err != nil || n <= 0 || n >= len(f.pages) {
			return nil, status.Error(codes.InvalidArgument, "bad page_token")
		}
		i = n
	}
	if f.failAt != 0 && i == f.failAt {
		return nil, status.Error(codes.Internal, "broken")
	}
	out := &pb.ListFilesResponse{}
	for _, p := range f.pages[i] {
		out.Files = append(out.Files, &pb.FileMetadata{Path: p, Size: int64(len(p)), Version: 1})
	}
	if i+1 < len(f.pages) {
		out.NextPageToken = "p" + strconv.Itoa(i+1)
	}
	out.Revision = int64(1000 + i)
	return out, nil
}

func (f *listFake) InvalidatePrefix(_ context.Context, r *pb.InvalidatePrefixRequest) (*pb.InvalidatePrefixResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, r)
	if r.GetPathPrefix() == "" {
		return nil, status.Error(codes.InvalidArgument, "empty path_prefix")
	}
	return &pb.InvalidatePrefixResponse{FilesRemoved: 3, AnalysesRemoved: 2, Revision: 55}, nil
}

// listRequests returns the ListFiles requests received.
func (f *listFake) listRequests() []*pb.ListFilesRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*pb.ListFilesRequest
	for _, r := range f.requests {
		if l, ok := r.(*pb.ListFilesRequest); ok {
			out = append(out, l)
		}
	}
	return out
}

func startList(t *testing.T, pages ...[]string) (*contextstore.Client, *listFake) {
	t.Helper()
	f := &listFake{pages: pages}
	return connectFake(t, serveFake(t, f)), f
}

// The iterator follows every token until an empty one, through short and
// empty pages, sending the session, the prefix and the page size each time.
func TestListFilesFollowsTokensToTheLastPage(t *testing.T) {
	client, f := startList(t, []string{"a/1", "a/2"}, []string{"a/3"}, nil, []string{"a/4", "a/5"})
	var paths []string
	for m, err := range client.Session("s").ListFiles(context.Background(),
		contextstore.WithPathPrefix("a/"), contextstore.WithPageSize(2)) {
		if err != nil {
			t.Fatal(err)
		}
		if m.Size != int64(len(m.Path)) || m.Version != 1 {
			t.Fatalf("metadata = %+v", m)
		}
		paths = append(paths, m.Path)
	}
	if want := []string{"a/1", "a/2", "a/3", "a/4", "a/5"}; !slices.Equal(paths, want) {
		t.Fatalf("paths = %v, want %v", paths, want)
	}
	requests := f.listRequests()
	var tokens []string
	for _, r := range requests {
		if r.GetSessionId() != "s" || r.GetPathPrefix() != "a/" || r.GetPageSize() != 2 {
			t.Fatalf("request = %v", r)
		}
		tokens = append(tokens, r.GetPageToken())
	}
	if want := []string{"", "p1", "p2", "p3"}; !slices.Equal(tokens, want) {
		t.Fatalf("page tokens sent = %q, want %q", tokens, want)
	}
}

// Without options: no prefix, page size 0 (the server's default), the
// global namespace's session_id absent; one empty last page yields nothing.
func TestListFilesDefaultsAndEmpty(t *testing.T) {
	client, f := startList(t, nil)
	for m, err := range client.Global().ListFiles(context.Background()) {
		t.Fatalf("yielded %+v, %v", m, err)
	}
	requests := f.listRequests()
	if len(requests) != 1 || requests[0].SessionId != nil || requests[0].GetPathPrefix() != "" ||
		requests[0].GetPageSize() != 0 || requests[0].GetPageToken() != "" {
		t.Fatalf("requests = %v", requests)
	}
}

// Pages are fetched lazily: breaking out after the first file fetches no
// second page. A failed page is yielded once, as an error, and ends it.
func TestListFilesIsLazyAndStopsOnError(t *testing.T) {
	client, f := startList(t, []string{"a"}, []string{"b"}, []string{"c"})
	for range client.Global().ListFiles(context.Background()) {
		break
	}
	if n := len(f.listRequests()); n != 1 {
		t.Fatalf("%d pages fetched after a break on the first file, want 1", n)
	}

	f.failAt = 2
	var paths []string
	var errs []error
	for m, err := range client.Global().ListFiles(context.Background()) {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		paths = append(paths, m.Path)
	}
	var e *contextstore.Error
	if !slices.Equal(paths, []string{"a", "b"}) || len(errs) != 1 || !errors.As(errs[0], &e) || e.Code != codes.Internal {
		t.Fatalf("paths = %v, errors = %v", paths, errs)
	}
}

func TestListFilesPage(t *testing.T) {
	client, f := startList(t, []string{"a", "b"}, []string{"c"})
	s := client.Session("s")
	page, err := s.ListFilesPage(context.Background(), "x", 2, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Files) != 2 || page.Files[1].Path != "b" || page.NextPageToken != "p1" || page.Revision != 1000 {
		t.Fatalf("page = %+v", page)
	}
	page, err = s.ListFilesPage(context.Background(), "x", 2, page.NextPageToken)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Files) != 1 || page.Files[0].Path != "c" || page.NextPageToken != "" || page.Revision != 1001 {
		t.Fatalf("last page = %+v", page)
	}
	r := f.listRequests()[1]
	if r.GetSessionId() != "s" || r.GetPathPrefix() != "x" || r.GetPageSize() != 2 || r.GetPageToken() != "p1" {
		t.Fatalf("request = %v", r)
	}
	if _, err := s.ListFilesPage(context.Background(), "x", 2, "bogus"); !errors.Is(err, contextstore.ErrInvalidArgument) {
		t.Fatalf("bad token: err = %v", err)
	}
}

func TestInvalidatePrefix(t *testing.T) {
	client, f := startList(t, nil)
	removed, err := client.Session("s").InvalidatePrefix(context.Background(), "src/")
	if err != nil {
		t.Fatal(err)
	}
	if removed != (contextstore.Removed{Files: 3, Analyses: 2, Revision: 55}) {
		t.Fatalf("removed = %+v", removed)
	}
	r, ok := f.requests[0].(*pb.InvalidatePrefixRequest)
	if !ok || r.GetSessionId() != "s" || r.GetPathPrefix() != "src/" {
		t.Fatalf("request = %v", f.requests[0])
	}
	if _, err := client.Global().InvalidatePrefix(context.Background(), ""); !errors.Is(err, contextstore.ErrInvalidArgument) {
		t.Fatalf("empty prefix: err = %v", err)
	}
	if r := f.requests[1].(*pb.InvalidatePrefixRequest); r.SessionId != nil {
		t.Fatalf("global: session_id sent: %v", r)
	}
}
