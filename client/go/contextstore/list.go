package contextstore

import (
	"context"
	"iter"

	pb "github.com/contextstore/contextstore/client/go/gen/contextstore/v1"
)

// ListOption sets an optional field of ListFiles: WithPathPrefix and
// WithPageSize.
type ListOption func(*pb.ListFilesRequest)

// WithPathPrefix lists only the paths that start with prefix ("": every path).
func WithPathPrefix(prefix string) ListOption {
	return func(r *pb.ListFilesRequest) { r.PathPrefix = prefix }
}

// WithPageSize sets the most files one ListFiles call (one page) returns:
// 0 is the server's default (100), more than 1000 is 1000. It bounds each
// response, not what the iterator yields in all.
func WithPageSize(n int32) ListOption {
	return func(r *pb.ListFilesRequest) { r.PageSize = n }
}

// FilePage is one page of ListFilesPage: its files in path order, the
// token of the next page ("" on the last) and the revision it was read at.
type FilePage struct {
	Files []FileMetadata
	// NextPageToken goes back to ListFilesPage, with the same prefix, for the
	// next page; "" when this page is the last.
	NextPageToken string
	// Revision is the namespace's revision this page was read at: Watch
	// from it (WithStartRevision) to see every change after this page.
	Revision int64
}

// ListFiles iterates over the metadata of this namespace's files, in path
// order (by UTF-8 bytes), across every page: the next page is fetched only
// when the loop reaches it, each call with the client's default deadline when
// ctx has none. It stops after the page whose next-page token is empty. A
// failed call is yielded once, as the error of a zero FileMetadata, and ends
// the iteration; breaking out of the loop fetches nothing more.
//
//	for meta, err := range agent.ListFiles(ctx, contextstore.WithPathPrefix("src/")) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(meta.Path, meta.Size)
//	}
//
// Each page is one consistent snapshot; between pages the namespace may
// change, and a path is listed at most once. Listing counts no hits.
func (s *Session) ListFiles(ctx context.Context, opts ...ListOption) iter.Seq2[FileMetadata, error] {
	req := &pb.ListFilesRequest{}
	for _, opt := range opts {
		opt(req)
	}
	prefix, pageSize := req.GetPathPrefix(), req.GetPageSize()
	return func(yield func(FileMetadata, error) bool) {
		token := ""
		for {
			page, err := s.ListFilesPage(ctx, prefix, pageSize, token)
			if err != nil {
				yield(FileMetadata{}, err)
				return
			}
			for _, m := range page.Files {
				if !yield(m, nil) {
					return
				}
			}
			// A page may be short, even empty, and still not be the last:
			// only an empty token ends the listing.
			if page.NextPageToken == "" {
				return
			}
			token = page.NextPageToken
		}
	}
}

// ListFilesPage returns one page of this namespace's files whose path starts
// with prefix ("": every file), in path order, at most pageSize of them (0:
// the server's default, 100). Pass "" as pageToken for the first page, then
// the previous page's NextPageToken, with the same prefix; an empty
// NextPageToken marks the last page. A page may hold fewer than pageSize
// files, even none, and still not be the last. ListFiles does the looping.
func (s *Session) ListFilesPage(ctx context.Context, prefix string, pageSize int32, pageToken string) (*FilePage, error) {
	req := &pb.ListFilesRequest{SessionId: s.id, PathPrefix: prefix, PageSize: pageSize, PageToken: pageToken}
	r, err := call(ctx, s.client, s.client.stub.ListFiles, req)
	if err != nil {
		return nil, err
	}
	page := &FilePage{
		Files: make([]FileMetadata, len(r.GetFiles())), NextPageToken: r.GetNextPageToken(), Revision: r.GetRevision(),
	}
	for i, m := range r.GetFiles() {
		page.Files[i] = metadataOf(m)
	}
	return page, nil
}

// InvalidatePrefix removes, atomically, every file and analysis of this
// namespace whose path starts with prefix, and counts them. The prefix must
// not be empty (InvalidArgument): ClearSession removes a whole namespace.
func (s *Session) InvalidatePrefix(ctx context.Context, prefix string) (Removed, error) {
	req := &pb.InvalidatePrefixRequest{SessionId: s.id, PathPrefix: prefix}
	r, err := call(ctx, s.client, s.client.stub.InvalidatePrefix, req)
	if err != nil {
		return Removed{}, err
	}
	return Removed{Files: r.GetFilesRemoved(), Analyses: r.GetAnalysesRemoved(), Revision: r.GetRevision()}, nil
}
