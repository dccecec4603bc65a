//! The `ListFiles` pager (and its `into_stream`) and `invalidate_prefix`
//! against a tonic server that answers them from canned pages, recording
//! every request.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use contextstore::{Client, Code, pb};
use futures_core::FusedStream;
use futures_util::{StreamExt, TryStreamExt};
use tokio::net::TcpListener;
use tonic::body::Body;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic_prost::ProstCodec;

/// A server's gRPC codec, for the request and response messages of one RPC.
fn grpc<Req, Resp>() -> tonic::server::Grpc<ProstCodec<Resp, Req>>
where
    Req: prost::Message + Default + Send + 'static,
    Resp: prost::Message + Send + 'static,
{
    tonic::server::Grpc::new(ProstCodec::default())
}

/// The requests the server received.
#[derive(Clone, Default)]
struct Seen {
    lists: Arc<Mutex<Vec<pb::ListFilesRequest>>>,
    invalidations: Arc<Mutex<Vec<pb::InvalidatePrefixRequest>>>,
}

/// Serves `pages` (the paths of each), page i's token being `"p<i>"`; a
/// request for page `fail_at` fails with INTERNAL. InvalidatePrefix removes 3
/// files and 2 analyses, or refuses an empty prefix.
async fn serve(pages: Vec<Vec<&'static str>>, fail_at: Option<usize>) -> (Client, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let seen = Seen::default();
    let record = seen.clone();
    let pages = Arc::new(pages);
    let service = tower::service_fn(move |request: http::Request<Body>| {
        let (seen, pages) = (record.clone(), pages.clone());
        async move {
            let response = match request.uri().path() {
                "/contextstore.v1.ContextStoreService/ListFiles" => {
                    let list = tower::service_fn(move |r: tonic::Request<pb::ListFilesRequest>| {
                        let r = r.into_inner();
                        seen.lists.lock().unwrap().push(r.clone());
                        let page = match r.page_token.as_str() {
                            "" => Some(0),
                            token => token
                                .strip_prefix('p')
                                .and_then(|n| n.parse().ok())
                                .filter(|&n: &usize| n > 0 && n < pages.len()),
                        };
                        let answer = match page {
                            None => Err(tonic::Status::invalid_argument("bad page_token")),
                            Some(i) if Some(i) == fail_at => Err(tonic::Status::internal("broken")),
                            Some(i) => Ok(tonic::Response::new(pb::ListFilesResponse {
                                files: pages[i]
                                    .iter()
                                    .map(|p| pb::FileMetadata {
                                        path: p.to_string(),
                                        size: p.len() as i64,
                                        version: 1,
                                        ..Default::default()
                                    })
                                    .collect(),
                                next_page_token: if i + 1 < pages.len() {
                                    format!("p{}", i + 1)
                                } else {
                                    String::new()
                                },
                                revision: 1000 + i as i64,
                            })),
                        };
                        async move { answer }
                    });
                    grpc().unary(list, request).await
                }
                "/contextstore.v1.ContextStoreService/InvalidatePrefix" => {
                    let invalidate =
                        tower::service_fn(move |r: tonic::Request<pb::InvalidatePrefixRequest>| {
                            let r = r.into_inner();
                            seen.invalidations.lock().unwrap().push(r.clone());
                            let answer = if r.path_prefix.is_empty() {
                                Err(tonic::Status::invalid_argument("empty path_prefix"))
                            } else {
                                Ok(tonic::Response::new(pb::InvalidatePrefixResponse {
                                    files_removed: 3,
                                    analyses_removed: 2,
                                    revision: 55,
                                }))
                            };
                            async move { answer }
                        });
                    grpc().unary(invalidate, request).await
                }
                _ => tonic::Status::unimplemented("not here").into_http::<Body>(),
            };
            Ok::<_, Infallible>(response)
        }
    });
    tokio::spawn(Server::builder().serve_with_incoming(service, TcpIncoming::from(listener)));
    (Client::connect_lazy(&address).unwrap(), seen)
}

fn paths(files: &[pb::FileMetadata]) -> Vec<&str> {
    files.iter().map(|f| f.path.as_str()).collect()
}

fn tokens(seen: &Seen) -> Vec<String> {
    let lists = seen.lists.lock().unwrap();
    lists.iter().map(|r| r.page_token.clone()).collect()
}

// The pager follows every token until an empty one, through a short and an
// empty page, sending the session, the prefix and the page size each time.
#[tokio::test]
async fn the_pager_follows_tokens_until_an_empty_one() {
    let pages = vec![vec!["a/1", "a/2"], vec!["a/3"], vec![], vec!["a/4", "a/5"]];
    let (client, seen) = serve(pages, None).await;
    let mut files = client
        .session("s")
        .list_files()
        .path_prefix("a/")
        .page_size(2);
    let mut got = Vec::new();
    while let Some(meta) = files.next().await.unwrap() {
        assert_eq!((meta.size, meta.version), (meta.path.len() as i64, 1));
        got.push(meta.path);
    }
    assert_eq!(got, ["a/1", "a/2", "a/3", "a/4", "a/5"]);
    // Used up: nothing more is fetched.
    assert!(files.next().await.unwrap().is_none());
    assert!(files.next_page().await.unwrap().is_none());
    assert_eq!(tokens(&seen), ["", "p1", "p2", "p3"]);
    for request in seen.lists.lock().unwrap().iter() {
        assert_eq!(request.session_id.as_deref(), Some("s"));
        assert_eq!((request.path_prefix.as_str(), request.page_size), ("a/", 2));
    }
}

// Pages are fetched as they are reached; next_page gives what next left of
// the current page, then whole pages (an empty one included), then None.
#[tokio::test]
async fn pages_are_fetched_lazily() {
    let pages = vec![vec!["a", "b"], vec![], vec!["c"]];
    let (client, seen) = serve(pages, None).await;
    let mut files = client.list_files();
    assert!(seen.lists.lock().unwrap().is_empty());
    assert_eq!(files.next().await.unwrap().unwrap().path, "a");
    assert_eq!(tokens(&seen), [""]);
    assert_eq!(paths(&files.next_page().await.unwrap().unwrap()), ["b"]);
    assert_eq!(tokens(&seen), [""]);
    assert!(files.next_page().await.unwrap().unwrap().is_empty());
    assert_eq!(paths(&files.next_page().await.unwrap().unwrap()), ["c"]);
    assert!(files.next_page().await.unwrap().is_none());
    assert_eq!(tokens(&seen), ["", "p1", "p2"]);
    let request = &seen.lists.lock().unwrap()[0];
    assert_eq!(request, &pb::ListFilesRequest::default());
}

// A failed page is the error of next(); the pager stays where it was, so
// the next call asks for that page again. collect() drains what is left.
#[tokio::test]
async fn an_error_keeps_the_pager_on_its_page() {
    let pages = vec![vec!["a"], vec!["b"], vec!["c"]];
    let (client, seen) = serve(pages, Some(1)).await;
    let mut files = client.list_files();
    assert_eq!(files.next().await.unwrap().unwrap().path, "a");
    assert_eq!(files.next().await.unwrap_err().code(), Code::Internal);
    assert_eq!(files.collect().await.unwrap_err().code(), Code::Internal);
    assert_eq!(tokens(&seen), ["", "p1", "p1"]);

    let (client, _) = serve(vec![vec!["a", "b"], vec!["c"]], None).await;
    let all = client.list_files().collect().await.unwrap();
    assert_eq!(paths(&all), ["a", "b", "c"]);
}

#[tokio::test]
async fn one_page_at_a_time() {
    let (client, seen) = serve(vec![vec!["a", "b"], vec!["c"]], None).await;
    let agent = client.session("s");
    let first = agent.list_files_page("x", 2, "").await.unwrap();
    assert_eq!(
        (paths(&first.files), first.next_page_token.as_str()),
        (vec!["a", "b"], "p1")
    );
    assert_eq!(first.revision, 1000);
    let last = agent
        .list_files_page("x", 2, first.next_page_token)
        .await
        .unwrap();
    assert_eq!(
        (paths(&last.files), last.next_page_token.as_str()),
        (vec!["c"], "")
    );
    assert_eq!(
        seen.lists.lock().unwrap()[1],
        pb::ListFilesRequest {
            session_id: Some("s".into()),
            path_prefix: "x".into(),
            page_size: 2,
            page_token: "p1".into(),
        }
    );
    let error = agent.list_files_page("x", 2, "bogus").await.unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn invalidate_prefix_counts_what_it_removed() {
    let (client, seen) = serve(vec![vec![]], None).await;
    let removed = client.session("s").invalidate_prefix("src/").await.unwrap();
    assert_eq!(
        (
            removed.files_removed,
            removed.analyses_removed,
            removed.revision
        ),
        (3, 2, 55)
    );
    let error = client.invalidate_prefix("").await.unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    let sent = seen.invalidations.lock().unwrap().clone();
    assert_eq!(
        sent,
        [
            pb::InvalidatePrefixRequest {
                session_id: Some("s".into()),
                path_prefix: "src/".into(),
            },
            pb::InvalidatePrefixRequest {
                session_id: None,
                path_prefix: String::new(),
            },
        ]
    );
}

// -- into_stream: the same listing as a Stream -----------------------------------

// The stream gives every file of every page, following the tokens through a
// short and an empty page, with the session, prefix and page size each time.
#[tokio::test]
async fn the_stream_follows_tokens_until_an_empty_one() {
    let pages = vec![vec!["a/1", "a/2"], vec!["a/3"], vec![], vec!["a/4", "a/5"]];
    let (client, seen) = serve(pages, None).await;
    let files = client
        .session("s")
        .list_files()
        .path_prefix("a/")
        .page_size(2)
        .into_stream();
    let got: Vec<_> = tokio::spawn(files.map_ok(|meta| meta.path).try_collect::<Vec<_>>())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, ["a/1", "a/2", "a/3", "a/4", "a/5"]);
    assert_eq!(tokens(&seen), ["", "p1", "p2", "p3"]);
    for request in seen.lists.lock().unwrap().iter() {
        assert_eq!(request.session_id.as_deref(), Some("s"));
        assert_eq!((request.path_prefix.as_str(), request.page_size), ("a/", 2));
    }
}

// Pages are fetched as the stream reaches them: take(n) fetches no more than
// the pages its n files are on.
#[tokio::test]
async fn the_stream_fetches_pages_lazily() {
    let pages = vec![vec!["a", "b"], vec![], vec!["c"]];
    let (client, seen) = serve(pages, None).await;
    let mut files = client.list_files().into_stream();
    assert!(seen.lists.lock().unwrap().is_empty());
    assert_eq!(files.next().await.unwrap().unwrap().path, "a");
    assert_eq!(tokens(&seen), [""]);
    let next: Vec<_> = files.by_ref().take(1).collect().await;
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].as_ref().unwrap().path, "b");
    assert_eq!(tokens(&seen), [""]);
    assert_eq!(files.next().await.unwrap().unwrap().path, "c");
    assert!(files.next().await.is_none());
    assert!(files.is_terminated());
    assert!(files.next().await.is_none(), "fused");
    assert_eq!(tokens(&seen), ["", "p1", "p2"]);
}

// A failed page is the stream's last item: it ends there, asking no more
// (where the pager, called again, asks for the page again).
#[tokio::test]
async fn an_error_ends_the_stream() {
    let pages = vec![vec!["a"], vec!["b"], vec!["c"]];
    let (client, seen) = serve(pages.clone(), Some(1)).await;
    let items: Vec<_> = client.list_files().into_stream().collect().await;
    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(items[0].as_ref().unwrap().path, "a");
    assert_eq!(items[1].as_ref().unwrap_err().code(), Code::Internal);
    assert_eq!(tokens(&seen), ["", "p1"]);

    let (client, seen) = serve(pages, Some(1)).await;
    let error = client
        .list_files()
        .into_stream()
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::Internal);
    assert_eq!(tokens(&seen), ["", "p1"]);
}
