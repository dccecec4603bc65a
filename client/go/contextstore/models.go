package contextstore

import (
	"time"

	pb "github.com/contextstore/contextstore/client/go/gen/contextstore/v1"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// FileMetadata describes one cached file.
type FileMetadata struct {
	Path string
	// Size is the content size in bytes.
	Size int64
	// SHA256 is the content's digest (32 bytes).
	SHA256 []byte
	// Mtime is the modification time the caller gave; zero when none was.
	Mtime time.Time
	// CachedAt is when the server stored this version.
	CachedAt time.Time
	Labels   map[string]string
	// Version grows every time the entry is written.
	Version int64
}

// File is a cached file: content and metadata.
type File struct {
	// Content is empty when Unchanged.
	Content  []byte
	Metadata FileMetadata
	// Unchanged is set when the read named the current content's digest
	// (WithKnownSHA256, WithKnownSHA256s): the content was not sent.
	Unchanged bool
}

// FileResult is one path's outcome in BatchGetFiles; File is set only when
// Found.
type FileResult struct {
	Path  string
	Found bool
	File
}

// FileUpload is one file of BatchCacheFiles. A zero Mtime sends none.
type FileUpload struct {
	Path    string
	Content []byte
	Labels  map[string]string
	Mtime   time.Time
	// IfVersion, when not nil, stores the file only if the one there has this
	// version now; 0: only if none is (e.g. IfVersion: new(int64(0))).
	IfVersion *int64
	// IfSHA256, when not nil, stores the file only if the content there has
	// this digest (32 bytes).
	IfSHA256 []byte
}

// Analysis is a cached analysis result.
type Analysis struct {
	Result   []byte
	CachedAt time.Time
}

// Removed counts what an invalidation or ClearSession removed.
type Removed struct {
	Files    int64
	Analyses int64
	// Revision is the namespace's revision after the call (unchanged when
	// the call removed nothing): Watch from it to see every later change.
	Revision int64
}

// Stats are the counters of one namespace or of the whole store.
type Stats struct {
	Files       int64
	Analyses    int64
	Bytes       int64
	Sessions    int64
	Hits        int64
	Misses      int64
	Evictions   int64
	Expirations int64
	// HeldBytes is what the whole store holds for its entries: Bytes less
	// what the memory backend saves by holding a content once for many
	// sessions (equal to Bytes on Redis). StoreStats only: 0 from Stats.
	HeldBytes int64
}

// Limits are the bounds the server enforces; 0 budgets mean none.
type Limits struct {
	MaxContentBytes      int64
	MaxMessageBytes      int64
	MaxBatchItems        int64
	MaxPathBytes         int64
	MaxSessionIDBytes    int64
	MaxAnalysisTypeBytes int64
	MaxLabels            int64
	MaxLabelKeyBytes     int64
	MaxLabelValueBytes   int64
	// TotalBytes is the byte budget of the whole store.
	TotalBytes int64
	// SessionBytes is the byte budget of each namespace; 0: none.
	SessionBytes int64
	// SessionEntries is the entry budget (files plus analyses) of each
	// namespace; 0: none.
	SessionEntries int64
	// SessionTTL is the idle time before a session expires; 0: never.
	SessionTTL time.Duration
	// MaxConcurrentRPCs is how many calls are admitted at once, counted from
	// arrival until the response is sent; past it a call gets
	// RESOURCE_EXHAUSTED at once.
	MaxConcurrentRPCs int64
	// MaxInflightResponseBytes is the total size of responses built but not
	// yet sent; a call that would pass it gets RESOURCE_EXHAUSTED.
	MaxInflightResponseBytes int64
	// ReceiveTimeout is how long a call's request message may take to arrive
	// before the call is cancelled.
	ReceiveTimeout time.Duration
	// MaxWatchers is how many Watch streams may be open at once; past it
	// Watch gets RESOURCE_EXHAUSTED.
	MaxWatchers int64
	// WatchProgressInterval is how often an idle Watch stream gets a
	// progress response.
	WatchProgressInterval time.Duration
	// WatchHistoryRevisions is how many revisions of history each namespace
	// keeps for Watch to resume from.
	WatchHistoryRevisions int64
}

// ServerInfo describes the server.
type ServerInfo struct {
	Version string
	Backend string
	// BackendProperties are facts only this backend has, e.g. {"stripes":
	// "64", "eviction": "exact store-wide LRU"} for the memory backend.
	BackendProperties map[string]string
	Limits            Limits
}

func timeOf(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime()
}

func timestampOf(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func metadataOf(m *pb.FileMetadata) FileMetadata {
	return FileMetadata{
		Path:     m.GetPath(),
		Size:     m.GetSize(),
		SHA256:   m.GetSha256(),
		Mtime:    timeOf(m.GetMtime()),
		CachedAt: timeOf(m.GetCachedAt()),
		Labels:   m.GetLabels(),
		Version:  m.GetVersion(),
	}
}

// statsResponse is GetStatsResponse or GetStoreStatsResponse: the same counters.
type statsResponse interface {
	GetFiles() int64
	GetAnalyses() int64
	GetBytes() int64
	GetSessions() int64
	GetHits() int64
	GetMisses() int64
	GetEvictions() int64
	GetExpirations() int64
}

// heldBytesResponse is GetStoreStatsResponse: only the whole store's stats
// carry held_bytes.
type heldBytesResponse interface{ GetHeldBytes() int64 }

func statsOf(r statsResponse) *Stats {
	var held int64
	if h, ok := r.(heldBytesResponse); ok {
		held = h.GetHeldBytes()
	}
	return &Stats{
		Files:       r.GetFiles(),
		Analyses:    r.GetAnalyses(),
		Bytes:       r.GetBytes(),
		Sessions:    r.GetSessions(),
		Hits:        r.GetHits(),
		Misses:      r.GetMisses(),
		Evictions:   r.GetEvictions(),
		Expirations: r.GetExpirations(),
		HeldBytes:   held,
	}
}

func serverInfoOf(r *pb.GetServerInfoResponse) *ServerInfo {
	l := r.GetLimits()
	return &ServerInfo{
		Version:           r.GetVersion(),
		Backend:           r.GetBackend(),
		BackendProperties: r.GetBackendProperties(),
		Limits: Limits{
			MaxContentBytes:          l.GetMaxContentBytes(),
			MaxMessageBytes:          l.GetMaxMessageBytes(),
			MaxBatchItems:            l.GetMaxBatchItems(),
			MaxPathBytes:             l.GetMaxPathBytes(),
			MaxSessionIDBytes:        l.GetMaxSessionIdBytes(),
			MaxAnalysisTypeBytes:     l.GetMaxAnalysisTypeBytes(),
			MaxLabels:                l.GetMaxLabels(),
			MaxLabelKeyBytes:         l.GetMaxLabelKeyBytes(),
			MaxLabelValueBytes:       l.GetMaxLabelValueBytes(),
			TotalBytes:               l.GetTotalBytes(),
			SessionBytes:             l.GetSessionBytes(),
			SessionEntries:           l.GetSessionEntries(),
			SessionTTL:               l.GetSessionTtl().AsDuration(),
			MaxConcurrentRPCs:        l.GetMaxConcurrentRpcs(),
			MaxInflightResponseBytes: l.GetMaxInflightResponseBytes(),
			ReceiveTimeout:           l.GetReceiveTimeout().AsDuration(),
			MaxWatchers:              l.GetMaxWatchers(),
			WatchProgressInterval:    l.GetWatchProgressInterval().AsDuration(),
			WatchHistoryRevisions:    l.GetWatchHistoryRevisions(),
		},
	}
}
