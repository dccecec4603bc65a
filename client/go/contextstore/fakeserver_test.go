package contextstore_test

import (
	"context"
	"net"
	"testing"

	"github.com/contextstore/contextstore/client/go/contextstore"
	pb "github.com/contextstore/contextstore/client/go/gen/contextstore/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/test/bufconn"
)

// serveFake serves srv, a fake ContextStoreService, on an in-memory listener
// with the server options given, until the test ends.
func serveFake(t *testing.T, srv pb.ContextStoreServiceServer, options ...grpc.ServerOption) *bufconn.Listener {
	t.Helper()
	listener := bufconn.Listen(1 << 20)
	server := grpc.NewServer(options...)
	pb.RegisterContextStoreServiceServer(server, srv)
	go func() { _ = server.Serve(listener) }()
	t.Cleanup(server.Stop)
	return listener
}

// connectFake returns a client, closed when the test ends, whose every
// connection goes to listener; opts come before the dialer.
func connectFake(t *testing.T, listener *bufconn.Listener, opts ...contextstore.Option) *contextstore.Client {
	t.Helper()
	dialer := grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
		return listener.DialContext(ctx)
	})
	return newClient(t, "passthrough:///bufnet", append(opts, contextstore.WithDialOptions(dialer))...)
}

// newClient returns a client of target, closed when the test ends.
func newClient(t *testing.T, target string, opts ...contextstore.Option) *contextstore.Client {
	t.Helper()
	client, err := contextstore.NewClient(target, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}
