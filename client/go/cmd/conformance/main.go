// Command conformance is the Go runner of the conformance suite
// (tests/conformance/README.md): a thin adapter that runs each step through the
// typed client (package contextstore) and prints what came back, normalized.
// It judges nothing; the Python harness does.
//
// Usage: conformance --target TARGET [--target TARGET...] --cases PATH
//
//	[--tls-ca FILE] [--tls-cert FILE --tls-key FILE] [--token TOKEN]
//	[--identity NAME=TOKEN...]
//
// Each TARGET is handed to contextstore.NewClient as it is (so "A,B" is one
// client balancing over two servers). With several --target, step k of every
// case goes to client k mod n and the setup clears go to the first.
//
// Any --tls-* flag makes every client TLS. The default clients send --token
// (without it, $CONTEXTSTORE_TOKEN); a step with "as": "NAME" runs on a client
// sending NAME's token from --identity instead, made on first use per
// (target, NAME).
//
// It prints one JSON line per case, in file order, and exits 0 once every case
// is printed, whatever the outcomes; non-zero only when it could not run.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/contextstore/contextstore/client/go/contextstore"
)

const deadline = 10 * time.Second

type suite struct {
	Cases []testCase `json:"cases"`
}

type testCase struct {
	Name     string   `json:"name"`
	Sessions []string `json:"sessions"`
	Steps    []step   `json:"steps"`
}

type step struct {
	Op      string          `json:"op"`
	As      string          `json:"as"`
	Session string          `json:"session"`
	Args    json.RawMessage `json:"args"`
}

// outcome is exactly one of result, miss, error or runner_error.
type outcome map[string]any

// targets is the repeatable --target flag.
type targets []string

func (t *targets) String() string { return strings.Join(*t, " ") }

func (t *targets) Set(value string) error {
	if value == "" {
		return errors.New("empty target")
	}
	*t = append(*t, value)
	return nil
}

const usage = "usage: conformance --target TARGET [--target TARGET...] --cases PATH " +
	"[--tls-ca FILE] [--tls-cert FILE --tls-key FILE] [--token TOKEN] [--identity NAME=TOKEN...]"

func main() {
	var servers targets
	var named identities = map[string]string{}
	var settings contextstore.TLS
	flag.Var(&servers, "target", "a target of the typed client (HOST:PORT, a list A,B, dns:///NAME:PORT); repeat it to alternate steps over clients")
	casesPath := flag.String("cases", "", "path of the cases file the harness wrote")
	flag.StringVar(&settings.CA, "tls-ca", "", "PEM CA bundle to trust (TLS for every client)")
	flag.StringVar(&settings.Cert, "tls-cert", "", "client certificate, PEM (mTLS; with --tls-key)")
	flag.StringVar(&settings.Key, "tls-key", "", "client key, PEM (mTLS; with --tls-cert)")
	token := flag.String("token", "", "the default clients' token (default: $CONTEXTSTORE_TOKEN)")
	flag.Var(&named, "identity", `NAME=TOKEN: the token of the steps with "as": "NAME" (repeatable)`)
	flag.Parse()
	if len(servers) == 0 || *casesPath == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	var common []contextstore.Option
	if settings != (contextstore.TLS{}) {
		common = append(common, contextstore.WithTLS(settings))
	}
	p := newPool(servers, common, named)
	flag.Visit(func(f *flag.Flag) {
		if f.Name == "token" {
			p.defaultToken = token
		}
	})
	defer p.close()
	if err := run(p, *casesPath); err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		os.Exit(1)
	}
}

func run(p *pool, casesPath string) error {
	raw, err := os.ReadFile(casesPath)
	if err != nil {
		return err
	}
	var s suite
	if err := json.Unmarshal(raw, &s); err != nil {
		return fmt.Errorf("%s: %w", casesPath, err)
	}
	// The default clients are made up front: bad TLS settings stop the run.
	for i := range p.targets {
		if _, err := p.client(i, ""); err != nil {
			return err
		}
	}

	out := json.NewEncoder(os.Stdout)
	out.SetEscapeHTML(false)
	for _, c := range s.Cases {
		if err := out.Encode(runCase(p, c)); err != nil {
			return err
		}
	}
	return nil
}

// runCase returns the case's line: {"case", "outcomes"}, or {"case",
// "setup_error"} when clearing a listed session failed. The first default
// client clears; step k goes to target k mod n, as its "as" identity.
func runCase(p *pool, c testCase) map[string]any {
	for _, session := range c.Sessions {
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		client, err := p.client(0, "")
		if err == nil {
			_, err = client.Session(session).ClearSession(ctx)
		}
		cancel()
		if err != nil {
			return map[string]any{"case": c.Name, "setup_error": fmt.Sprintf("clear_session(%q): %v", session, err)}
		}
	}
	outcomes := make([]outcome, len(c.Steps))
	for i, st := range c.Steps {
		client, err := p.client(i%len(p.targets), st.As)
		if err != nil {
			outcomes[i] = outcome{"runner_error": err.Error()}
			continue
		}
		outcomes[i] = runStep(client, st, outcomes[:i])
	}
	return map[string]any{"case": c.Name, "outcomes": outcomes}
}

// runStep runs one step; earlier are the case's outcomes before it (a
// watch's after_step names one of them).
func runStep(client *contextstore.Client, st step, earlier []outcome) outcome {
	op, ok := operations[st.Op]
	if !ok {
		return outcome{"runner_error": fmt.Sprintf("unknown operation %q", st.Op)}
	}
	a, err := decodeArgs(st.Args)
	if err == nil {
		err = a.resolveAfterStep(earlier)
	}
	if err != nil {
		return outcome{"runner_error": fmt.Sprintf("%s: bad args: %v", st.Op, err)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	// Session("") is the global namespace.
	result, err := op(ctx, client.Session(st.Session), a)
	var bad badArgs
	switch {
	case err == nil:
		return outcome{"result": result}
	case errors.As(err, &bad):
		return outcome{"runner_error": fmt.Sprintf("%s: bad args: %v", st.Op, bad.error)}
	case reads[st.Op] && errors.Is(err, contextstore.ErrNotFound):
		return outcome{"miss": true}
	}
	return errorOutcome(err)
}

// errorOutcome is a failed call's outcome: its code and violations, plus the
// current version and digest of a failed precondition, or the oldest and
// current revisions of a compacted watch start.
func errorOutcome(err error) outcome {
	var e *contextstore.Error
	if !errors.As(err, &e) {
		// The client promises an *Error for every failed call.
		return outcome{"runner_error": fmt.Sprintf("not a *contextstore.Error: %v", err)}
	}
	violations := append(append([]string{}, e.Fields()...), e.QuotaSubjects()...)
	failure := map[string]any{
		"code": contextstore.CodeName(e.Code), "violations": violations, "message": e.Message,
	}
	var precondition *contextstore.PreconditionFailedError
	if errors.As(err, &precondition) {
		failure["current_version"] = precondition.CurrentVersion
		failure["current_sha256"] = b64(precondition.CurrentSHA256)
	}
	var compacted *contextstore.RevisionCompactedError
	if errors.As(err, &compacted) {
		failure["oldest_revision"] = compacted.OldestRevision
		failure["current_revision"] = compacted.CurrentRevision
	}
	return outcome{"error": failure}
}
