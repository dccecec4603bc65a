package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/contextstore/contextstore/client/go/contextstore"
)

// resolveAfterStep turns after_step (the index of an earlier step of the
// case whose result carries a revision) into start_revision.
func (a *args) resolveAfterStep(earlier []outcome) error {
	if a.AfterStep == nil {
		return nil
	}
	i := *a.AfterStep
	if i < 0 || i >= len(earlier) {
		return fmt.Errorf("after_step %d: no such earlier step", i)
	}
	result, _ := earlier[i]["result"].(map[string]any)
	revision, ok := result["revision"].(int64)
	if !ok {
		return fmt.Errorf("after_step %d: its outcome has no result revision: %v", i, earlier[i])
	}
	a.StartRevision = &revision
	return nil
}

// watch opens a watch through the typed client, skips progress responses,
// collects `responses` event-carrying ones (with 0: waits for the first
// response, always a progress one), then closes it by leaving the loop. The
// step's deadline (ctx) bounds it all; the client resumes dropped streams on
// its own meanwhile.
func watch(ctx context.Context, s *contextstore.Session, a args) (any, error) {
	opts := []contextstore.WatchOption{contextstore.WithWatchPrefix(a.PathPrefix)}
	if a.StartRevision != nil {
		opts = append(opts, contextstore.WithStartRevision(*a.StartRevision))
	}
	out := []any{}
	for r, err := range s.Watch(ctx, opts...) {
		switch {
		case err != nil:
			return nil, err
		case a.Responses <= 0:
			return out, nil
		case r.Progress:
			continue
		}
		out = append(out, watchResponse(r))
		if len(out) >= a.Responses {
			return out, nil
		}
	}
	// Watch only ends with an error, yielded above.
	return nil, errors.New("the watch ended without an error")
}

// watchResponse is {"revision", "events"}; each event has every key, with
// "" and 0 for what its kind leaves unset.
func watchResponse(r contextstore.WatchResponse) any {
	events := make([]any, len(r.Events))
	for i, e := range r.Events {
		reason := ""
		if e.Reason != contextstore.ReasonUnspecified {
			reason = e.Reason.String()
		}
		events[i] = map[string]any{
			"kind": e.Kind.String(), "path": e.Path, "sha256": b64(e.SHA256), "version": e.Version,
			"analysis_type": e.AnalysisType, "reason": reason,
		}
	}
	return map[string]any{"revision": r.Revision, "events": events}
}
