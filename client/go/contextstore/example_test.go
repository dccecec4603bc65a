package contextstore_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/contextstore/contextstore/client/go/contextstore"
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
