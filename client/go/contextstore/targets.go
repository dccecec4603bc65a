package contextstore

import (
	"fmt"
	"net"
	"strings"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
)

// listSchemes numbers the manual resolvers of list targets: each client gets
// its own scheme, as a manual resolver may serve only one connection.
var listSchemes atomic.Uint64

// splitTarget returns the addresses of a comma-separated list target, or nil
// when target is one address (or a URI such as dns:///name:port), which gRPC
// resolves itself. Spaces around each address are ignored; an empty address
// or one without a port is an error.
func splitTarget(target string) ([]string, error) {
	if !strings.Contains(target, ",") {
		return nil, nil
	}
	parts := strings.Split(target, ",")
	addresses := make([]string, 0, len(parts))
	for i, part := range parts {
		address := strings.TrimSpace(part)
		if address == "" {
			return nil, fmt.Errorf("contextstore: target %q: address %d is empty", target, i+1)
		}
		host, port, err := net.SplitHostPort(address)
		if err != nil || host == "" || port == "" {
			return nil, fmt.Errorf("contextstore: target %q: address %q is not HOST:PORT", target, address)
		}
		addresses = append(addresses, address)
	}
	return addresses, nil
}

// resolveTarget returns what grpc.NewClient dials for target, and the dial
// options it needs. grpc-go has no resolver for a static list, so a list gets
// a manual resolver of its own holding the addresses (round_robin, from the
// service config, then spreads calls over them); anything else is passed on
// as it is.
func resolveTarget(target string) (string, []grpc.DialOption, error) {
	addresses, err := splitTarget(target)
	if err != nil || addresses == nil {
		return target, nil, err
	}
	scheme := fmt.Sprintf("contextstore-list-%d", listSchemes.Add(1))
	r := manual.NewBuilderWithScheme(scheme)
	state := resolver.State{}
	for _, address := range addresses {
		// Each address is its own connection's authority, so that TLS
		// verifies every server against the host dialled, not the first's.
		state.Addresses = append(state.Addresses, resolver.Address{Addr: address, ServerName: address})
	}
	r.InitialState(state)
	// The first address names the channel; each connection has its own.
	return scheme + ":///" + addresses[0], []grpc.DialOption{grpc.WithResolvers(r)}, nil
}
