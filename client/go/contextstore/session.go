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

// FileOption sets an optional field of CacheFile: WithLabels, WithMtime, and
// the preconditions IfVersion and IfSHA256.
type FileOption interface{ applyFile(*pb.CacheFileRequest) }

// FileOptionFunc is a FileOption that sets fields of the request itself.
type FileOptionFunc func(*pb.CacheFileRequest)

func (f FileOptionFunc) applyFile(r *pb.CacheFileRequest) { f(r) }

// AnalysisOption sets an optional field of CacheAnalysis: the preconditions
// IfVersion and IfSHA256.
type AnalysisOption interface {
	applyAnalysis(*pb.CacheAnalysisRequest)
}

// InvalidateOption sets an optional field of InvalidateFile: the
// preconditions IfVersion and IfSHA256.
type InvalidateOption interface {
	applyInvalidate(*pb.InvalidateFileRequest)
}

// WithLabels attaches labels to the cached file.
func WithLabels(labels map[string]string) FileOption {
	return FileOptionFunc(func(r *pb.CacheFileRequest) { r.Labels = labels })
}

// WithMtime records the file's modification time.
func WithMtime(mtime time.Time) FileOption {
	return FileOptionFunc(func(r *pb.CacheFileRequest) { r.Mtime = timestampOf(mtime) })
}

// Precondition makes a write compare-and-set: CacheFile, CacheAnalysis and
// InvalidateFile take it (it is a FileOption, an AnalysisOption and an
// InvalidateOption). The write happens only if the file at the path matches,
// checked atomically with it; otherwise nothing changes and the call fails
// with a *PreconditionFailedError. Give IfVersion and IfSHA256 together and
// both must hold.
type Precondition struct {
	version   *int64
	sha256    []byte
	hasSHA256 bool
}

// IfVersion is the precondition that the file at the path has this version
// now; 0 means that no file is there (create only).
func IfVersion(version int64) Precondition {
	return Precondition{version: &version}
}

// IfSHA256 is the precondition that the content of the file at the path has
// this SHA-256 digest (32 bytes) now.
func IfSHA256(digest []byte) Precondition {
	return Precondition{sha256: digest, hasSHA256: true}
}

// fields returns the request's if_version and if_sha256: nil when not set
// (absent on the wire), a non-nil digest when set, even an empty one.
func (p Precondition) fields(version *int64, digest []byte) (*int64, []byte) {
	if p.version != nil {
		v := *p.version
		version = &v
	}
	if p.hasSHA256 {
		digest = append([]byte{}, p.sha256...)
	}
	return version, digest
}

func (p Precondition) applyFile(r *pb.CacheFileRequest) {
	r.IfVersion, r.IfSha256 = p.fields(r.IfVersion, r.IfSha256)
}

func (p Precondition) applyAnalysis(r *pb.CacheAnalysisRequest) {
	r.IfVersion, r.IfSha256 = p.fields(r.IfVersion, r.IfSha256)
}

func (p Precondition) applyInvalidate(r *pb.InvalidateFileRequest) {
	r.IfVersion, r.IfSha256 = p.fields(r.IfVersion, r.IfSha256)
}

// GetFileOption sets an optional field of GetFile: WithKnownSHA256.
type GetFileOption func(*pb.GetFileRequest)

// WithKnownSHA256 gives the digest of the content the caller holds: when it
// is still the file's, GetFile returns the metadata with Unchanged set and no
// content.
func WithKnownSHA256(digest []byte) GetFileOption {
	return func(r *pb.GetFileRequest) { r.KnownSha256 = append([]byte{}, digest...) }
}

// BatchGetOption sets an optional field of BatchGetFiles: WithKnownSHA256s.
type BatchGetOption func(*pb.BatchGetFilesRequest)

// WithKnownSHA256s gives, by path, the digest of the content the caller
// holds: a path whose digest is still its file's comes back with Unchanged
// set and no content.
func WithKnownSHA256s(known map[string][]byte) BatchGetOption {
	return func(r *pb.BatchGetFilesRequest) {
		if r.KnownSha256 == nil {
			r.KnownSha256 = make(map[string][]byte, len(known))
		}
		for path, digest := range known {
			r.KnownSha256[path] = digest
		}
	}
}

// CacheFile stores or replaces a file. Analyses of the path not recorded
// against this content's digest are dropped. With IfVersion or IfSHA256 it
// stores only if the file there matches (else a *PreconditionFailedError).
func (s *Session) CacheFile(ctx context.Context, path string, content []byte, opts ...FileOption) (*FileMetadata, error) {
	req := &pb.CacheFileRequest{SessionId: s.id, Path: path, Content: content}
	for _, opt := range opts {
		opt.applyFile(req)
	}
	r, err := call(ctx, s.client, s.client.stub.CacheFile, req)
	if err != nil {
		return nil, err
	}
	m := metadataOf(r.GetMetadata())
	return &m, nil
}

// GetFile returns a file's content and metadata; ErrNotFound when not cached.
// With WithKnownSHA256 naming the current content, the File has Unchanged set
// and no content.
func (s *Session) GetFile(ctx context.Context, path string, opts ...GetFileOption) (*File, error) {
	req := &pb.GetFileRequest{SessionId: s.id, Path: path}
	for _, opt := range opts {
		opt(req)
	}
	r, err := call(ctx, s.client, s.client.stub.GetFile, req)
	if err != nil {
		return nil, err
	}
	return &File{Content: r.GetContent(), Metadata: metadataOf(r.GetMetadata()), Unchanged: r.GetUnchanged()}, nil
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
// order; a miss has Found false. With WithKnownSHA256s, a path whose known
// digest is still current has Unchanged set and no content.
func (s *Session) BatchGetFiles(ctx context.Context, paths []string, opts ...BatchGetOption) ([]FileResult, error) {
	req := &pb.BatchGetFilesRequest{SessionId: s.id, Paths: paths}
	for _, opt := range opts {
		opt(req)
	}
	r, err := call(ctx, s.client, s.client.stub.BatchGetFiles, req)
	if err != nil {
		return nil, err
	}
	out := make([]FileResult, len(r.GetFiles()))
	for i, f := range r.GetFiles() {
		out[i] = FileResult{Path: f.GetPath(), Found: f.GetFound()}
		if f.GetFound() {
			out[i].File = File{Content: f.GetContent(), Metadata: metadataOf(f.GetMetadata()), Unchanged: f.GetUnchanged()}
		}
	}
	return out, nil
}

// BatchCacheFiles stores every file or none: one invalid item fails the call
// (its FieldViolations name the item, e.g. "files[3].path"), and so does one
// item whose precondition (FileUpload.IfVersion, IfSHA256) fails, with a
// *PreconditionFailedError naming that item's path.
func (s *Session) BatchCacheFiles(ctx context.Context, files []FileUpload) ([]FileMetadata, error) {
	req := &pb.BatchCacheFilesRequest{SessionId: s.id, Files: make([]*pb.FileUpload, len(files))}
	for i, f := range files {
		req.Files[i] = &pb.FileUpload{
			Path: f.Path, Content: f.Content, Labels: f.Labels, Mtime: timestampOf(f.Mtime),
			IfVersion: f.IfVersion, IfSha256: f.IfSHA256,
		}
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
// With IfVersion or IfSHA256 it stores only if the file at path matches, so
// that an analysis is stored against the content it was computed from (else
// a *PreconditionFailedError).
func (s *Session) CacheAnalysis(ctx context.Context, path, analysisType string, result []byte, opts ...AnalysisOption) (time.Time, error) {
	req := &pb.CacheAnalysisRequest{SessionId: s.id, Path: path, AnalysisType: analysisType, Result: result}
	for _, opt := range opts {
		opt.applyAnalysis(req)
	}
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

// InvalidateFile removes a path's file and every analysis of it. With
// IfVersion or IfSHA256 it removes only the file they name (else a
// *PreconditionFailedError).
func (s *Session) InvalidateFile(ctx context.Context, path string, opts ...InvalidateOption) (Removed, error) {
	req := &pb.InvalidateFileRequest{SessionId: s.id, Path: path}
	for _, opt := range opts {
		opt.applyInvalidate(req)
	}
	r, err := call(ctx, s.client, s.client.stub.InvalidateFile, req)
	if err != nil {
		return Removed{}, err
	}
	return Removed{Files: r.GetFilesRemoved(), Analyses: r.GetAnalysesRemoved(), Revision: r.GetRevision()}, nil
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
	return Removed{Files: r.GetFilesRemoved(), Analyses: r.GetAnalysesRemoved(), Revision: r.GetRevision()}, nil
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
