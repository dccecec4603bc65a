//! The client over TLS and mTLS, with a token, against a tonic server.

mod support;

use contextstore::{Client, Code, Tls};
use support::{Ca, serve};

/// A call that reaches the server: its answer, NOT_FOUND, is a miss.
async fn reaches(client: &Client) -> Result<(), Code> {
    match client.session("s").get_file("a.py").await {
        Ok(None) => Ok(()),
        Ok(Some(_)) => panic!("the server has no files"),
        Err(error) => Err(error.code()),
    }
}

// Over mTLS the server gets the client's certificate and the token.
#[tokio::test]
async fn mutual_tls_with_a_token() {
    let ca = Ca::new("mtls");
    let server = ca.issue("server", &["localhost", "127.0.0.1"]);
    let (address, seen) = serve(Some(&server), Some(&ca)).await;
    let agent = ca.issue("agent-7", &["agent-7"]);
    let tls = Tls::default()
        .ca(&ca.ca_file)
        .identity(&agent.cert, &agent.key);
    let client = Client::connect_tls(&address, &tls)
        .await
        .unwrap()
        .with_token("s3cret")
        .unwrap();
    reaches(&client).await.unwrap();
    assert_eq!(seen.calls(), [("Bearer s3cret".to_string(), true)]);
}

// The client trusts only its CA and the host it dialled; a server requiring a
// client certificate refuses a client without one.
#[tokio::test]
async fn tls_refusals() {
    let (ca, other) = (Ca::new("refusals"), Ca::new("refusals-other"));
    let server = ca.issue("server", &["localhost"]); // not 127.0.0.1
    let (address, seen) = serve(Some(&server), None).await;
    let port = address.rsplit_once(':').unwrap().1;
    let (mtls_address, _) = serve(Some(&server), Some(&ca)).await;
    let mtls_port = mtls_address.rsplit_once(':').unwrap().1;
    let trusted = Tls::default().ca(&ca.ca_file);

    let localhost = Client::connect_lazy_tls(&format!("localhost:{port}"), &trusted).unwrap();
    reaches(&localhost).await.unwrap();
    for (target, tls, why) in [
        (
            format!("localhost:{port}"),
            Tls::default().ca(&other.ca_file),
            "another CA",
        ),
        (
            address.clone(),
            trusted.clone(),
            "a host not in the certificate",
        ),
        (
            format!("localhost:{mtls_port}"),
            trusted.clone(),
            "mTLS without a certificate",
        ),
    ] {
        let client = Client::connect_lazy_tls(&target, &tls).unwrap();
        assert_eq!(reaches(&client).await, Err(Code::Unavailable), "{why}");
    }
    assert_eq!(seen.calls().len(), 1, "only the trusted call got through");
}

// Each server of a list is verified against its own host: the one at
// 127.0.0.1 has only that IP in its certificate, the other only "localhost".
#[tokio::test]
async fn a_list_verifies_each_server_against_its_host() {
    let ca = Ca::new("list");
    let (a, seen_a) = serve(Some(&ca.issue("by-ip", &["127.0.0.1"])), None).await;
    let (b, seen_b) = serve(Some(&ca.issue("by-name", &["localhost"])), None).await;
    let b = b.replace("127.0.0.1", "localhost");
    let client = Client::connect_tls(&format!("{a},{b}"), &Tls::default().ca(&ca.ca_file))
        .await
        .unwrap();
    for i in 0.. {
        reaches(&client)
            .await
            .unwrap_or_else(|code| panic!("call {i}: {code:?}"));
        if !seen_a.calls().is_empty() && !seen_b.calls().is_empty() {
            break;
        }
        assert!(i < 200, "both servers never used");
    }
}

// A dns:/// name resolves to addresses, but the server is verified against
// the name: its certificate has only "localhost".
#[tokio::test]
async fn a_dns_target_is_verified_against_the_name() {
    let ca = Ca::new("dns");
    let (address, seen) = serve(Some(&ca.issue("by-name", &["localhost"])), None).await;
    let port = address.rsplit_once(':').unwrap().1;
    let client = Client::connect_tls(
        &format!("dns:///localhost:{port}"),
        &Tls::default().ca(&ca.ca_file),
    )
    .await
    .unwrap();
    reaches(&client).await.unwrap();
    assert_eq!(seen.calls().len(), 1);
}

// A URI target over TLS is https://; an https:// one needs TLS settings.
#[tokio::test]
async fn uri_schemes_must_match_tls() {
    let ca = Ca::new("schemes");
    let tls = Tls::default().ca(&ca.ca_file);
    let error = Client::connect_lazy_tls("http://localhost:1", &tls).unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    assert!(Client::connect_lazy_tls("https://localhost:1", &tls).is_ok());
    let error = Client::connect_lazy("https://localhost:1").unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
}

// The token also goes over plaintext; an empty one sends none.
#[tokio::test]
async fn a_token_over_plaintext_and_an_empty_one() {
    let (address, seen) = serve(None, None).await;
    let client = Client::connect_lazy(&address).unwrap();
    reaches(&client.with_token("t1").unwrap()).await.unwrap();
    reaches(&client.with_token("t1").unwrap().with_token("").unwrap())
        .await
        .unwrap();
    assert_eq!(seen.tokens(), ["Bearer t1", ""]);
}
