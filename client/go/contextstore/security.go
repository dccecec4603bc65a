package contextstore

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// TokenEnv is the environment variable NewClient reads the bearer token from
// when WithToken is not given.
const TokenEnv = "CONTEXTSTORE_TOKEN"

// TLS says where NewClient finds the certificates of a TLS connection.
type TLS struct {
	// CA is a PEM file of the CA certificates to trust; "" trusts the
	// system's roots.
	CA string
	// Cert and Key are the client certificate and its key, PEM files, for a
	// server that requires one (mTLS): both or neither.
	Cert string
	Key  string
}

// WithTLS makes the connection TLS. The server's certificate is verified
// against the host of the address dialled (each address of a list; the name
// of a dns:/// target).
func WithTLS(t TLS) Option {
	return func(o *options) { o.tls = &t }
}

// WithToken sends token as "authorization: Bearer <token>" on every call.
// Without it the token is $CONTEXTSTORE_TOKEN; an empty token (given or from
// the environment) sends none.
func WithToken(token string) Option {
	return func(o *options) { o.token = &token }
}

// transportCredentials are the connection's: TLS when configured, plaintext
// otherwise (as before TLS existed).
func transportCredentials(t *TLS) (credentials.TransportCredentials, error) {
	if t == nil {
		return insecure.NewCredentials(), nil
	}
	config, err := tlsConfig(*t)
	if err != nil {
		return nil, fmt.Errorf("contextstore: TLS: %w", err)
	}
	return credentials.NewTLS(config), nil
}

// tlsConfig leaves ServerName empty: grpc-go then verifies each connection
// against its own address's host (see resolveTarget).
func tlsConfig(t TLS) (*tls.Config, error) {
	config := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.CA != "" {
		pem, err := os.ReadFile(t.CA)
		if err != nil {
			return nil, err
		}
		config.RootCAs = x509.NewCertPool()
		if !config.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s holds no PEM certificate", t.CA)
		}
	}
	if (t.Cert == "") != (t.Key == "") {
		return nil, errors.New("a client certificate needs its key and a key its certificate (Cert and Key: both or neither)")
	}
	if t.Cert != "" {
		pair, err := tls.LoadX509KeyPair(t.Cert, t.Key)
		if err != nil {
			return nil, err
		}
		config.Certificates = []tls.Certificate{pair}
	}
	return config, nil
}

// bearer is the token as per-call credentials.
type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

// RequireTransportSecurity is false so that the token also goes over a
// plaintext channel, which only makes sense on loopback.
func (bearer) RequireTransportSecurity() bool { return false }

// securityDialOptions are the transport credentials and, when there is a
// token, the per-call credentials carrying it.
func securityDialOptions(o options) ([]grpc.DialOption, error) {
	creds, err := transportCredentials(o.tls)
	if err != nil {
		return nil, err
	}
	dial := []grpc.DialOption{grpc.WithTransportCredentials(creds)}
	token := os.Getenv(TokenEnv)
	if o.token != nil {
		token = *o.token
	}
	if token != "" {
		dial = append(dial, grpc.WithPerRPCCredentials(bearer(token)))
	}
	return dial, nil
}
