//! What a target names (one server, a list of servers, or a DNS name whose
//! addresses are the servers) and the channel that spreads calls over them.
//!
//! tonic has no gRPC name resolver or `round_robin` policy: a list becomes
//! [`Channel::balance_list`], tower's power-of-two-choices balancer over one
//! lazy connection per address, and a `dns:///` name is resolved once, here.

use std::net::{SocketAddr, ToSocketAddrs};

use tokio::task::JoinSet;
use tonic::Code;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};

use crate::DEFAULT_TIMEOUT;
use crate::error::Error;

/// A parsed target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// One address (`HOST:PORT`) or URI (`http://HOST:PORT`): one connection,
    /// as the client always had.
    One(String),
    /// A comma-separated list of `HOST:PORT`: one connection each.
    List(Vec<String>),
    /// `dns:///NAME:PORT`: one connection per address the name has.
    Dns(String),
}

fn bad(target: &str, why: impl std::fmt::Display) -> Error {
    Error::new(
        Code::InvalidArgument,
        format!("bad target {target:?}: {why}"),
    )
}

/// Parses a target; see [`crate::Client::connect`] for the forms.
pub(crate) fn parse(target: &str) -> Result<Target, Error> {
    if let Some(rest) = target.strip_prefix("dns:") {
        let name = rest
            .strip_prefix("///")
            .ok_or_else(|| bad(target, "a DNS target is dns:///NAME:PORT"))?;
        return host_port(name)
            .map(|()| Target::Dns(name.to_string()))
            .map_err(|why| bad(target, why));
    }
    if !target.contains(',') {
        return Ok(Target::One(target.to_string()));
    }
    let mut addresses = Vec::new();
    for (i, part) in target.split(',').enumerate() {
        let address = part.trim();
        if address.is_empty() {
            return Err(bad(target, format_args!("address {} is empty", i + 1)));
        }
        host_port(address).map_err(|why| bad(target, why))?;
        addresses.push(address.to_string());
    }
    Ok(Target::List(addresses))
}

/// Checks that `address` is exactly `HOST:PORT` (no scheme, path or user).
fn host_port(address: &str) -> Result<(), String> {
    let exact = Endpoint::from_shared(format!("http://{address}"))
        .ok()
        .and_then(|e| e.uri().authority().cloned())
        .is_some_and(|a| a.as_str() == address && a.port().is_some() && !a.host().is_empty());
    if exact && !address.contains('@') {
        Ok(())
    } else {
        Err(format!("address {address:?} is not HOST:PORT"))
    }
}

/// The endpoint of one address or URI: `https` with TLS, `http` without (a
/// URI must say the same). With TLS, the server's certificate is verified
/// against the URI's host unless `tls` names another (`domain_name`).
fn endpoint(target: &str, tls: Option<&ClientTlsConfig>) -> Result<Endpoint, Error> {
    let scheme = if tls.is_some() { "https" } else { "http" };
    let uri = match target.split_once("://") {
        None => format!("{scheme}://{target}"),
        Some((given, _)) if given == scheme => target.to_string(),
        Some(_) if tls.is_some() => return Err(bad(target, "with TLS, a URI is https://")),
        Some(_) => return Err(bad(target, "an https:// URI needs TLS settings")),
    };
    let endpoint = Endpoint::from_shared(uri)
        .map(|e| e.connect_timeout(DEFAULT_TIMEOUT))
        .map_err(|e| bad(target, e))?;
    match tls {
        Some(config) => endpoint.tls_config(config.clone()).map_err(|e| {
            Error::new(
                Code::InvalidArgument,
                format!("TLS: {}", Error::transport(e).message()),
            )
        }),
        None => Ok(endpoint),
    }
}

/// The endpoints of a DNS name's addresses. With TLS each is verified
/// against the name, not the address it resolved to.
fn endpoints_of(
    name: &str,
    addresses: impl IntoIterator<Item = SocketAddr>,
    tls: Option<&ClientTlsConfig>,
) -> Result<Vec<Endpoint>, Error> {
    let mut seen = Vec::new();
    for address in addresses {
        if !seen.contains(&address) {
            seen.push(address);
        }
    }
    let host = name.rsplit_once(':').map_or(name, |(host, _)| host);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let tls = tls.map(|config| config.clone().domain_name(host));
    seen.iter()
        .map(|a| endpoint(&a.to_string(), tls.as_ref()))
        .collect()
}

fn unresolved(name: &str, why: impl std::fmt::Display) -> Error {
    Error::new(Code::Unavailable, format!("cannot resolve {name:?}: {why}"))
}

/// The endpoints of `target`, resolving a DNS name with the blocking resolver
/// (for the synchronous [`crate::Client::connect_lazy`]).
pub(crate) fn endpoints_now(
    target: &Target,
    tls: Option<&ClientTlsConfig>,
) -> Result<Vec<Endpoint>, Error> {
    match target {
        Target::One(t) => Ok(vec![endpoint(t, tls)?]),
        Target::List(addresses) => addresses.iter().map(|a| endpoint(a, tls)).collect(),
        Target::Dns(name) => endpoints_of(
            name,
            name.to_socket_addrs().map_err(|e| unresolved(name, e))?,
            tls,
        ),
    }
    .and_then(nonempty)
}

/// The endpoints of `target`, resolving a DNS name without blocking.
pub(crate) async fn endpoints(
    target: &Target,
    tls: Option<&ClientTlsConfig>,
) -> Result<Vec<Endpoint>, Error> {
    match target {
        Target::Dns(name) => endpoints_of(
            name,
            tokio::net::lookup_host(name.as_str())
                .await
                .map_err(|e| unresolved(name, e))?,
            tls,
        )
        .and_then(nonempty),
        other => endpoints_now(other, tls),
    }
}

fn nonempty(endpoints: Vec<Endpoint>) -> Result<Vec<Endpoint>, Error> {
    if endpoints.is_empty() {
        return Err(Error::new(Code::Unavailable, "the target has no address"));
    }
    Ok(endpoints)
}

/// A channel over `endpoints`, connecting on the first call: one endpoint's
/// own channel (exactly the single-server client), or a balance over all.
pub(crate) fn lazy_channel(mut endpoints: Vec<Endpoint>) -> Channel {
    if endpoints.len() == 1 {
        return endpoints.remove(0).connect_lazy();
    }
    Channel::balance_list(endpoints.into_iter())
}

/// A channel over `endpoints`, failing with `Unavailable` when none can be
/// reached. One endpoint: its connected channel. Several: each is tried at
/// once; when one answers, the balanced channel is returned (its connections
/// are made on the first call, as servers may come and go).
pub(crate) async fn connected_channel(mut endpoints: Vec<Endpoint>) -> Result<Channel, Error> {
    if endpoints.len() == 1 {
        return endpoints
            .remove(0)
            .connect()
            .await
            .map_err(Error::transport);
    }
    let mut probes = JoinSet::new();
    for e in endpoints.clone() {
        probes.spawn(async move { e.connect().await.map(drop) });
    }
    let mut last = None;
    while let Some(probe) = probes.join_next().await {
        match probe {
            Ok(Ok(())) => return Ok(lazy_channel(endpoints)),
            Ok(Err(e)) => last = Some(Error::transport(e)),
            Err(e) => last = Some(Error::new(Code::Unavailable, e.to_string())),
        }
    }
    let why = last.map_or_else(String::new, |e| e.message().to_string());
    Err(Error::new(
        Code::Unavailable,
        format!(
            "none of the {} addresses can be reached: {why}",
            endpoints.len()
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(addresses: &[&str]) -> Target {
        Target::List(addresses.iter().map(|a| a.to_string()).collect())
    }

    #[test]
    fn one_address_or_uri_is_one_target_as_before() {
        for t in [
            "127.0.0.1:50051",
            "localhost:50051",
            "http://[::1]:50051",
            "h",
        ] {
            assert_eq!(parse(t).unwrap(), Target::One(t.to_string()), "{t}");
        }
    }

    #[test]
    fn a_comma_separated_list_is_every_address() {
        assert_eq!(
            parse("127.0.0.1:50051,127.0.0.1:50052").unwrap(),
            list(&["127.0.0.1:50051", "127.0.0.1:50052"])
        );
        assert_eq!(
            parse(" a.example:1 , [::1]:2,c:3").unwrap(),
            list(&["a.example:1", "[::1]:2", "c:3"])
        );
    }

    #[test]
    fn a_bad_list_is_invalid_argument_naming_the_target_and_address() {
        for (t, why) in [
            ("127.0.0.1:50051,", "address 2 is empty"),
            (",a:1", "address 1 is empty"),
            ("a:1, ,b:2", "address 2 is empty"),
            ("a:1,127.0.0.1", "address \"127.0.0.1\" is not HOST:PORT"),
            ("a:1,b:", "address \"b:\" is not HOST:PORT"),
            ("a:1,:2", "address \":2\" is not HOST:PORT"),
            ("a:1,http://b:2", "address \"http://b:2\" is not HOST:PORT"),
            ("a:1,b:2/x", "address \"b:2/x\" is not HOST:PORT"),
            ("a:1,u@b:2", "address \"u@b:2\" is not HOST:PORT"),
            ("a:1,b:99999", "address \"b:99999\" is not HOST:PORT"),
        ] {
            let error = parse(t).unwrap_err();
            assert_eq!(error.code(), Code::InvalidArgument, "{t}");
            assert!(error.message().contains(why), "{t}: {}", error.message());
            assert!(error.message().contains(&format!("{t:?}")), "{t}");
        }
    }

    #[test]
    fn a_dns_target_is_a_name_and_port() {
        assert_eq!(
            parse("dns:///cs.example:50051").unwrap(),
            Target::Dns("cs.example:50051".into())
        );
        for t in [
            "dns:///cs.example",
            "dns://8.8.8.8/cs.example:50051",
            "dns:cs:1",
            "dns:///",
        ] {
            assert_eq!(parse(t).unwrap_err().code(), Code::InvalidArgument, "{t}");
        }
    }

    #[test]
    fn a_dns_name_gives_one_endpoint_per_address() {
        let endpoints = endpoints_now(&parse("dns:///localhost:50051").unwrap(), None).unwrap();
        let uris: Vec<String> = endpoints.iter().map(|e| e.uri().to_string()).collect();
        assert!(!uris.is_empty());
        for uri in &uris {
            assert!(
                uri == "http://127.0.0.1:50051/" || uri == "http://[::1]:50051/",
                "{uri}"
            );
        }
        let unique: std::collections::BTreeSet<_> = uris.iter().collect();
        assert_eq!(unique.len(), uris.len(), "{uris:?}");
    }

    #[test]
    fn a_name_that_does_not_resolve_is_unavailable() {
        let error = endpoints_now(&parse("dns:///nowhere.invalid:1").unwrap(), None).unwrap_err();
        assert_eq!(error.code(), Code::Unavailable);
        assert!(
            error.message().contains("nowhere.invalid"),
            "{}",
            error.message()
        );
    }

    use std::time::Duration;

    use tokio::net::TcpListener;

    use crate::Client;

    async fn listener() -> (TcpListener, String) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = l.local_addr().unwrap().to_string();
        (l, address)
    }

    /// An address where nothing listens (connection refused).
    async fn closed() -> String {
        listener().await.1
    }

    // One call on a list client opens a connection to every server: the
    // balancer's, not a single server's channel. (The listeners speak no
    // HTTP/2: the call itself never completes; accepting is the proof.)
    #[tokio::test]
    async fn a_list_connects_to_every_server() {
        let ((a, address_a), (b, address_b)) = (listener().await, listener().await);
        let client = Client::connect_lazy(&format!("{address_a}, {address_b}")).unwrap();
        let call = tokio::spawn(async move { client.stats().await });
        let accepted = tokio::time::timeout(Duration::from_secs(10), async {
            tokio::join!(a.accept(), b.accept())
        });
        let (to_a, to_b) = accepted
            .await
            .expect("a server of the list got no connection");
        call.abort();
        assert!(to_a.is_ok() && to_b.is_ok());
    }

    #[tokio::test]
    async fn connect_to_a_list_needs_one_server_up() {
        let (_up, address_up) = listener().await;
        let down = closed().await;
        assert!(
            Client::connect(&format!("{down},{address_up}"))
                .await
                .is_ok()
        );
        let error = Client::connect(&format!("{down},{}", closed().await))
            .await
            .unwrap_err();
        assert_eq!(error.code(), Code::Unavailable);
        assert!(
            error.message().contains("none of the 2 addresses"),
            "{}",
            error.message()
        );
    }

    #[tokio::test]
    async fn connect_to_a_bad_target_is_invalid_argument() {
        for t in ["a:1,", "dns:///x"] {
            let error = Client::connect(t).await.unwrap_err();
            assert_eq!(error.code(), Code::InvalidArgument, "{t}");
            assert_eq!(
                Client::connect_lazy(t).unwrap_err().code(),
                Code::InvalidArgument
            );
        }
    }
}
