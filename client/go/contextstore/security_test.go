package contextstore_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/contextstore/contextstore/client/go/contextstore"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/test/bufconn"
)

// ca is a certificate authority made for one test.
type ca struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	file string // its certificate, PEM
}

var serials sync.Mutex

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func serial(t *testing.T) *big.Int {
	t.Helper()
	serials.Lock()
	defer serials.Unlock()
	n, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func writePEM(t *testing.T, name, kind string, der []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func newCA(t *testing.T, name string) *ca {
	t.Helper()
	key := newKey(t)
	template := &x509.Certificate{
		SerialNumber: serial(t), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &ca{cert: cert, key: key, file: writePEM(t, name+"-ca.pem", "CERTIFICATE", der)}
}

// issue makes a leaf certificate for names (DNS names or IPs), returning its
// certificate and key files.
func (c *ca) issue(t *testing.T, usage x509.ExtKeyUsage, cn string, names ...string) (certFile, keyFile string) {
	t.Helper()
	key := newKey(t)
	template := &x509.Certificate{
		SerialNumber: serial(t), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
	}
	for _, name := range names {
		if ip := net.ParseIP(name); ip != nil {
			template.IPAddresses = append(template.IPAddresses, ip)
		} else {
			template.DNSNames = append(template.DNSNames, name)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, template, c.cert, &key.PublicKey, c.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return writePEM(t, cn+".pem", "CERTIFICATE", der), writePEM(t, cn+"-key.pem", "PRIVATE KEY", keyDER)
}

// seen is what a server received: the authorization header and the client
// certificate's CN of each call.
type seen struct {
	mu            sync.Mutex
	authorization []string
	clients       []string
}

func (s *seen) interceptor(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	client := ""
	if p, ok := peer.FromContext(ctx); ok {
		if info, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(info.State.PeerCertificates) > 0 {
			client = info.State.PeerCertificates[0].Subject.CommonName
		}
	}
	s.mu.Lock()
	s.authorization = append(s.authorization, md.Get("authorization")...)
	s.clients = append(s.clients, client)
	s.mu.Unlock()
	return handler(ctx, req)
}

func (s *seen) get() (authorization, clients []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.authorization), slices.Clone(s.clients)
}

// serveTLS starts a fake server on an in-memory listener, serving TLS with
// certFile and keyFile; with clientCA, it requires a client certificate of
// that CA (mTLS). creds nil serves plaintext.
func serveWith(t *testing.T, creds credentials.TransportCredentials) (*seen, *bufconn.Listener) {
	t.Helper()
	s := &seen{}
	options := []grpc.ServerOption{grpc.UnaryInterceptor(s.interceptor)}
	if creds != nil {
		options = append(options, grpc.Creds(creds))
	}
	return s, serveFake(t, &fake{files: map[string][]byte{}, unavailable: map[string]int{}}, options...)
}

func serverTLS(t *testing.T, certFile, keyFile string, clientCA *ca) credentials.TransportCredentials {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	config := &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	if clientCA != nil {
		config.ClientCAs = x509.NewCertPool()
		config.ClientCAs.AddCert(clientCA.cert)
		config.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return credentials.NewTLS(config)
}

// dialAll routes each address to its in-memory listener; the TLS handshake
// still verifies the server against the address's host.
func dialAll(listeners map[string]*bufconn.Listener) contextstore.Option {
	return contextstore.WithDialOptions(grpc.WithContextDialer(func(ctx context.Context, address string) (net.Conn, error) {
		if l, ok := listeners[address]; ok {
			return l.DialContext(ctx)
		}
		return nil, errors.New("connection refused")
	}))
}

func statsCode(client *contextstore.Client) codes.Code {
	_, err := client.Session("s").Stats(context.Background())
	var e *contextstore.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return codes.OK
}

// Over mTLS, the server sees the client's certificate and the token.
func TestMutualTLSWithToken(t *testing.T) {
	authority := newCA(t, "test")
	certFile, keyFile := authority.issue(t, x509.ExtKeyUsageServerAuth, "server", "localhost", "127.0.0.1")
	s, listener := serveWith(t, serverTLS(t, certFile, keyFile, authority))
	clientCert, clientKey := authority.issue(t, x509.ExtKeyUsageClientAuth, "agent-7", "agent-7")
	client := newClient(t, "passthrough:///localhost:50051", dialAll(map[string]*bufconn.Listener{"localhost:50051": listener}),
		contextstore.WithTLS(contextstore.TLS{CA: authority.file, Cert: clientCert, Key: clientKey}),
		contextstore.WithToken("s3cret"))

	if code := statsCode(client); code != codes.OK {
		t.Fatalf("Stats over mTLS: %v", code)
	}
	authorization, clients := s.get()
	if !slices.Equal(authorization, []string{"Bearer s3cret"}) || !slices.Equal(clients, []string{"agent-7"}) {
		t.Fatalf("the server saw authorization %q from clients %q", authorization, clients)
	}
}

// A TLS client trusts only its CA: a server of another CA, or one whose
// certificate does not name the host dialled, is refused; a server requiring
// a client certificate refuses a client without one.
func TestTLSRefusals(t *testing.T) {
	authority, other := newCA(t, "test"), newCA(t, "other")
	certFile, keyFile := authority.issue(t, x509.ExtKeyUsageServerAuth, "server", "localhost", "127.0.0.1")
	_, plain := serveWith(t, serverTLS(t, certFile, keyFile, nil))
	_, mutual := serveWith(t, serverTLS(t, certFile, keyFile, authority))
	routes := dialAll(map[string]*bufconn.Listener{
		"localhost:1": plain, "elsewhere:1": plain, "localhost:2": mutual,
	})
	for name, c := range map[string]struct {
		target string
		tls    contextstore.TLS
		want   codes.Code
	}{
		"trusted":             {"localhost:1", contextstore.TLS{CA: authority.file}, codes.OK},
		"another CA":          {"localhost:1", contextstore.TLS{CA: other.file}, codes.Unavailable},
		"another host":        {"elsewhere:1", contextstore.TLS{CA: authority.file}, codes.Unavailable},
		"mTLS without a cert": {"localhost:2", contextstore.TLS{CA: authority.file}, codes.Unavailable},
	} {
		client := newClient(t, "passthrough:///"+c.target, routes, contextstore.WithTLS(c.tls), contextstore.WithTimeout(5*time.Second))
		if got := statsCode(client); got != c.want {
			t.Errorf("%s: Stats = %v, want %v", name, got, c.want)
		}
	}
}

// Over a list, each server is verified against its own host: with the first
// address's host for every connection, b.test's server would be refused.
func TestTLSListVerifiesEachServerAgainstItsHost(t *testing.T) {
	authority := newCA(t, "test")
	aCert, aKey := authority.issue(t, x509.ExtKeyUsageServerAuth, "a", "a.test")
	bCert, bKey := authority.issue(t, x509.ExtKeyUsageServerAuth, "b", "b.test")
	a, la := serveWith(t, serverTLS(t, aCert, aKey, nil))
	b, lb := serveWith(t, serverTLS(t, bCert, bKey, nil))
	client := newClient(t, "a.test:1,b.test:1",
		dialAll(map[string]*bufconn.Listener{"a.test:1": la, "b.test:1": lb}),
		contextstore.WithTLS(contextstore.TLS{CA: authority.file}), contextstore.WithToken("t"))
	for i := 0; ; i++ {
		if code := statsCode(client); code != codes.OK {
			t.Fatalf("call %d: %v", i, code)
		}
		_, fromA := a.get() // one entry per call
		_, fromB := b.get()
		if len(fromA) > 0 && len(fromB) > 0 {
			break
		}
		if i == 1000 {
			t.Fatalf("after %d calls: %d and %d per server, want both used", i, len(fromA), len(fromB))
		}
	}
}

// The token: WithToken, else $CONTEXTSTORE_TOKEN; empty sends none. It goes
// on a plaintext channel too.
func TestTokenFromOptionOrEnvironment(t *testing.T) {
	for name, c := range map[string]struct {
		env  string
		opts []contextstore.Option
		want []string
	}{
		"none":                 {"", nil, nil},
		"environment":          {"from-env", nil, []string{"Bearer from-env"}},
		"option wins":          {"from-env", []contextstore.Option{contextstore.WithToken("given")}, []string{"Bearer given"}},
		"empty option is none": {"from-env", []contextstore.Option{contextstore.WithToken("")}, nil},
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(contextstore.TokenEnv, c.env)
			s, listener := serveWith(t, nil)
			opts := append(c.opts, dialAll(map[string]*bufconn.Listener{"loopback:1": listener}))
			if code := statsCode(newClient(t, "passthrough:///loopback:1", opts...)); code != codes.OK {
				t.Fatalf("Stats: %v", code)
			}
			if authorization, _ := s.get(); !slices.Equal(authorization, c.want) {
				t.Fatalf("authorization = %q, want %q", authorization, c.want)
			}
		})
	}
}

// Bad TLS settings fail NewClient, naming the problem.
func TestBadTLSSettings(t *testing.T) {
	authority := newCA(t, "test")
	certFile, keyFile := authority.issue(t, x509.ExtKeyUsageClientAuth, "agent-7", "agent-7")
	for name, settings := range map[string]contextstore.TLS{
		"cert without key":     {Cert: certFile},
		"key without cert":     {Key: keyFile},
		"missing CA":           {CA: filepath.Join(t.TempDir(), "missing.pem")},
		"CA is not PEM":        {CA: keyFile + ".nothing"},
		"key of a CA":          {CA: keyFile},
		"cert and key swapped": {Cert: keyFile, Key: certFile},
	} {
		if name == "CA is not PEM" {
			if err := os.WriteFile(settings.CA, []byte("not a certificate"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := contextstore.NewClient("localhost:1", contextstore.WithTLS(settings)); err == nil {
			t.Errorf("%s: NewClient accepted %+v", name, settings)
		}
	}
}
