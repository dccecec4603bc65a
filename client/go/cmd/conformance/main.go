// Command conformance runs tests/conformance/cases.json against a server
// through the generated stubs and the contextstore client package.
//
// Usage: conformance --target HOST:PORT --cases PATH
//
// It prints one JSON line per case, in file order, and exits 0 when every case
// passed, 1 otherwise (see tests/conformance/README.md).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/contextstore/contextstore/client/go/contextstore"
	pb "github.com/contextstore/contextstore/client/go/gen/contextstore/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
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
	RPC     string          `json:"rpc"`
	Request json.RawMessage `json:"request"`
	Expect  json.RawMessage `json:"expect"`
}

type result struct {
	Case  string `json:"case"`
	OK    bool   `json:"ok"`
	Step  *int   `json:"step,omitempty"`
	Error string `json:"error,omitempty"`
}

func main() {
	target := flag.String("target", "", "server address, HOST:PORT")
	casesPath := flag.String("cases", "", "path of cases.json")
	flag.Parse()
	if *target == "" || *casesPath == "" {
		fmt.Fprintln(os.Stderr, "usage: conformance --target HOST:PORT --cases PATH")
		os.Exit(2)
	}
	os.Exit(run(*target, *casesPath))
}

func run(target, casesPath string) int {
	raw, err := os.ReadFile(casesPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var s suite
	if err := json.Unmarshal(raw, &s); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", casesPath, err)
		return 1
	}
	client, err := contextstore.NewClient(target, contextstore.WithTimeout(deadline))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer client.Close()

	out := json.NewEncoder(os.Stdout)
	out.SetEscapeHTML(false)
	exit := 0
	for _, c := range s.Cases {
		r := runCase(client, c)
		if !r.OK {
			exit = 1
		}
		if err := out.Encode(r); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return exit
}

func runCase(client *contextstore.Client, c testCase) result {
	for _, session := range c.Sessions {
		// Session("") leaves session_id absent: the global namespace.
		if _, err := client.Session(session).Clear(context.Background()); err != nil {
			index := -1
			return result{Case: c.Name, Step: &index, Error: fmt.Sprintf("clearing session %q: %v", session, err)}
		}
	}
	for i, st := range c.Steps {
		if problem := runStep(client.Stub(), st); problem != "" {
			index := i
			return result{Case: c.Name, Step: &index, Error: problem}
		}
	}
	return result{Case: c.Name, OK: true}
}

type expectation struct {
	Code            string          `json:"code"`
	Response        json.RawMessage `json:"response"`
	FieldViolations *[]string       `json:"field_violations"`
	QuotaSubjects   *[]string       `json:"quota_subjects"`
}

func runStep(stub pb.ContextStoreServiceClient, st step) string {
	var expect expectation
	if err := json.Unmarshal(st.Expect, &expect); err != nil {
		return fmt.Sprintf("bad expect: %v", err)
	}
	method, ok := methods[st.RPC]
	if !ok {
		return fmt.Sprintf("unknown rpc %q", st.RPC)
	}
	requestJSON, err := expandJSON(st.Request)
	if err != nil {
		return fmt.Sprintf("bad request: %v", err)
	}
	request := method.newRequest()
	if err := protojson.Unmarshal(requestJSON, request); err != nil {
		return fmt.Sprintf("%s: parsing request: %v", st.RPC, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	response, callErr := method.call(ctx, stub, request)
	if callErr != nil {
		var e *contextstore.Error
		if !errors.As(contextstore.FromError(callErr), &e) {
			return fmt.Sprintf("%s: %v", st.RPC, callErr)
		}
		code := contextstore.CodeName(e.Code)
		if code != expect.Code {
			return fmt.Sprintf("%s: expected %s, got %s: %s", st.RPC, expect.Code, code, e.Message)
		}
		if expect.FieldViolations != nil && !sameSet(*expect.FieldViolations, e.Fields()) {
			return fmt.Sprintf("field_violations: expected %v, got %v", sorted(*expect.FieldViolations), sorted(e.Fields()))
		}
		if expect.QuotaSubjects != nil && !sameSet(*expect.QuotaSubjects, e.QuotaSubjects()) {
			return fmt.Sprintf("quota_subjects: expected %v, got %v", sorted(*expect.QuotaSubjects), sorted(e.QuotaSubjects()))
		}
		return ""
	}
	if expect.Code != "OK" {
		return fmt.Sprintf("%s: expected %s, got OK", st.RPC, expect.Code)
	}
	printed, err := protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}.Marshal(response)
	if err != nil {
		return fmt.Sprintf("%s: printing response: %v", st.RPC, err)
	}
	actual, err := decode(printed)
	if err != nil {
		return fmt.Sprintf("%s: reading printed response: %v", st.RPC, err)
	}
	expected := any(map[string]any{})
	if len(expect.Response) > 0 {
		if expected, err = decode(expect.Response); err != nil {
			return fmt.Sprintf("bad expect.response: %v", err)
		}
	}
	return match(expand(expected), actual, "response")
}

// method is one RPC of the generated stub, with a fresh request message.
type method struct {
	newRequest func() proto.Message
	call       func(context.Context, pb.ContextStoreServiceClient, proto.Message) (proto.Message, error)
}

func unary[Req, Resp proto.Message](
	rpc func(pb.ContextStoreServiceClient, context.Context, Req, ...grpc.CallOption) (Resp, error),
) method {
	return method{
		newRequest: func() proto.Message {
			var zero Req // a typed nil: enough to reach the message type
			return zero.ProtoReflect().Type().New().Interface()
		},
		call: func(ctx context.Context, stub pb.ContextStoreServiceClient, req proto.Message) (proto.Message, error) {
			return rpc(stub, ctx, req.(Req))
		},
	}
}

var methods = map[string]method{
	"CacheFile":          unary(pb.ContextStoreServiceClient.CacheFile),
	"GetFile":            unary(pb.ContextStoreServiceClient.GetFile),
	"GetMetadata":        unary(pb.ContextStoreServiceClient.GetMetadata),
	"CacheAnalysis":      unary(pb.ContextStoreServiceClient.CacheAnalysis),
	"GetAnalysis":        unary(pb.ContextStoreServiceClient.GetAnalysis),
	"InvalidateFile":     unary(pb.ContextStoreServiceClient.InvalidateFile),
	"InvalidateAnalysis": unary(pb.ContextStoreServiceClient.InvalidateAnalysis),
	"ClearSession":       unary(pb.ContextStoreServiceClient.ClearSession),
	"BatchGetFiles":      unary(pb.ContextStoreServiceClient.BatchGetFiles),
	"BatchCacheFiles":    unary(pb.ContextStoreServiceClient.BatchCacheFiles),
	"GetStats":           unary(pb.ContextStoreServiceClient.GetStats),
	"GetServerInfo":      unary(pb.ContextStoreServiceClient.GetServerInfo),
}

// decode parses JSON keeping numbers exact (json.Number).
func decode(data []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

func expandJSON(data json.RawMessage) ([]byte, error) {
	if len(data) == 0 {
		return []byte("{}"), nil
	}
	v, err := decode(data)
	if err != nil {
		return nil, err
	}
	return json.Marshal(expand(v))
}
