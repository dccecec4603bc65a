package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/contextstore/contextstore/client/go/contextstore"
)

// args holds every operation's arguments (README.md, "Operations"): JSON
// decodes content, result and digests from base64 and mtime from RFC 3339.
// An absent optional argument is nil, and is not sent.
type args struct {
	Path         string            `json:"path"`
	Content      []byte            `json:"content"`
	Labels       map[string]string `json:"labels"`
	Mtime        *time.Time        `json:"mtime"`
	AnalysisType string            `json:"analysis_type"`
	Result       []byte            `json:"result"`
	Paths        []string          `json:"paths"`
	Files        []upload          `json:"files"`
	IfVersion    *int64            `json:"if_version"`
	IfSHA256     *[]byte           `json:"if_sha256"`
	// KnownSHA256 is one digest (get_file) or an object of digests by path
	// (batch_get_files).
	KnownSHA256 json.RawMessage `json:"known_sha256"`
	PathPrefix  string          `json:"path_prefix"`
	PageSize    *int32          `json:"page_size"`
	PageToken   string          `json:"page_token"`
	// watch: start_revision, or after_step (resolved by runStep into
	// StartRevision), and how many event responses to collect.
	StartRevision *int64 `json:"start_revision"`
	AfterStep     *int   `json:"after_step"`
	Responses     int    `json:"responses"`
}

// listOptions are the path_prefix and page_size given, as ListFiles options.
func (a args) listOptions() []contextstore.ListOption {
	var out []contextstore.ListOption
	if a.PathPrefix != "" {
		out = append(out, contextstore.WithPathPrefix(a.PathPrefix))
	}
	if a.PageSize != nil {
		out = append(out, contextstore.WithPageSize(*a.PageSize))
	}
	return out
}

type upload struct {
	Path      string            `json:"path"`
	Content   []byte            `json:"content"`
	Labels    map[string]string `json:"labels"`
	Mtime     *time.Time        `json:"mtime"`
	IfVersion *int64            `json:"if_version"`
	IfSHA256  *[]byte           `json:"if_sha256"`
}

// preconditions are the if_version and if_sha256 given, as options of any write.
func (a args) preconditions() []contextstore.Precondition {
	var out []contextstore.Precondition
	if a.IfVersion != nil {
		out = append(out, contextstore.IfVersion(*a.IfVersion))
	}
	if a.IfSHA256 != nil {
		out = append(out, contextstore.IfSHA256(*a.IfSHA256))
	}
	return out
}

// knownSHA256 decodes known_sha256 into v ([]byte or map[string][]byte);
// false when it is absent.
func (a args) knownSHA256(v any) (bool, error) {
	if len(a.KnownSHA256) == 0 || string(a.KnownSHA256) == "null" {
		return false, nil
	}
	if err := json.Unmarshal(a.KnownSHA256, v); err != nil {
		return false, fmt.Errorf("known_sha256: %w", err)
	}
	return true, nil
}

func decodeArgs(raw json.RawMessage) (args, error) {
	var a args
	if len(raw) == 0 {
		return a, nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	err := d.Decode(&a)
	return a, err
}

// badArgs is an argument an operation could not decode: a runner_error.
type badArgs struct{ error }

// operation runs one step on a handle and returns its normalized result.
type operation func(ctx context.Context, s *contextstore.Session, a args) (any, error)

// reads report a miss as ErrNotFound.
var reads = map[string]bool{"get_file": true, "get_metadata": true, "get_analysis": true}

var operations = map[string]operation{
	"cache_file": func(ctx context.Context, s *contextstore.Session, a args) (any, error) {
		var opts []contextstore.FileOption
		if a.Labels != nil {
			opts = append(opts, contextstore.WithLabels(a.Labels))
		}
		if a.Mtime != nil {
			opts = append(opts, contextstore.WithMtime(*a.Mtime))
		}
		for _, p := range a.preconditions() {
			opts = append(opts, p)
		}
		return then(s.CacheFile(ctx, a.Path, a.Content, opts...))(metadata)
	},
	"get_file": func(ctx context.Context, s *contextstore.Session, a args) (any, error) {
		var opts []contextstore.GetFileOption
		var known []byte
		if ok, err := a.knownSHA256(&known); err != nil {
			return nil, badArgs{err}
		} else if ok {
			opts = append(opts, contextstore.WithKnownSHA256(known))
		}
		return then(s.GetFile(ctx, a.Path, opts...))(file)
	},
	"get_metadata": func(ctx context.Context, s *contextstore.Session, a args) (any, error) {
		return then(s.GetMetadata(ctx, a.Path))(metadata)
	},
	"cache_analysis": func(ctx context.Context, s *contextstore.Session, a args) (any, error) {
		var opts []contextstore.AnalysisOption
		for _, p := range a.preconditions() {
			opts = append(opts, p)
		}
		return then(s.CacheAnalysis(ctx, a.Path, a.AnalysisType, a.Result, opts...))(func(at time.Time) any {
			return map[string]any{"cached_at": rfc3339(at)}
		})
	},
	"get_analysis": func(ctx context.Context, s *contextstore.Session, a args) (any, error) {
		return then(s.GetAnalysis(ctx, a.Path, a.AnalysisType))(analysis)
	},
	"invalidate_file": func(ctx context.Context, s *contextstore.Session, a args) (any, error) {
		var opts []contextstore.InvalidateOption
		for _, p := range a.preconditions() {
			opts = append(opts, p)
		}
		return then(s.InvalidateFile(ctx, a.Path, opts...))(removed)
	},
	"invalidate_analysis": func(ctx context.Context, s *contextstore.Session, a args) (any, error) {
		return then(s.InvalidateAnalysis(ctx, a.Path, a.AnalysisType))(count)
	},
	"invalidate_analyses": func(ctx context.Context, s *contextstore.Session, a args) (any, error) {
		return then(s.InvalidateAnalyses(ctx, a.Path))(count)
	},
	"clear_session": func(ctx context.Context, s *contextstore.Session, _ args) (any, error) {
		return then(s.ClearSession(ctx))(removed)
	},
	"batch_get_files": func(ctx context.Context, s *contextstore.Session, a args) (any, error) {
		var opts []contextstore.BatchGetOption
		var known map[string][]byte
		if ok, err := a.knownSHA256(&known); err != nil {
			return nil, badArgs{err}
		} else if ok {
			opts = append(opts, contextstore.WithKnownSHA256s(known))
		}
		return then(s.BatchGetFiles(ctx, a.Paths, opts...))(func(results []contextstore.FileResult) any {
			out := make([]any, len(results))
			for i, r := range results {
				if r.Found {
					out[i] = file(&r.File)
				}
			}
			return out
		})
	},
	"batch_cache_files": func(ctx context.Context, s *contextstore.Session, a args) (any, error) {
		files := make([]contextstore.FileUpload, len(a.Files))
		for i, f := range a.Files {
			files[i] = contextstore.FileUpload{Path: f.Path, Content: f.Content, Labels: f.Labels, IfVersion: f.IfVersion}
			if f.Mtime != nil {
				files[i].Mtime = *f.Mtime
			}
			if f.IfSHA256 != nil {
				files[i].IfSHA256 = append([]byte{}, *f.IfSHA256...)
			}
		}
		return then(s.BatchCacheFiles(ctx, files))(func(ms []contextstore.FileMetadata) any {
			out := make([]any, len(ms))
			for i := range ms {
				out[i] = metadata(&ms[i])
			}
			return out
		})
	},
	// list_files drains the paging iterator: every page, in path order.
	"list_files": func(ctx context.Context, s *contextstore.Session, a args) (any, error) {
		out := []any{}
		for m, err := range s.ListFiles(ctx, a.listOptions()...) {
			if err != nil {
				return nil, err
			}
			out = append(out, metadata(&m))
		}
		return out, nil
	},
	"list_files_page": func(ctx context.Context, s *contextstore.Session, a args) (any, error) {
		var pageSize int32 // absent: 0, the server's default
		if a.PageSize != nil {
			pageSize = *a.PageSize
		}
		return then(s.ListFilesPage(ctx, a.PathPrefix, pageSize, a.PageToken))(func(p *contextstore.FilePage) any {
			files := make([]any, len(p.Files))
			for i := range p.Files {
				files[i] = metadata(&p.Files[i])
			}
			return map[string]any{"files": files, "next_page_token": p.NextPageToken, "revision": p.Revision}
		})
	},
	"invalidate_prefix": func(ctx context.Context, s *contextstore.Session, a args) (any, error) {
		return then(s.InvalidatePrefix(ctx, a.PathPrefix))(removed)
	},
	"stats": func(ctx context.Context, s *contextstore.Session, _ args) (any, error) {
		return then(s.Stats(ctx))(stats)
	},
	"store_stats": func(ctx context.Context, s *contextstore.Session, _ args) (any, error) {
		return then(s.StoreStats(ctx))(stats)
	},
	"server_info": func(ctx context.Context, s *contextstore.Session, _ args) (any, error) {
		return then(s.ServerInfo(ctx))(serverInfo)
	},
	"watch": watch,
}

// then normalizes a call's value when it succeeded:
// then(s.GetFile(ctx, path))(file).
func then[T any](value T, err error) func(func(T) any) (any, error) {
	return func(normalize func(T) any) (any, error) {
		if err != nil {
			return nil, err
		}
		return normalize(value), nil
	}
}

// -- normalized results (README.md, "What a runner prints") ------------------

func b64(data []byte) string { return base64.StdEncoding.EncodeToString(data) }

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func metadata(m *contextstore.FileMetadata) any {
	var mtime any // null when unset
	if !m.Mtime.IsZero() {
		mtime = rfc3339(m.Mtime)
	}
	return map[string]any{
		"path": m.Path, "size": m.Size, "sha256": b64(m.SHA256), "mtime": mtime,
		"cached_at": rfc3339(m.CachedAt), "labels": object(m.Labels), "version": m.Version,
	}
}

// object prints a nil map as {}, not null: every key is present.
func object(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func file(f *contextstore.File) any {
	return map[string]any{"content": b64(f.Content), "metadata": metadata(&f.Metadata), "unchanged": f.Unchanged}
}

func analysis(a *contextstore.Analysis) any {
	return map[string]any{"result": b64(a.Result), "cached_at": rfc3339(a.CachedAt)}
}

func removed(r contextstore.Removed) any {
	return map[string]any{"files": r.Files, "analyses": r.Analyses, "revision": r.Revision}
}

func count(n int64) any { return n }

func stats(s *contextstore.Stats) any {
	return map[string]any{
		"files": s.Files, "analyses": s.Analyses, "bytes": s.Bytes, "sessions": s.Sessions,
		"hits": s.Hits, "misses": s.Misses, "evictions": s.Evictions, "expirations": s.Expirations,
		"held_bytes": s.HeldBytes,
	}
}

func serverInfo(info *contextstore.ServerInfo) any {
	l := info.Limits
	return map[string]any{
		"version": info.Version, "backend": info.Backend,
		"backend_properties": object(info.BackendProperties),
		"limits": map[string]any{
			"max_content_bytes":           l.MaxContentBytes,
			"max_message_bytes":           l.MaxMessageBytes,
			"max_batch_items":             l.MaxBatchItems,
			"max_path_bytes":              l.MaxPathBytes,
			"max_session_id_bytes":        l.MaxSessionIDBytes,
			"max_analysis_type_bytes":     l.MaxAnalysisTypeBytes,
			"max_labels":                  l.MaxLabels,
			"max_label_key_bytes":         l.MaxLabelKeyBytes,
			"max_label_value_bytes":       l.MaxLabelValueBytes,
			"total_bytes":                 l.TotalBytes,
			"session_bytes":               l.SessionBytes,
			"session_entries":             l.SessionEntries,
			"session_ttl":                 l.SessionTTL.Seconds(),
			"max_concurrent_rpcs":         l.MaxConcurrentRPCs,
			"max_inflight_response_bytes": l.MaxInflightResponseBytes,
			"receive_timeout":             l.ReceiveTimeout.Seconds(),
			"max_watchers":                l.MaxWatchers,
			"watch_progress_interval":     l.WatchProgressInterval.Seconds(),
			"watch_history_revisions":     l.WatchHistoryRevisions,
		},
	}
}
