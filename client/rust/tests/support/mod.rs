//! A gRPC server for the client's tests: tonic's, over TLS (or not), answering
//! every call NOT_FOUND and recording what each call carried. Certificates are
//! made by the test (rcgen).

#![allow(dead_code)] // each test binary uses its part

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use tokio::net::TcpListener;
use tonic::body::Body;
use tonic::transport::server::{TcpConnectInfo, TcpIncoming, TlsConnectInfo};
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};

/// A certificate authority made for one test, its certificate in `ca_file`.
pub struct Ca {
    params: CertificateParams,
    key: KeyPair,
    dir: PathBuf,
    pub ca_file: PathBuf,
}

/// A certificate and key, as PEM files.
pub struct Pair {
    pub cert: PathBuf,
    pub key: PathBuf,
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "contextstore-rust-tls-{}-{name}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().unwrap();
        let dir = temp_dir(name);
        let ca_file = dir.join("ca.pem");
        std::fs::write(&ca_file, params.self_signed(&key).unwrap().pem()).unwrap();
        Ca {
            params,
            key,
            dir,
            ca_file,
        }
    }

    /// A certificate of common name `cn` for `names` (DNS names or IPs).
    pub fn issue(&self, cn: &str, names: &[&str]) -> Pair {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        let key = KeyPair::generate().unwrap();
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer).unwrap();
        let pair = Pair {
            cert: self.dir.join(format!("{cn}.pem")),
            key: self.dir.join(format!("{cn}-key.pem")),
        };
        std::fs::write(&pair.cert, cert.pem()).unwrap();
        std::fs::write(&pair.key, key.serialize_pem()).unwrap();
        pair
    }
}

impl Drop for Ca {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

/// What the server received: per call, its authorization header (`""` when
/// absent) and whether the client presented a certificate.
#[derive(Clone, Default)]
pub struct Seen(Arc<Mutex<Vec<(String, bool)>>>);

impl Seen {
    pub fn calls(&self) -> Vec<(String, bool)> {
        self.0.lock().unwrap().clone()
    }

    pub fn tokens(&self) -> Vec<String> {
        self.calls().into_iter().map(|(token, _)| token).collect()
    }
}

/// Starts a server on 127.0.0.1 (port 0): TLS with `identity` when given,
/// requiring a client certificate of `client_ca` when given. Returns its
/// address and what it sees. It stops with the test's runtime.
pub async fn serve(identity: Option<&Pair>, client_ca: Option<&Ca>) -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let mut builder = Server::builder();
    if let Some(pair) = identity {
        let mut tls =
            ServerTlsConfig::new().identity(Identity::from_pem(read(&pair.cert), read(&pair.key)));
        if let Some(ca) = client_ca {
            tls = tls.client_ca_root(Certificate::from_pem(read(&ca.ca_file)));
        }
        builder = builder.tls_config(tls).unwrap();
    }
    let seen = Seen::default();
    let record = seen.clone();
    let service = tower::service_fn(move |request: http::Request<Body>| {
        let token = request
            .headers()
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let certified = request
            .extensions()
            .get::<TlsConnectInfo<TcpConnectInfo>>()
            .and_then(TlsConnectInfo::peer_certs)
            .is_some_and(|certs| !certs.is_empty());
        record.0.lock().unwrap().push((token, certified));
        async { Ok::<_, Infallible>(tonic::Status::not_found("nothing here").into_http::<Body>()) }
    });
    tokio::spawn(builder.serve_with_incoming(service, TcpIncoming::from(listener)));
    (address, seen)
}
