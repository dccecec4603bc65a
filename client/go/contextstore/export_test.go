package contextstore

import "time"

// WithWatchClock makes Watch read the time of its resume timeout from now:
// the tests' fake clock.
func WithWatchClock(now func() time.Time) WatchOption {
	return func(w *watchSettings) { w.now = now }
}
