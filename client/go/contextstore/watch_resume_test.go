package contextstore

import (
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

var errDown = FromError(status.Error(codes.Unavailable, "down"))

// The first retry of a run of failures goes at once, the next ones after
// 100 ms doubling to 2 s: here the clock stands still, so no wait is cut short.
func TestResumeBacksOffFrom100msDoublingTo2s(t *testing.T) {
	r := resume{patience: time.Hour}
	now := time.Unix(1000, 0)
	var waits []time.Duration
	for range 9 {
		wait, again := r.backoff(errDown, now)
		if !again {
			t.Fatal("gave up")
		}
		waits = append(waits, wait)
	}
	ms := time.Millisecond
	if want := []time.Duration{0, 100 * ms, 200 * ms, 400 * ms, 800 * ms, 1600 * ms, 2000 * ms, 2000 * ms, 2000 * ms}; !slices.Equal(waits, want) {
		t.Fatalf("waits = %v, want %v", waits, want)
	}
}

// Resuming goes on while less than the resume timeout has passed since the
// first failure of the run; no wait goes past it; then the error is returned.
func TestResumeGivesUpOnceTheTimeoutHasPassed(t *testing.T) {
	r := resume{patience: 1 * time.Second}
	began := time.Unix(1000, 0)
	at := func(d time.Duration) (time.Duration, bool) { return r.backoff(errDown, began.Add(d)) }
	for _, step := range []struct {
		at, wait time.Duration
		again    bool
	}{
		{0, 0, true}, // the run begins: at once
		{10 * time.Millisecond, 100 * time.Millisecond, true},  // then 100 ms
		{700 * time.Millisecond, 200 * time.Millisecond, true}, // 200 ms: 300 ms are left
		{900 * time.Millisecond, 100 * time.Millisecond, true}, // 400 ms, cut to the 100 ms left
		{time.Second, 0, false},                                // the timeout has passed
	} {
		if wait, again := at(step.at); wait != step.wait || again != step.again {
			t.Fatalf("at %v: %v, %v; want %v, %v", step.at, wait, again, step.wait, step.again)
		}
	}
}

// A response received ends the run: the timeout counts again from the next
// failure, and its first retry goes at once. The revision it carries is the
// next stream's start.
func TestResumeResponsesResetTheTimeout(t *testing.T) {
	r := resume{revision: 7, patience: time.Second}
	began := time.Unix(1000, 0)
	for _, d := range []time.Duration{0, 500 * time.Millisecond, 900 * time.Millisecond} {
		if _, again := r.backoff(errDown, began.Add(d)); !again {
			t.Fatalf("gave up at %v", d)
		}
	}
	r.received(9)
	if r.revision != 9 {
		t.Fatalf("revision = %d", r.revision)
	}
	// 1.5 s after the first failure, but the first of a new run.
	if wait, again := r.backoff(errDown, began.Add(1500*time.Millisecond)); wait != 0 || !again {
		t.Fatalf("after a response: %v, %v", wait, again)
	}
	if wait, again := r.backoff(errDown, began.Add(2400*time.Millisecond)); wait != 100*time.Millisecond || !again {
		t.Fatalf("0.9 s into the new run: %v, %v", wait, again)
	}
	if _, again := r.backoff(errDown, began.Add(2500*time.Millisecond)); again {
		t.Fatal("1 s into the new run: resumed")
	}
}

// Only UNAVAILABLE is resumed, and anything else does not start a run; a
// timeout of 0 resumes nothing.
func TestResumeOnlyUnavailableWithinTheTimeout(t *testing.T) {
	r := resume{patience: time.Second}
	now := time.Unix(1000, 0)
	for _, code := range []codes.Code{codes.OutOfRange, codes.InvalidArgument, codes.Internal} {
		if _, again := r.backoff(FromError(status.Error(code, "no")), now); again || r.failing {
			t.Fatalf("%v resumed", code)
		}
	}
	r = resume{patience: 0}
	if _, again := r.backoff(errDown, now); again {
		t.Fatal("a zero timeout resumed")
	}
}
