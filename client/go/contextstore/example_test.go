package contextstore_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/contextstore/contextstore/client/go/contextstore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The README's example (compiled by go vet and go test, not run: it needs a server).
func Example() {
	client, err := contextstore.NewClient("127.0.0.1:50051")
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	ctx := context.Background() // no deadline: each call gets the default 10 s

	agent := client.Session("agent-42") // a handle bound to one session
	meta, err := agent.CacheFile(ctx, "src/app.py", []byte("print('hi')\n"),
		contextstore.WithLabels(map[string]string{"lang": "python"}))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(meta.Size, meta.Version)

	file, err := agent.GetFile(ctx, "src/app.py")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s", file.Content)

	// A miss is ErrNotFound; the global namespace is another namespace.
	if _, err := client.Global().GetFile(ctx, "src/app.py"); errors.Is(err, contextstore.ErrNotFound) {
		fmt.Println("not in the global namespace")
	}

	// Stats counts this handle's namespace; StoreStats counts the whole store.
	mine, err := agent.Stats(ctx)
	if err != nil {
		log.Fatal(err)
	}
	all, err := client.StoreStats(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(mine.Files, all.Files, all.Sessions)

	// Failures are *contextstore.Error, with the fields or limits at fault.
	var e *contextstore.Error
	if _, err := agent.CacheFile(ctx, "", nil); errors.As(err, &e) {
		fmt.Println(e.Code, e.Fields()) // InvalidArgument [path]
	}
}

// The README's TLS example (compiled, not run: it needs a server).
func ExampleWithTLS() {
	ctx := context.Background()
	client, err := contextstore.NewClient("cs.internal:50051",
		// Trust the server's CA ("" = the system roots) and present a client
		// certificate (mTLS; Cert and Key both or neither).
		contextstore.WithTLS(contextstore.TLS{CA: "ca.pem", Cert: "agent-7.pem", Key: "agent-7-key.pem"}),
		// Sent as "authorization: Bearer <token>" on every call; without this
		// option, $CONTEXTSTORE_TOKEN (empty: none).
		contextstore.WithToken(os.Getenv("MY_TOKEN")),
	)
	if err != nil {
		log.Fatal(err) // unreadable files, a cert without its key...
	}
	defer client.Close()
	_, err = client.Session("team-b/x").GetFile(ctx, "a.py")
	if status.Code(err) == codes.PermissionDenied { // outside the identity's role or scope
		log.Print(err)
	}
}

// The README's compare-and-set example (compiled, not run: it needs a server).
func ExampleIfVersion() {
	ctx := context.Background()
	client, err := contextstore.NewClient("127.0.0.1:50051")
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	agent := client.Session("agent-42")

	// Create only: IfVersion(0) stores only where no file is.
	_, err = agent.CacheFile(ctx, "a.py", []byte("one\n"), contextstore.IfVersion(0))
	var pf *contextstore.PreconditionFailedError
	if errors.As(err, &pf) { // ABORTED: nothing was changed
		fmt.Println("already there:", pf.CurrentVersion, pf.CurrentSHA256)
	}

	// Read, then write over exactly what was read.
	file, err := agent.GetFile(ctx, "a.py")
	if err != nil {
		log.Fatal(err)
	}
	_, err = agent.CacheFile(ctx, "a.py", []byte("two\n"), contextstore.IfSHA256(file.Metadata.SHA256))
	if errors.Is(err, contextstore.ErrPreconditionFailed) {
		fmt.Println("someone else wrote it first: read again")
	}

	// Store an analysis only against the content it was computed from.
	_, _ = agent.CacheAnalysis(ctx, "a.py", "ast", []byte("<tree>"), contextstore.IfSHA256(file.Metadata.SHA256))

	// Re-read only if it changed: Unchanged, and no content, when it did not.
	again, err := agent.GetFile(ctx, "a.py", contextstore.WithKnownSHA256(file.Metadata.SHA256))
	if err == nil && again.Unchanged {
		fmt.Println("still", file.Metadata.Version)
	}
}

// The README's listing example (compiled, not run: it needs a server).
func ExampleSession_ListFiles() {
	ctx := context.Background()
	client, err := contextstore.NewClient("127.0.0.1:50051")
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	agent := client.Session("agent-42")

	// Every file under src/, in path order; pages of 500 are fetched as the
	// loop goes.
	for meta, err := range agent.ListFiles(ctx, contextstore.WithPathPrefix("src/"), contextstore.WithPageSize(500)) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(meta.Path, meta.Size, meta.Version)
	}

	// One page at a time, keeping the token yourself ("" for the first page;
	// an empty NextPageToken marks the last).
	page, err := agent.ListFilesPage(ctx, "src/", 100, "")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(page.Files), page.NextPageToken != "")

	// Drop everything under a prefix, files and analyses, at once.
	removed, err := agent.InvalidatePrefix(ctx, "build/")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(removed.Files, removed.Analyses)
}

func ExampleSession_Watch() {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	client, err := contextstore.NewClient("127.0.0.1:50051")
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	agent := client.Session("agent-42")

	// Read a snapshot, then watch every change after it: the page's revision
	// is where the watch starts (exclusive).
	page, err := agent.ListFilesPage(ctx, "src/", 1000, "")
	if err != nil {
		log.Fatal(err)
	}
	for r, err := range agent.Watch(ctx, contextstore.WithStartRevision(page.Revision), contextstore.WithWatchPrefix("src/")) {
		var compacted *contextstore.RevisionCompactedError
		switch {
		case errors.As(err, &compacted):
			// Too far behind: the changes since page.Revision are gone.
			// Read again, then watch from the new page's revision.
			fmt.Println("compacted; oldest retained", compacted.OldestRevision)
			return
		case err != nil:
			log.Fatal(err) // UNAVAILABLE once resuming timed out (30 s), or ctx's end
		case r.Progress:
			continue // up to date with r.Revision; nothing changed
		}
		for _, e := range r.Events { // one atomic change, whole
			fmt.Println(r.Revision, e.Kind, e.Path, e.Reason)
		}
	}
}
