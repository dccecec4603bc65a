package contextstore

import (
	"fmt"
	"strings"

	pb "github.com/contextstore/contextstore/client/go/gen/contextstore/v1"
)

// WatchEventKind says what a WatchEvent changed. Its values are the
// contract's WatchEventKind numbers, so a kind a newer server sends passes
// through as its number.
type WatchEventKind int32

// The kinds of WatchEvent.
const (
	EventUnspecified WatchEventKind = WatchEventKind(pb.WatchEventKind_WATCH_EVENT_KIND_UNSPECIFIED)
	// EventFileCached: a file was stored or replaced (SHA256, Version set).
	EventFileCached WatchEventKind = WatchEventKind(pb.WatchEventKind_WATCH_EVENT_KIND_FILE_CACHED)
	// EventFileInvalidated: a file was removed by InvalidateFile or
	// InvalidatePrefix.
	EventFileInvalidated WatchEventKind = WatchEventKind(pb.WatchEventKind_WATCH_EVENT_KIND_FILE_INVALIDATED)
	// EventFileEvicted: a file was evicted by a byte or entry budget.
	EventFileEvicted WatchEventKind = WatchEventKind(pb.WatchEventKind_WATCH_EVENT_KIND_FILE_EVICTED)
	// EventAnalysisCached: an analysis was stored or replaced (AnalysisType set).
	EventAnalysisCached WatchEventKind = WatchEventKind(pb.WatchEventKind_WATCH_EVENT_KIND_ANALYSIS_CACHED)
	// EventAnalysisRemoved: an analysis was removed (AnalysisType and Reason set).
	EventAnalysisRemoved WatchEventKind = WatchEventKind(pb.WatchEventKind_WATCH_EVENT_KIND_ANALYSIS_REMOVED)
	// EventSessionCleared: ClearSession removed the whole namespace (no Path).
	EventSessionCleared WatchEventKind = WatchEventKind(pb.WatchEventKind_WATCH_EVENT_KIND_SESSION_CLEARED)
	// EventSessionExpired: the session expired after session_ttl idle;
	// everything in it is gone (no Path).
	EventSessionExpired WatchEventKind = WatchEventKind(pb.WatchEventKind_WATCH_EVENT_KIND_SESSION_EXPIRED)
)

// String is the contract's name without its prefix: "FILE_CACHED", ...,
// "UNSPECIFIED"; "WatchEventKind(9)" for a number the contract lacks.
func (k WatchEventKind) String() string {
	return enumName(pb.WatchEventKind_name, int32(k), "WATCH_EVENT_KIND_", "WatchEventKind")
}

// RemovalReason says why an analysis was removed (EventAnalysisRemoved);
// ReasonUnspecified on every other event. Its values are the contract's.
type RemovalReason int32

// The reasons of EventAnalysisRemoved.
const (
	ReasonUnspecified RemovalReason = RemovalReason(pb.RemovalReason_REMOVAL_REASON_UNSPECIFIED)
	// ReasonStale: its file was stored with content it was not computed from.
	ReasonStale RemovalReason = RemovalReason(pb.RemovalReason_REMOVAL_REASON_STALE)
	// ReasonInvalidated: InvalidateFile, InvalidateAnalysis or InvalidatePrefix.
	ReasonInvalidated RemovalReason = RemovalReason(pb.RemovalReason_REMOVAL_REASON_INVALIDATED)
	// ReasonEvicted: a byte or entry budget.
	ReasonEvicted RemovalReason = RemovalReason(pb.RemovalReason_REMOVAL_REASON_EVICTED)
)

// String is the contract's name without its prefix: "STALE", "INVALIDATED",
// "EVICTED", "UNSPECIFIED"; "RemovalReason(9)" for a number the contract lacks.
func (r RemovalReason) String() string {
	return enumName(pb.RemovalReason_name, int32(r), "REMOVAL_REASON_", "RemovalReason")
}

func enumName(names map[int32]string, n int32, prefix, typeName string) string {
	if name, ok := names[n]; ok {
		return strings.TrimPrefix(name, prefix)
	}
	return fmt.Sprintf("%s(%d)", typeName, n)
}

// WatchEvent is one change to one entry, or to a whole namespace.
type WatchEvent struct {
	Kind WatchEventKind
	// Path is the entry's path; "" for session events.
	Path string
	// SHA256 is the stored content's digest (EventFileCached).
	SHA256 []byte
	// Version is the stored file's version (EventFileCached); 0 otherwise.
	Version int64
	// AnalysisType is the analysis's type (EventAnalysisCached,
	// EventAnalysisRemoved); "" otherwise.
	AnalysisType string
	// Reason is why an analysis was removed (EventAnalysisRemoved).
	Reason RemovalReason
}

// WatchResponse is one revision of a namespace, as Watch yields it: the
// events of one atomic change, whole and in the order they happened, or, when
// Progress is set, no events and the revision up to which nothing was missed.
type WatchResponse struct {
	// Revision is that of these events, or, for progress, the revision the
	// watcher is up to date with. Revisions only grow along a Watch.
	Revision int64
	// Events are never empty unless Progress is set.
	Events []WatchEvent
	// Progress marks a response without events: the stream's first one (at
	// the revision it starts from), then one per watch_progress_interval
	// while nothing changes.
	Progress bool
}

func watchResponseOf(r *pb.WatchResponse) WatchResponse {
	out := WatchResponse{Revision: r.GetRevision(), Progress: r.GetProgress()}
	if len(r.GetEvents()) > 0 {
		out.Events = make([]WatchEvent, len(r.GetEvents()))
	}
	for i, e := range r.GetEvents() {
		out.Events[i] = WatchEvent{
			Kind:         WatchEventKind(e.GetKind()),
			Path:         e.GetPath(),
			SHA256:       e.GetSha256(),
			Version:      e.GetVersion(),
			AnalysisType: e.GetAnalysisType(),
			Reason:       RemovalReason(e.GetReason()),
		}
	}
	return out
}
