package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/contextstore/contextstore/client/go/contextstore"
)

// identities is the repeatable --identity NAME=TOKEN flag.
type identities map[string]string

func (m identities) String() string {
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	return strings.Join(names, " ")
}

func (m identities) Set(value string) error {
	name, token, ok := strings.Cut(value, "=")
	switch {
	case !ok || name == "":
		return errors.New("want NAME=TOKEN")
	case m[name] != "":
		return fmt.Errorf("identity %q given twice", name)
	case token == "":
		return fmt.Errorf("identity %q has an empty token", name)
	}
	m[name] = token
	return nil
}

// poolKey is one client of the pool: a target and an identity ("" for the
// default clients).
type poolKey struct {
	target   int
	identity string
}

// pool makes the runner's clients on first use and keeps them: one per
// target for the default token, one per (target, identity) for "as" steps.
type pool struct {
	targets    []string
	common     []contextstore.Option // TLS and the deadline: every client's
	identities identities
	// defaultToken is --token; nil leaves the client to $CONTEXTSTORE_TOKEN.
	defaultToken *string
	clients      map[poolKey]*contextstore.Client
}

func newPool(targets []string, common []contextstore.Option, named identities) *pool {
	common = append([]contextstore.Option{contextstore.WithTimeout(deadline)}, common...)
	return &pool{targets: targets, common: common, identities: named, clients: map[poolKey]*contextstore.Client{}}
}

// client returns target i's client for identity ("" = the default one); an
// unknown identity is an error.
func (p *pool) client(i int, identity string) (*contextstore.Client, error) {
	key := poolKey{i, identity}
	if c, ok := p.clients[key]; ok {
		return c, nil
	}
	opts := append([]contextstore.Option{}, p.common...)
	switch token, known := p.identities[identity]; {
	case identity == "" && p.defaultToken != nil:
		opts = append(opts, contextstore.WithToken(*p.defaultToken))
	case identity != "" && !known:
		return nil, fmt.Errorf("unknown identity %q (give it with --identity %s=TOKEN)", identity, identity)
	case identity != "":
		opts = append(opts, contextstore.WithToken(token))
	}
	c, err := contextstore.NewClient(p.targets[i], opts...)
	if err != nil {
		return nil, err
	}
	p.clients[key] = c
	return c, nil
}

func (p *pool) close() {
	for _, c := range p.clients {
		_ = c.Close()
	}
}
