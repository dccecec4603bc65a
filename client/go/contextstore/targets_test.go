package contextstore

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestSplitTargetList(t *testing.T) {
	for target, want := range map[string][]string{
		"127.0.0.1:50051,127.0.0.1:50052":     {"127.0.0.1:50051", "127.0.0.1:50052"},
		" a.example:1 , b.example:2 ,c:3":     {"a.example:1", "b.example:2", "c:3"},
		"[::1]:50051,10.0.0.2:50051":          {"[::1]:50051", "10.0.0.2:50051"},
		"127.0.0.1:50051,127.0.0.1:50051":     {"127.0.0.1:50051", "127.0.0.1:50051"},
		"localhost:50051,[2001:db8::1]:50052": {"localhost:50051", "[2001:db8::1]:50052"},
	} {
		got, err := splitTarget(target)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("splitTarget(%q) = %q, %v; want %q", target, got, err, want)
		}
	}
}

// One address, or a URI, is gRPC's to resolve: passed on untouched.
func TestSplitTargetSingle(t *testing.T) {
	for _, target := range []string{"127.0.0.1:50051", "localhost", "dns:///cs.example:50051", "unix:///run/cs.sock", "passthrough:///bufnet"} {
		got, err := splitTarget(target)
		if err != nil || got != nil {
			t.Errorf("splitTarget(%q) = %q, %v; want nil, nil", target, got, err)
		}
		dialed, options, err := resolveTarget(target)
		if err != nil || dialed != target || options != nil {
			t.Errorf("resolveTarget(%q) = %q, %d options, %v; want it unchanged", target, dialed, len(options), err)
		}
	}
}

func TestSplitTargetRefusesBadLists(t *testing.T) {
	for target, want := range map[string]string{
		"127.0.0.1:50051,":          `address 2 is empty`,
		",127.0.0.1:50051":          `address 1 is empty`,
		"a:1, ,b:2":                 `address 2 is empty`,
		"127.0.0.1:50051,127.0.0.1": `address "127.0.0.1" is not HOST:PORT`,
		"a:1,:2":                    `address ":2" is not HOST:PORT`,
		"a:1,b:":                    `address "b:" is not HOST:PORT`,
		"dns:///a:1,dns:///b:2":     `address "dns:///a:1" is not HOST:PORT`,
		"::1:50051,127.0.0.1:50051": `address "::1:50051" is not HOST:PORT`,
	} {
		_, err := splitTarget(target)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), target) {
			t.Errorf("splitTarget(%q) error = %v; want one naming the target and %q", target, err, want)
		}
		if _, _, err := resolveTarget(target); err == nil {
			t.Errorf("resolveTarget(%q) accepted it", target)
		}
	}
}

// Each list gets a resolver of its own (a manual resolver serves one
// connection), named by a scheme of its own, dialed at the first address.
func TestResolveTargetGivesEachListItsResolver(t *testing.T) {
	first, options1, err1 := resolveTarget("a:1,b:2")
	second, options2, err2 := resolveTarget("a:1,b:2")
	if err1 != nil || err2 != nil || len(options1) != 1 || len(options2) != 1 {
		t.Fatalf("resolveTarget: %v, %v, options %d and %d", err1, err2, len(options1), len(options2))
	}
	scheme1, rest1, _ := strings.Cut(first, ":///")
	scheme2, _, _ := strings.Cut(second, ":///")
	if scheme1 == scheme2 || !strings.HasPrefix(scheme1, "contextstore-list-") || rest1 != "a:1" {
		t.Fatalf("targets %q and %q", first, second)
	}
}

func TestServiceConfigBalancesRoundRobin(t *testing.T) {
	var config struct {
		LoadBalancingConfig []map[string]json.RawMessage
	}
	if err := json.Unmarshal([]byte(serviceConfig()), &config); err != nil {
		t.Fatal(err)
	}
	if len(config.LoadBalancingConfig) != 1 || config.LoadBalancingConfig[0]["round_robin"] == nil {
		t.Fatalf("loadBalancingConfig = %v, want [{round_robin: {}}]", config.LoadBalancingConfig)
	}
}
