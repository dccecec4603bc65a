package contextstore_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"sync"
	"testing"

	"github.com/contextstore/contextstore/client/go/contextstore"
	pb "github.com/contextstore/contextstore/client/go/gen/contextstore/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// casFake records the requests of the calls that take preconditions or known
// digests, and answers each with fail when it is set.
type casFake struct {
	pb.UnimplementedContextStoreServiceServer
	mu       sync.Mutex
	requests []proto.Message
	fail     error
}

func (f *casFake) got(r proto.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, r)
	return f.fail
}

func (f *casFake) CacheFile(_ context.Context, r *pb.CacheFileRequest) (*pb.CacheFileResponse, error) {
	if err := f.got(r); err != nil {
		return nil, err
	}
	return &pb.CacheFileResponse{Metadata: &pb.FileMetadata{Path: r.GetPath(), Version: 1}}, nil
}

func (f *casFake) CacheAnalysis(_ context.Context, r *pb.CacheAnalysisRequest) (*pb.CacheAnalysisResponse, error) {
	if err := f.got(r); err != nil {
		return nil, err
	}
	return &pb.CacheAnalysisResponse{}, nil
}

func (f *casFake) InvalidateFile(_ context.Context, r *pb.InvalidateFileRequest) (*pb.InvalidateFileResponse, error) {
	if err := f.got(r); err != nil {
		return nil, err
	}
	return &pb.InvalidateFileResponse{FilesRemoved: 1, Revision: 9}, nil
}

func (f *casFake) BatchCacheFiles(_ context.Context, r *pb.BatchCacheFilesRequest) (*pb.BatchCacheFilesResponse, error) {
	if err := f.got(r); err != nil {
		return nil, err
	}
	return &pb.BatchCacheFilesResponse{Metadata: make([]*pb.FileMetadata, len(r.GetFiles()))}, nil
}

// GetFile answers unchanged when known_sha256 is "same".
func (f *casFake) GetFile(_ context.Context, r *pb.GetFileRequest) (*pb.GetFileResponse, error) {
	if err := f.got(r); err != nil {
		return nil, err
	}
	if string(r.GetKnownSha256()) == "same" {
		return &pb.GetFileResponse{Metadata: &pb.FileMetadata{Path: r.GetPath()}, Unchanged: true}, nil
	}
	return &pb.GetFileResponse{Content: []byte("data"), Metadata: &pb.FileMetadata{Path: r.GetPath()}}, nil
}

// BatchGetFiles answers unchanged for each path whose known digest is "same".
func (f *casFake) BatchGetFiles(_ context.Context, r *pb.BatchGetFilesRequest) (*pb.BatchGetFilesResponse, error) {
	if err := f.got(r); err != nil {
		return nil, err
	}
	out := &pb.BatchGetFilesResponse{}
	for _, p := range r.GetPaths() {
		res := &pb.FileResult{Path: p, Found: true, Metadata: &pb.FileMetadata{Path: p}}
		if string(r.GetKnownSha256()[p]) == "same" {
			res.Unchanged = true
		} else {
			res.Content = []byte("data")
		}
		out.Files = append(out.Files, res)
	}
	return out, nil
}

func (f *casFake) last() proto.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[len(f.requests)-1]
}

func startCAS(t *testing.T) (*contextstore.Session, *casFake) {
	t.Helper()
	f := &casFake{}
	return connectFake(t, serveFake(t, f)).Session("s"), f
}

// preconditionFailed is the status the contract specifies for a failed
// precondition, with the given ErrorInfo metadata.
func preconditionFailed(t *testing.T, metadata map[string]string) error {
	t.Helper()
	st, err := status.New(codes.Aborted, "precondition failed").WithDetails(&errdetails.ErrorInfo{
		Reason: "PRECONDITION_FAILED", Domain: "contextstore.dev", Metadata: metadata,
	})
	if err != nil {
		t.Fatal(err)
	}
	return st.Err()
}

// An absent precondition is not sent; if_version 0 is sent, as zero.
func TestPreconditionsOnTheWire(t *testing.T) {
	s, f := startCAS(t)
	ctx := context.Background()
	digest := bytes.Repeat([]byte{7}, 32)

	if _, err := s.CacheFile(ctx, "a", nil, contextstore.WithLabels(map[string]string{"k": "v"})); err != nil {
		t.Fatal(err)
	}
	if r := f.last().(*pb.CacheFileRequest); r.IfVersion != nil || r.IfSha256 != nil || r.GetLabels()["k"] != "v" {
		t.Fatalf("no precondition given, sent %v", r)
	}
	if _, err := s.CacheFile(ctx, "a", nil, contextstore.IfVersion(0)); err != nil {
		t.Fatal(err)
	}
	if r := f.last().(*pb.CacheFileRequest); r.IfVersion == nil || *r.IfVersion != 0 || r.IfSha256 != nil {
		t.Fatalf("IfVersion(0) sent %v", r)
	}
	if _, err := s.CacheFile(ctx, "a", nil, contextstore.IfVersion(5), contextstore.IfSHA256(digest)); err != nil {
		t.Fatal(err)
	}
	if r := f.last().(*pb.CacheFileRequest); r.GetIfVersion() != 5 || !bytes.Equal(r.IfSha256, digest) {
		t.Fatalf("IfVersion(5), IfSHA256 sent %v", r)
	}

	if _, err := s.CacheAnalysis(ctx, "a", "ast", []byte("r")); err != nil {
		t.Fatal(err)
	}
	if r := f.last().(*pb.CacheAnalysisRequest); r.IfVersion != nil || r.IfSha256 != nil {
		t.Fatalf("CacheAnalysis without precondition sent %v", r)
	}
	if _, err := s.CacheAnalysis(ctx, "a", "ast", []byte("r"), contextstore.IfSHA256(digest)); err != nil {
		t.Fatal(err)
	}
	if r := f.last().(*pb.CacheAnalysisRequest); r.IfVersion != nil || !bytes.Equal(r.IfSha256, digest) {
		t.Fatalf("CacheAnalysis IfSHA256 sent %v", r)
	}

	if removed, err := s.InvalidateFile(ctx, "a"); err != nil || removed != (contextstore.Removed{Files: 1, Revision: 9}) {
		t.Fatal(removed, err)
	}
	if r := f.last().(*pb.InvalidateFileRequest); r.IfVersion != nil || r.IfSha256 != nil {
		t.Fatalf("InvalidateFile without precondition sent %v", r)
	}
	if _, err := s.InvalidateFile(ctx, "a", contextstore.IfVersion(0)); err != nil {
		t.Fatal(err)
	}
	if r := f.last().(*pb.InvalidateFileRequest); r.IfVersion == nil || *r.IfVersion != 0 || r.IfSha256 != nil {
		t.Fatalf("InvalidateFile IfVersion(0) sent %v", r)
	}

	_, err := s.BatchCacheFiles(ctx, []contextstore.FileUpload{
		{Path: "n", IfVersion: new(int64(0))},
		{Path: "a", IfSHA256: digest},
		{Path: "b"},
	})
	if err != nil {
		t.Fatal(err)
	}
	items := f.last().(*pb.BatchCacheFilesRequest).GetFiles()
	if items[0].IfVersion == nil || *items[0].IfVersion != 0 || items[0].IfSha256 != nil {
		t.Fatalf("item 0 sent %v", items[0])
	}
	if items[1].IfVersion != nil || !bytes.Equal(items[1].IfSha256, digest) {
		t.Fatalf("item 1 sent %v", items[1])
	}
	if items[2].IfVersion != nil || items[2].IfSha256 != nil {
		t.Fatalf("item 2 sent %v", items[2])
	}
}

func TestUnchangedReads(t *testing.T) {
	s, f := startCAS(t)
	ctx := context.Background()

	file, err := s.GetFile(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if r := f.last().(*pb.GetFileRequest); r.KnownSha256 != nil {
		t.Fatalf("no known digest given, sent %v", r)
	}
	if file.Unchanged || string(file.Content) != "data" {
		t.Fatalf("GetFile = %+v", file)
	}
	file, err = s.GetFile(ctx, "a", contextstore.WithKnownSHA256([]byte("same")))
	if err != nil {
		t.Fatal(err)
	}
	if !file.Unchanged || len(file.Content) != 0 || file.Metadata.Path != "a" {
		t.Fatalf("GetFile with the current digest = %+v", file)
	}

	results, err := s.BatchGetFiles(ctx, []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	if r := f.last().(*pb.BatchGetFilesRequest); len(r.KnownSha256) != 0 || results[0].Unchanged {
		t.Fatalf("no known digests given: sent %v, got %+v", r, results)
	}
	results, err = s.BatchGetFiles(ctx, []string{"a", "b"},
		contextstore.WithKnownSHA256s(map[string][]byte{"a": []byte("same"), "b": []byte("old")}))
	if err != nil {
		t.Fatal(err)
	}
	if r := f.last().(*pb.BatchGetFilesRequest); string(r.KnownSha256["b"]) != "old" {
		t.Fatalf("sent %v", r)
	}
	if !results[0].Unchanged || len(results[0].Content) != 0 || results[1].Unchanged || string(results[1].Content) != "data" {
		t.Fatalf("results = %+v", results)
	}
}

func TestPreconditionFailedError(t *testing.T) {
	s, f := startCAS(t)
	ctx := context.Background()
	digest := bytes.Repeat([]byte{0xab}, 32)
	f.fail = preconditionFailed(t, map[string]string{
		"path": "a.py", "current_version": "7", "current_sha256": hex.EncodeToString(digest),
	})

	_, err := s.CacheFile(ctx, "a.py", nil, contextstore.IfVersion(0))
	var pf *contextstore.PreconditionFailedError
	if !errors.As(err, &pf) {
		t.Fatalf("err = %#v, want a *PreconditionFailedError", err)
	}
	if pf.Path != "a.py" || pf.CurrentVersion != 7 || !bytes.Equal(pf.CurrentSHA256, digest) {
		t.Fatalf("precondition = %+v", pf)
	}
	// The *Error hierarchy still holds.
	var e *contextstore.Error
	if !errors.As(err, &e) || e.Code != codes.Aborted || pf.Err != e {
		t.Fatalf("errors.As *Error: %#v", e)
	}
	if !errors.Is(err, contextstore.ErrPreconditionFailed) || errors.Is(err, contextstore.ErrNotFound) {
		t.Fatalf("errors.Is: %v", err)
	}
	if status.Code(err) != codes.Aborted {
		t.Fatalf("status.Code = %v", status.Code(err))
	}
	if contextstore.FromError(err) != err {
		t.Fatalf("FromError of a *PreconditionFailedError is not itself")
	}
	// The same from every write that takes a precondition.
	for name, call := range map[string]func() error{
		"CacheAnalysis": func() error {
			_, err := s.CacheAnalysis(ctx, "a.py", "ast", nil, contextstore.IfSHA256(digest))
			return err
		},
		"InvalidateFile": func() error { _, err := s.InvalidateFile(ctx, "a.py", contextstore.IfVersion(3)); return err },
		"BatchCacheFiles": func() error {
			_, err := s.BatchCacheFiles(ctx, []contextstore.FileUpload{{Path: "a.py", IfVersion: new(int64(3))}})
			return err
		},
	} {
		if err := call(); !errors.As(err, &pf) || pf.CurrentVersion != 7 {
			t.Errorf("%s: err = %v", name, err)
		}
	}

	// No file there: version 0, empty digest.
	f.fail = preconditionFailed(t, map[string]string{"path": "b.py", "current_version": "0", "current_sha256": ""})
	_, err = s.CacheFile(ctx, "b.py", nil, contextstore.IfSHA256(digest))
	if !errors.As(err, &pf) || pf.Path != "b.py" || pf.CurrentVersion != 0 || len(pf.CurrentSHA256) != 0 {
		t.Fatalf("no file: err = %v, precondition = %+v", err, pf)
	}

	// ABORTED without the ErrorInfo (or another one) is a plain *Error.
	for _, other := range []error{
		status.Error(codes.Aborted, "aborted"),
		func() error {
			st, _ := status.New(codes.Aborted, "x").WithDetails(&errdetails.ErrorInfo{Reason: "OTHER", Domain: "contextstore.dev"})
			return st.Err()
		}(),
	} {
		f.fail = other
		_, err = s.CacheFile(ctx, "a.py", nil)
		if errors.As(err, &pf) || errors.Is(err, contextstore.ErrPreconditionFailed) || !errors.As(err, &e) || e.Code != codes.Aborted {
			t.Fatalf("plain ABORTED: err = %#v", err)
		}
	}
}

// FromError decodes a raw stub's error the same way.
func TestFromErrorDecodesPreconditions(t *testing.T) {
	err := contextstore.FromError(preconditionFailed(t, map[string]string{
		"path": "p", "current_version": "12", "current_sha256": "00ff",
	}))
	var pf *contextstore.PreconditionFailedError
	if !errors.As(err, &pf) || pf.CurrentVersion != 12 || !bytes.Equal(pf.CurrentSHA256, []byte{0, 0xff}) {
		t.Fatalf("err = %v", err)
	}
	if pf.Error() == "" || pf.Err.Message != "precondition failed" {
		t.Fatalf("messages: %q, %q", pf.Error(), pf.Err.Message)
	}
}
