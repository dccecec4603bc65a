package contextstore_test

import (
	"context"
	"errors"
	"net"
	"testing"

	"github.com/contextstore/contextstore/client/go/contextstore"
	"google.golang.org/grpc"
)

// dialing routes each address of a list target to its in-memory server; an
// address it does not know refuses the connection, like a server that is down.
func dialing(t *testing.T, servers map[string]*fake) contextstore.Option {
	t.Helper()
	dial := map[string]func(context.Context) (net.Conn, error){}
	for address := range servers {
		f, listener := serve(t)
		servers[address] = f
		dial[address] = listener.DialContext
	}
	return contextstore.WithDialOptions(grpc.WithContextDialer(func(ctx context.Context, address string) (net.Conn, error) {
		if d, ok := dial[address]; ok {
			return d(ctx)
		}
		return nil, errors.New("connection refused")
	}))
}

func calls(f *fake) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.sessions)
}

// A list target spreads calls over every server, in turn (round_robin): with
// pick_first, gRPC's default, one server would get them all.
func TestListTargetSpreadsCallsOverEveryServer(t *testing.T) {
	servers := map[string]*fake{"10.0.0.1:50051": nil, "10.0.0.2:50051": nil}
	client, err := contextstore.NewClient("10.0.0.1:50051, 10.0.0.2:50051", dialing(t, servers))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	a, b := servers["10.0.0.1:50051"], servers["10.0.0.2:50051"]
	getFile := func() {
		t.Helper()
		if _, err := client.Session("s").GetFile(context.Background(), "a.py"); !errors.Is(err, contextstore.ErrNotFound) {
			t.Fatalf("GetFile error = %v, want ErrNotFound", err)
		}
	}
	// Until the second connection is up, its server gets no calls: call
	// until both have had one (bounded: under pick_first that never happens).
	for i := 0; calls(a) == 0 || calls(b) == 0; i++ {
		if i == 1000 {
			t.Fatalf("after %d calls: %d and %d per server, want both used", i, calls(a), calls(b))
		}
		getFile()
	}
	// Both connections up: the calls go to each server in turn.
	beforeA, beforeB := calls(a), calls(b)
	for range 10 {
		getFile()
	}
	if calls(a)-beforeA != 5 || calls(b)-beforeB != 5 {
		t.Fatalf("of 10 calls, %d and %d per server, want 5 and 5", calls(a)-beforeA, calls(b)-beforeB)
	}
}

// A server of the list that cannot be reached is left out: every call
// succeeds on the others.
func TestListTargetSkipsAServerThatIsDown(t *testing.T) {
	servers := map[string]*fake{"10.0.0.1:50051": nil}
	client, err := contextstore.NewClient("10.0.0.9:50051,10.0.0.1:50051", dialing(t, servers))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	for range 10 {
		if _, err := client.Session("s").CacheFile(context.Background(), "a.py", []byte("x")); err != nil {
			t.Fatalf("CacheFile: %v", err)
		}
	}
	if got := calls(servers["10.0.0.1:50051"]); got != 10 {
		t.Fatalf("the reachable server got %d calls, want 10", got)
	}
}

func TestNewClientRefusesABadList(t *testing.T) {
	if _, err := contextstore.NewClient("127.0.0.1:50051,"); err == nil {
		t.Fatal("NewClient accepted a list with an empty address")
	}
}
