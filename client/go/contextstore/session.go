package contextstore

import (
	"context"
	"time"

	pb "github.com/contextstore/contextstore/client/go/gen/contextstore/v1"
	"google.golang.org/protobuf/proto"
)

// Session is a handle bound to one namespace: a named session, or the global
// namespace (Client.Global, or Client.Session("")). It has every call of the
// API: the data calls and Stats act on its namespace; StoreStats and
// ServerInfo, which concern the whole server, are also on Client. It shares
// the client's connection and is safe for concurrent use.
type Session struct {
	client *Client
	id     *string // nil: the global namespace (session_id absent)
}

// ID returns the bound session ID; "" for the global namespace.
func (s *Session) ID() string {
	if s.id == nil {
		return ""
	}
	return *s.id
}

// FileOption sets an optional field of CacheFile.
type FileOption func(*pb.CacheFileRequest)

// WithLabels attaches labels to the cached file.
func WithLabels(labels map[string]string) FileOption {
	return func(r *pb.CacheFileRequest) { r.Labels = labels }
}

// WithMtime records the file's modification time.
func WithMtime(mtime time.Time) FileOption {
	return func(r *pb.CacheFileRequest) { r.Mtime = timestampOf(mtime) }
}

// CacheFile stores or replaces a file. Analyses of the path not recorded
// against this content's digest are dropped.
func (s *Session) CacheFile(ctx context.Context, path string, content []byte, opts ...FileOption) (*FileMetadata, error) {
	req := &pb.CacheFileRequest{SessionId: s.id, Path: path, Content: content}
	for _, opt := range opts {
		opt(req)
	}
	r, err := call(ctx, s.client, s.client.stub.CacheFile, req)
	if err != nil {
		return nil, err
	}
	m := metadataOf(r.GetMetadata())
	return &m, nil
}

// GetFile returns a file's content and metadata; ErrNotFound when not cached.
func (s *Session) GetFile(ctx context.Context, path string) (*File, error) {
	r, err := call(ctx, s.client, s.client.stub.GetFile, &pb.GetFileRequest{SessionId: s.id, Path: path})
	if err != nil {
		return nil, err
	}
	return &File{Content: r.GetContent(), Metadata: metadataOf(r.GetMetadata())}, nil
}

// GetMetadata returns a file's metadata; ErrNotFound when not cached.
func (s *Session) GetMetadata(ctx context.Context, path string) (*FileMetadata, error) {
	r, err := call(ctx, s.client, s.client.stub.GetMetadata, &pb.GetMetadataRequest{SessionId: s.id, Path: path})
	if err != nil {
		return nil, err
	}
	m := metadataOf(r.GetMetadata())
	return &m, nil
}

// BatchGetFiles reads many files as one snapshot: one result per path, in
// order; a miss has Found false.
func (s *Session) BatchGetFiles(ctx context.Context, paths []string) ([]FileResult, error) {
	r, err := call(ctx, s.client, s.client.stub.BatchGetFiles, &pb.BatchGetFilesRequest{SessionId: s.id, Paths: paths})
	if err != nil {
		return nil, err
	}
	out := make([]FileResult, len(r.GetFiles()))
	for i, f := range r.GetFiles() {
		out[i] = FileResult{Path: f.GetPath(), Found: f.GetFound()}
		if f.GetFound() {
			out[i].File = File{Content: f.GetContent(), Metadata: metadataOf(f.GetMetadata())}
		}
	}
	return out, nil
}

// BatchCacheFiles stores every file or none: one invalid item fails the call
// (its FieldViolations name the item, e.g. "files[3].path").
func (s *Session) BatchCacheFiles(ctx context.Context, files []FileUpload) ([]FileMetadata, error) {
	req := &pb.BatchCacheFilesRequest{SessionId: s.id, Files: make([]*pb.FileUpload, len(files))}
	for i, f := range files {
		req.Files[i] = &pb.FileUpload{Path: f.Path, Content: f.Content, Labels: f.Labels, Mtime: timestampOf(f.Mtime)}
	}
	r, err := call(ctx, s.client, s.client.stub.BatchCacheFiles, req)
	if err != nil {
		return nil, err
	}
	out := make([]FileMetadata, len(r.GetMetadata()))
	for i, m := range r.GetMetadata() {
		out[i] = metadataOf(m)
	}
	return out, nil
}

// CacheAnalysis stores an analysis result and returns when it was cached.
func (s *Session) CacheAnalysis(ctx context.Context, path, analysisType string, result []byte) (time.Time, error) {
	req := &pb.CacheAnalysisRequest{SessionId: s.id, Path: path, AnalysisType: analysisType, Result: result}
	r, err := call(ctx, s.client, s.client.stub.CacheAnalysis, req)
	if err != nil {
		return time.Time{}, err
	}
	return timeOf(r.GetCachedAt()), nil
}

// GetAnalysis returns an analysis result; ErrNotFound when not cached.
func (s *Session) GetAnalysis(ctx context.Context, path, analysisType string) (*Analysis, error) {
	req := &pb.GetAnalysisRequest{SessionId: s.id, Path: path, AnalysisType: analysisType}
	r, err := call(ctx, s.client, s.client.stub.GetAnalysis, req)
	if err != nil {
		return nil, err
	}
	return &Analysis{Result: r.GetResult(), CachedAt: timeOf(r.GetCachedAt())}, nil
}

// InvalidateFile removes a path's file and every analysis of it.
func (s *Session) InvalidateFile(ctx context.Context, path string) (Removed, error) {
	r, err := call(ctx, s.client, s.client.stub.InvalidateFile, &pb.InvalidateFileRequest{SessionId: s.id, Path: path})
	if err != nil {
		return Removed{}, err
	}
	return Removed{Files: r.GetFilesRemoved(), Analyses: r.GetAnalysesRemoved()}, nil
}

// InvalidateAnalysis removes one analysis type of a path; returns the count.
func (s *Session) InvalidateAnalysis(ctx context.Context, path, analysisType string) (int64, error) {
	return s.invalidateAnalysis(ctx, path, proto.String(analysisType))
}

// InvalidateAnalyses removes every analysis of a path; returns the count.
func (s *Session) InvalidateAnalyses(ctx context.Context, path string) (int64, error) {
	return s.invalidateAnalysis(ctx, path, nil)
}

func (s *Session) invalidateAnalysis(ctx context.Context, path string, analysisType *string) (int64, error) {
	req := &pb.InvalidateAnalysisRequest{SessionId: s.id, Path: path, AnalysisType: analysisType}
	r, err := call(ctx, s.client, s.client.stub.InvalidateAnalysis, req)
	if err != nil {
		return 0, err
	}
	return r.GetAnalysesRemoved(), nil
}

// ClearSession removes everything of this namespace, atomically.
func (s *Session) ClearSession(ctx context.Context) (Removed, error) {
	r, err := call(ctx, s.client, s.client.stub.ClearSession, &pb.ClearSessionRequest{SessionId: s.id})
	if err != nil {
		return Removed{}, err
	}
	return Removed{Files: r.GetFilesRemoved(), Analyses: r.GetAnalysesRemoved()}, nil
}

// Stats returns the counters of this handle's namespace: its session, or the
// global namespace on Client.Global (StoreStats: the whole store).
func (s *Session) Stats(ctx context.Context) (*Stats, error) {
	r, err := call(ctx, s.client, s.client.stub.GetStats, &pb.GetStatsRequest{SessionId: s.id})
	if err != nil {
		return nil, err
	}
	return statsOf(r), nil
}

// StoreStats returns the counters of the whole store, as Client.StoreStats.
func (s *Session) StoreStats(ctx context.Context) (*Stats, error) {
	return s.client.StoreStats(ctx)
}

// ServerInfo describes the server, as Client.ServerInfo.
func (s *Session) ServerInfo(ctx context.Context) (*ServerInfo, error) {
	return s.client.ServerInfo(ctx)
}
