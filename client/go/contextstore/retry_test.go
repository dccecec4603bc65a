package contextstore

import (
	"encoding/json"
	"slices"
	"testing"
)

// The retried methods come from the contract's idempotency levels: exactly
// the reads, so a new read is retried without touching this client. Watch is
// one: gRPC retries it only until its first response arrives, and Watch's own
// resume takes over from there.
func TestRetriedMethodsAreTheContractsReads(t *testing.T) {
	want := []string{"BatchGetFiles", "GetAnalysis", "GetFile", "GetMetadata", "GetServerInfo", "GetStats", "GetStoreStats", "ListFiles", "Watch"}
	got := slices.Sorted(slices.Values(retriedMethods()))
	if !slices.Equal(got, want) {
		t.Fatalf("retried methods = %v, want %v", got, want)
	}
}

func TestServiceConfigNamesEveryRetriedMethod(t *testing.T) {
	var config struct {
		MethodConfig []struct {
			Name []struct{ Service, Method string }
		}
	}
	if err := json.Unmarshal([]byte(serviceConfig()), &config); err != nil {
		t.Fatal(err)
	}
	var methods []string
	for _, n := range config.MethodConfig[0].Name {
		if n.Service != "contextstore.v1.ContextStoreService" {
			t.Fatalf("service %q", n.Service)
		}
		methods = append(methods, n.Method)
	}
	if !slices.Equal(methods, retriedMethods()) {
		t.Fatalf("service config names %v, want %v", methods, retriedMethods())
	}
}
