//! `$CONTEXTSTORE_TOKEN`: the only test of this binary, as it sets the
//! process's environment.

mod support;

use contextstore::{Client, TOKEN_ENV};

#[tokio::test]
async fn a_connecting_client_sends_the_environments_token_unless_told_otherwise() {
    let (address, seen) = support::serve(None, None).await;
    let get = async |client: &Client| client.session("s").get_file("a").await.unwrap();
    // SAFETY: no other thread of this test binary reads the environment.
    unsafe { std::env::set_var(TOKEN_ENV, "from-env") };
    let client = Client::connect(&address).await.unwrap();
    get(&client).await;
    get(&Client::connect_lazy(&address).unwrap()).await;
    get(&client.with_token("given").unwrap()).await;
    get(&client.with_token("").unwrap()).await;
    unsafe { std::env::set_var(TOKEN_ENV, "") };
    get(&Client::connect_lazy(&address).unwrap()).await;
    unsafe { std::env::set_var(TOKEN_ENV, "bad\ntoken") };
    let error = Client::connect_lazy(&address).unwrap_err();
    assert!(error.message().contains(TOKEN_ENV), "{}", error.message());
    assert_eq!(
        seen.tokens(),
        ["Bearer from-env", "Bearer from-env", "Bearer given", "", ""]
    );
}
