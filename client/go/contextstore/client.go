// Package contextstore is the Go client of contextstore, a session-scoped cache
// of file contents and analysis results served over gRPC.
//
// A Client owns one connection; Client.Session returns a handle bound to one
// session (the empty ID, or Client.Global, is the global namespace) that has
// every call. Client itself has only the calls that concern the whole server:
// StoreStats and ServerInfo. Every method takes a
// context.Context first; when it has no deadline the client's default (10 s)
// applies. A read of a missing entry returns an error matching ErrNotFound
// (errors.Is); every failed call is an *Error carrying the gRPC code and the
// field violations or quota subjects the server attached (errors.As). A
// compare-and-set write (IfVersion, IfSHA256) whose precondition failed is a
// *PreconditionFailedError, carrying the current version and digest.
//
// Session.Watch streams a namespace's changes, revision by revision, resuming
// on its own when a stream drops; it takes no default deadline. A start
// revision the server no longer retains is a *RevisionCompactedError.
package contextstore

import (
	"context"
	"encoding/json"
	"time"

	pb "github.com/contextstore/contextstore/client/go/gen/contextstore/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

const (
	// DefaultTarget is where `contextstore serve` listens by default.
	DefaultTarget = "127.0.0.1:50051"
	// DefaultTimeout is the deadline of a call whose context has none.
	DefaultTimeout = 10 * time.Second
	// DefaultMaxMessageBytes matches the server's default limit: 16 MiB of
	// content plus 1 MiB of headroom.
	DefaultMaxMessageBytes = 17 << 20
)

var service = pb.File_contextstore_v1_context_store_proto.Services().ByName("ContextStoreService")

// retriedMethods are the methods the contract marks idempotency_level =
// NO_SIDE_EFFECTS (the reads): the connection retries those, and only those,
// on UNAVAILABLE.
func retriedMethods() []string {
	var names []string
	methods := service.Methods()
	for i := range methods.Len() {
		m := methods.Get(i)
		options, _ := m.Options().(*descriptorpb.MethodOptions)
		if options.GetIdempotencyLevel() == descriptorpb.MethodOptions_NO_SIDE_EFFECTS {
			names = append(names, string(m.Name()))
		}
	}
	return names
}

// Option configures NewClient and NewClientFromConn.
type Option func(*options)

type options struct {
	timeout         time.Duration
	maxMessageBytes int
	dialOptions     []grpc.DialOption
	tls             *TLS
	token           *string // nil: $CONTEXTSTORE_TOKEN
}

// WithTimeout sets the deadline of calls whose context has none (default 10 s).
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithMaxMessageBytes sets the largest message sent or received (default 17 MiB).
func WithMaxMessageBytes(n int) Option { return func(o *options) { o.maxMessageBytes = n } }

// WithDialOptions adds gRPC dial options, applied after the client's own
// (WithTLS and WithToken cover TLS and tokens; the default is plaintext).
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *options) { o.dialOptions = append(o.dialOptions, opts...) }
}

func collect(opts []Option) options {
	o := options{timeout: DefaultTimeout, maxMessageBytes: DefaultMaxMessageBytes}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// Client talks to contextstore: one server, or several sharing one store
// (see NewClient). It is safe for concurrent use.
type Client struct {
	conn    *grpc.ClientConn // nil when the connection belongs to the caller
	stub    pb.ContextStoreServiceClient
	timeout time.Duration
}

// NewClient creates a client for target. It does not connect until the first
// call. Close it when done. The target is one of:
//
//   - one address, "host:port" (a name is resolved by DNS, every address it
//     has being used);
//   - a comma-separated list of addresses, "10.0.0.1:50051,10.0.0.2:50051"
//     (spaces around each are ignored; each needs its port);
//   - any URI grpc-go resolves, such as "dns:///name:port" for a DNS name
//     with several addresses (re-resolved when a connection drops).
//
// Calls are spread over every address with gRPC's round_robin policy, so
// several servers sharing one store all serve this client.
//
// The connection is plaintext unless WithTLS is given; the bearer token
// (WithToken, else $CONTEXTSTORE_TOKEN) goes on every call either way.
func NewClient(target string, opts ...Option) (*Client, error) {
	o := collect(opts)
	target, resolverOptions, err := resolveTarget(target)
	if err != nil {
		return nil, err
	}
	security, err := securityDialOptions(o)
	if err != nil {
		return nil, err
	}
	dial := []grpc.DialOption{
		grpc.WithDefaultServiceConfig(serviceConfig()),
		grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(o.maxMessageBytes),
			grpc.MaxCallSendMsgSize(o.maxMessageBytes),
		),
		// The default deadline also covers calls made through Stub().
		grpc.WithChainUnaryInterceptor(deadlineInterceptor(o.timeout)),
	}
	dial = append(append(append(dial, security...), resolverOptions...), o.dialOptions...)
	conn, err := grpc.NewClient(target, dial...)
	if err != nil {
		return nil, err
	}
	return &Client{conn: conn, stub: pb.NewContextStoreServiceClient(conn), timeout: o.timeout}, nil
}

// NewClientFromConn creates a client over a connection the caller owns (and
// closes); only WithTimeout applies.
func NewClientFromConn(conn grpc.ClientConnInterface, opts ...Option) *Client {
	o := collect(opts)
	return &Client{stub: pb.NewContextStoreServiceClient(conn), timeout: o.timeout}
}

// Close closes the connection NewClient opened.
func (c *Client) Close() error {
	if c.conn == nil {
		return nil
	}
	return c.conn.Close()
}

// Stub returns the generated stub over the client's connection, for requests
// the typed methods do not express. Wrap its errors with FromError.
func (c *Client) Stub() pb.ContextStoreServiceClient { return c.stub }

// Session returns a handle bound to sessionID; "" is the global namespace.
func (c *Client) Session(sessionID string) *Session {
	s := &Session{client: c}
	if sessionID != "" {
		s.id = proto.String(sessionID)
	}
	return s
}

// Global returns a handle on the global namespace.
func (c *Client) Global() *Session { return c.Session("") }

// StoreStats returns the counters of the whole store: every namespace
// (Session.Stats: one namespace).
func (c *Client) StoreStats(ctx context.Context) (*Stats, error) {
	r, err := call(ctx, c, c.stub.GetStoreStats, &pb.GetStoreStatsRequest{})
	if err != nil {
		return nil, err
	}
	return statsOf(r), nil
}

// ServerInfo returns the server's version, backend, the backend's properties
// and every limit.
func (c *Client) ServerInfo(ctx context.Context) (*ServerInfo, error) {
	r, err := call(ctx, c, c.stub.GetServerInfo, &pb.GetServerInfoRequest{})
	if err != nil {
		return nil, err
	}
	return serverInfoOf(r), nil
}

// call runs one RPC with the default deadline and translates its error.
func call[Req, Resp any](
	ctx context.Context, c *Client,
	rpc func(context.Context, Req, ...grpc.CallOption) (Resp, error), req Req,
) (Resp, error) {
	ctx, cancel := withDefaultDeadline(ctx, c.timeout)
	defer cancel()
	resp, err := rpc(ctx, req)
	if err != nil {
		var zero Resp
		return zero, FromError(err)
	}
	return resp, nil
}

func withDefaultDeadline(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok || timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, timeout)
}

func deadlineInterceptor(timeout time.Duration) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn,
		invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		ctx, cancel := withDefaultDeadline(ctx, timeout)
		defer cancel()
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}

// serviceConfig is the connection's default service config: round_robin, so
// that a target with several addresses spreads its calls over all of them
// (gRPC's default, pick_first, would send every call to one server), and the
// retry policy of the reads.
func serviceConfig() string {
	type name struct {
		Service string `json:"service"`
		Method  string `json:"method"`
	}
	var names []name
	for _, m := range retriedMethods() {
		names = append(names, name{string(service.FullName()), m})
	}
	config := map[string]any{
		"loadBalancingConfig": []any{map[string]any{"round_robin": map[string]any{}}},
		"methodConfig": []any{map[string]any{
			"name": names,
			"retryPolicy": map[string]any{
				"maxAttempts":          4,
				"initialBackoff":       "0.05s",
				"maxBackoff":           "1s",
				"backoffMultiplier":    2,
				"retryableStatusCodes": []string{"UNAVAILABLE"},
			},
		}},
	}
	out, err := json.Marshal(config)
	if err != nil {
		panic(err) // static data
	}
	return string(out)
}
