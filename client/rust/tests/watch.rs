//! The `Watch` pager, and its `into_stream`, against a tonic server that
//! serves `Watch` from a canned history, dropping streams as told, and
//! records every request.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use contextstore::{Client, Code, Error, WatchEventKind, WatchResponse, pb};
use futures_core::{FusedStream, Stream};
use futures_util::{StreamExt, stream};
use tokio::net::TcpListener;
use tonic::body::Body;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic_prost::ProstCodec;
use tonic_types::{ErrorDetails, StatusExt};

type Responses = Pin<Box<dyn Stream<Item = Result<pb::WatchResponse, tonic::Status>> + Send>>;

/// How the server behaves, and what it saw.
#[derive(Default)]
struct Fake {
    /// The path of each revision 1..=len: one FILE_CACHED event each.
    history: Vec<&'static str>,
    /// At most this many changes per stream, after its progress response.
    per_stream: usize,
    /// End streams with OK instead of UNAVAILABLE.
    end_ok: bool,
    /// Keep streams open after what they sent, until the client goes.
    hold: bool,
    /// Stream i fails at once with fail[i] when that is `Some`.
    fail: VecDeque<Option<tonic::Status>>,
    /// Each request, whether it had a grpc-timeout, and its authorization.
    seen: Vec<(pb::WatchRequest, bool, String)>,
}

/// Set when a held stream is dropped: the client went away.
struct Closed(Arc<AtomicBool>);

impl Drop for Closed {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Serves `fake`; returns a client of it and the flag a held stream sets
/// when its client goes away.
async fn serve(fake: Fake) -> (Client, Arc<Mutex<Fake>>, Arc<AtomicBool>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let fake = Arc::new(Mutex::new(fake));
    let closed = Arc::new(AtomicBool::new(false));
    let (state, flag) = (fake.clone(), closed.clone());
    let service = tower::service_fn(move |request: http::Request<Body>| {
        let (state, flag) = (state.clone(), flag.clone());
        let header = |name: &str| {
            let value = request.headers().get(name);
            value.map(|v| v.to_str().unwrap().to_string())
        };
        let (timeout, token) = (header("grpc-timeout").is_some(), header("authorization"));
        async move {
            let watch = tower::service_fn(move |r: tonic::Request<pb::WatchRequest>| {
                let answer = respond(&state, r.into_inner(), timeout, token.clone(), &flag);
                async move { answer.map(tonic::Response::new) }
            });
            let mut grpc = tonic::server::Grpc::new(ProstCodec::<_, pb::WatchRequest>::default());
            Ok::<_, Infallible>(grpc.server_streaming(watch, request).await)
        }
    });
    tokio::spawn(Server::builder().serve_with_incoming(service, TcpIncoming::from(listener)));
    (Client::connect_lazy(&address).unwrap(), fake, closed)
}

/// One stream: a progress response at the start revision (the last one for
/// 0), then the changes after it under the prefix, per_stream at most, then
/// the end the fake is told.
fn respond(
    state: &Mutex<Fake>,
    r: pb::WatchRequest,
    timeout: bool,
    token: Option<String>,
    closed: &Arc<AtomicBool>,
) -> Result<Responses, tonic::Status> {
    let mut fake = state.lock().unwrap();
    fake.seen
        .push((r.clone(), timeout, token.unwrap_or_default()));
    if let Some(Some(status)) = fake.fail.pop_front() {
        return Err(status);
    }
    let last = fake.history.len() as i64;
    let start = if r.start_revision == 0 {
        last
    } else {
        r.start_revision
    };
    let mut items = vec![Ok(pb::WatchResponse {
        revision: start,
        progress: true,
        ..Default::default()
    })];
    let changes = (start + 1..=last)
        .map(|rev| (rev, fake.history[rev as usize - 1]))
        .filter(|(_, path)| path.starts_with(&r.path_prefix))
        .take(fake.per_stream)
        .map(|(rev, path)| {
            Ok(pb::WatchResponse {
                revision: rev,
                events: vec![pb::WatchEvent {
                    kind: WatchEventKind::FileCached.into(),
                    path: path.to_string(),
                    version: rev,
                    ..Default::default()
                }],
                progress: false,
            })
        });
    items.extend(changes);
    if fake.hold {
        let guard = Closed(closed.clone());
        let sent = stream::iter(items).chain(stream::pending());
        return Ok(Box::pin(sent.map(move |item| {
            let _ = &guard; // dropped with the stream
            item
        })));
    }
    if !fake.end_ok {
        items.push(Err(tonic::Status::unavailable("stream over")));
    }
    Ok(Box::pin(stream::iter(items)))
}

fn down() -> Option<tonic::Status> {
    Some(tonic::Status::unavailable("down"))
}

/// The next `n` event responses (progress skipped), or the error that came.
async fn events(watch: &mut contextstore::Watch, n: usize) -> Result<Vec<WatchResponse>, Error> {
    let mut out = Vec::new();
    while out.len() < n {
        let response = watch.next().await.expect("the watch ended")?;
        if !response.progress {
            out.push(response);
        }
    }
    Ok(out)
}

fn starts(fake: &Mutex<Fake>) -> Vec<i64> {
    let fake = fake.lock().unwrap();
    fake.seen.iter().map(|(r, _, _)| r.start_revision).collect()
}

/// A server that ends every stream after one change, of six, half under src/.
fn dropping() -> Fake {
    Fake {
        history: vec!["a", "src/b", "c", "src/d", "src/e", "f"],
        per_stream: 1,
        ..Default::default()
    }
}

/// A caller of session "s" with a token, whose calls have a 50 ms deadline.
fn agent(client: &Client) -> Client {
    client
        .session("s")
        .with_token("t0k")
        .unwrap()
        .with_timeout(Duration::from_millis(50))
}

/// `dropping`'s streams were resumed from the last revision received (2, then
/// 4), each as `agent` asked: same session, prefix and token, no deadline.
fn assert_resumed_as_asked(fake: &Mutex<Fake>) {
    assert_eq!(starts(fake), [1, 2, 4]);
    for (request, timeout, token) in &fake.lock().unwrap().seen {
        assert_eq!(request.session_id.as_deref(), Some("s"));
        assert_eq!(request.path_prefix, "src/");
        assert!(!timeout, "a watch carried a deadline");
        assert_eq!(token, "Bearer t0k");
    }
}

/// A server whose streams end with OK after one change, the first two failing.
fn ending_ok() -> Fake {
    Fake {
        history: vec!["a", "b", "c"],
        per_stream: 1,
        end_ok: true,
        fail: VecDeque::from([down(), down()]),
        ..Default::default()
    }
}

/// A server that stays down.
fn down_for_good() -> Fake {
    Fake {
        fail: (0..100).map(|_| down()).collect(),
        ..Default::default()
    }
}

/// Every attempt started from 7, and the last failed once `timeout` had passed.
fn assert_gave_up(attempts: &[i64], elapsed: Duration, timeout: Duration) {
    assert!((2..=10).contains(&attempts.len()), "{attempts:?}");
    assert!(attempts.iter().all(|&start| start == 7), "{attempts:?}");
    assert!(
        elapsed >= timeout && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
}

/// Three runs of three failures, each ended by a stream that receives.
fn failing_in_runs() -> Fake {
    let run = [down(), down(), down(), None];
    Fake {
        history: vec!["a", "b", "c"],
        per_stream: 1,
        fail: run.iter().cycle().take(12).cloned().collect(),
        ..Default::default()
    }
}

/// OUT_OF_RANGE for a compacted start: the oldest revision kept is 10, the current 42.
fn compacted() -> tonic::Status {
    let metadata = HashMap::from([
        ("oldest_revision".to_string(), "10".to_string()),
        ("current_revision".to_string(), "42".to_string()),
    ]);
    tonic::Status::with_error_details(
        Code::OutOfRange,
        "compacted",
        ErrorDetails::with_error_info("REVISION_COMPACTED", "contextstore.dev", metadata),
    )
}

/// A server that keeps its one stream open after one change.
fn holding() -> Fake {
    Fake {
        history: vec!["a"],
        hold: true,
        ..Default::default()
    }
}

/// Returns once the server has seen its stream close (within 5 s).
async fn closed_soon(closed: &AtomicBool) {
    let began = Instant::now();
    while !closed.load(Ordering::SeqCst) {
        assert!(began.elapsed() < Duration::from_secs(5), "still open");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

// A server that ends every stream after one change: the watch resumes from
// the last revision received each time, with the same session, prefix and
// token, and no deadline although the handle's is 50 ms.
#[tokio::test]
async fn a_dropped_stream_resumes_from_the_last_revision() {
    let (client, fake, _) = serve(dropping()).await;
    let agent = agent(&client);
    let mut watch = agent.watch().start_revision(1).path_prefix("src/");
    let got = events(&mut watch, 3).await.unwrap();
    let revisions: Vec<i64> = got.iter().map(|r| r.revision).collect();
    assert_eq!(revisions, [2, 4, 5]);
    for r in &got {
        assert_eq!(r.events.len(), 1);
        assert_eq!(r.events[0].kind(), WatchEventKind::FileCached);
        assert_eq!(r.events[0].version, r.revision);
    }
    assert_eq!(watch.revision(), 5);
    assert_resumed_as_asked(&fake);
}

// A stream that ends with OK is resumed like a dropped one, and so is one
// that failed before anything arrived, from the caller's start revision.
// Progress responses are given, the first at the start revision.
#[tokio::test]
async fn an_ok_end_and_early_failures_resume_too() {
    let (client, fake, _) = serve(ending_ok()).await;
    let mut watch = client.watch().start_revision(1);
    let mut seen = Vec::new();
    for _ in 0..5 {
        let r = watch.next().await.unwrap().unwrap();
        seen.push((r.revision, r.progress));
    }
    let want = [(1, true), (2, false), (2, true), (3, false), (3, true)];
    assert_eq!(seen, want);
    assert_eq!(starts(&fake), [1, 1, 1, 2, 3]);
    assert!(fake.lock().unwrap().seen[0].0.session_id.is_none());
}

// A server that stays down: the watch resumes until its (here tiny) resume
// timeout has passed since the first failure, then returns the Unavailable
// error, every attempt from the caller's start revision; then it is over.
#[tokio::test]
async fn the_watch_gives_up_once_the_resume_timeout_has_passed() {
    let (client, fake, _) = serve(down_for_good()).await;
    let timeout = Duration::from_millis(300);
    let mut watch = client
        .session("s")
        .watch()
        .start_revision(7)
        .resume_timeout(timeout);
    let began = Instant::now();
    let error = watch.next().await.unwrap().unwrap_err();
    let elapsed = began.elapsed();
    assert_eq!(error.code(), Code::Unavailable, "{error}");
    let attempts = starts(&fake);
    assert_gave_up(&attempts, elapsed, timeout);
    assert!(watch.next().await.is_none());
    assert_eq!(fake.lock().unwrap().seen.len(), attempts.len());
}

// A response resets the timeout: with 500 ms, three runs of three failures
// (waits of 0, 100 and 200 ms: about 300 ms each), each ended by a stream
// that receives, are about 900 ms of failures, but never 500 ms since a
// response, so the watch carries on.
#[tokio::test]
async fn a_response_resets_the_resume_timeout() {
    let (client, fake, _) = serve(failing_in_runs()).await;
    let mut watch = client.watch().resume_timeout(Duration::from_millis(500));
    // From now (3): each receiving stream gives its progress, then drops.
    let mut progress = Vec::new();
    while progress.len() < 3 {
        let response = watch.next().await.unwrap().unwrap();
        progress.push(response.revision);
    }
    assert_eq!(progress, [3, 3, 3]);
    assert_eq!(fake.lock().unwrap().seen.len(), 12);
}

// Any other failure ends the watch at once, not resumed: a compacted start
// revision carries the oldest and current revisions.
#[tokio::test]
async fn other_failures_end_the_watch() {
    for (status, code) in [
        (compacted(), Code::OutOfRange),
        (
            tonic::Status::invalid_argument("start_revision"),
            Code::InvalidArgument,
        ),
    ] {
        let fake = Fake {
            fail: VecDeque::from([Some(status)]),
            ..Default::default()
        };
        let (client, fake, _) = serve(fake).await;
        let mut watch = client.watch().start_revision(3);
        let error = watch.next().await.unwrap().unwrap_err();
        assert_eq!(error.code(), code);
        if code == Code::OutOfRange {
            let kept = error.revision_compacted().expect("a compaction");
            assert_eq!((kept.oldest_revision, kept.current_revision), (10, 42));
        } else {
            assert!(error.revision_compacted().is_none());
        }
        assert!(watch.next().await.is_none());
        assert_eq!(fake.lock().unwrap().seen.len(), 1);
    }
}

// Dropping the watch closes the stream.
#[tokio::test]
async fn dropping_the_watch_closes_the_stream() {
    let (client, _, closed) = serve(holding()).await;
    let mut watch = client.session("s").watch();
    let first = watch.next().await.unwrap().unwrap();
    assert!(first.progress && first.events.is_empty() && first.revision == 1);
    assert!(!closed.load(Ordering::SeqCst));
    drop(watch);
    closed_soon(&closed).await;
}

// -- into_stream: the same watch as a Stream ------------------------------------

/// The revision and progress flag of a response.
fn step(response: &WatchResponse) -> (i64, bool) {
    (response.revision, response.progress)
}

// The stream resumes a dropped stream from the last revision received, as the
// pager does, with the same session, prefix and token and no deadline; it is
// Send, so it can be consumed on another task, and take(n) stops it there.
#[tokio::test]
async fn the_stream_resumes_from_the_last_revision() {
    let (client, fake, _) = serve(dropping()).await;
    let agent = agent(&client);
    let changes = agent
        .watch()
        .start_revision(1)
        .path_prefix("src/")
        .into_stream()
        .filter(|r| std::future::ready(!r.as_ref().is_ok_and(|r| r.progress)))
        .take(3);
    let got: Vec<_> = tokio::spawn(changes.collect::<Vec<_>>()).await.unwrap();
    let got: Vec<WatchResponse> = got.into_iter().collect::<Result<_, _>>().unwrap();
    let revisions: Vec<i64> = got.iter().map(|r| r.revision).collect();
    assert_eq!(revisions, [2, 4, 5]);
    for r in &got {
        assert_eq!(r.events.len(), 1);
        assert_eq!(r.events[0].kind(), WatchEventKind::FileCached);
        assert_eq!(
            r.events[0].path,
            ["", "a", "src/b", "c", "src/d", "src/e"][r.revision as usize]
        );
    }
    assert_resumed_as_asked(&fake);
}

// Progress responses are items too; an OK end and failures before anything
// arrived are resumed, from the caller's start revision, as by next().
#[tokio::test]
async fn the_stream_gives_progress_and_resumes_after_an_ok_end_and_early_failures() {
    let (client, fake, _) = serve(ending_ok()).await;
    let mut changes = client.watch().start_revision(1).into_stream();
    let first = changes.next().await.unwrap().unwrap();
    assert_eq!(step(&first), (1, true));
    let rest: Vec<_> = changes.by_ref().take(4).collect().await;
    let rest: Vec<_> = rest.iter().map(|r| step(r.as_ref().unwrap())).collect();
    assert_eq!(rest, [(2, false), (2, true), (3, false), (3, true)]);
    assert_eq!(starts(&fake), [1, 1, 1, 2, 3]);
    // Still going: the next stream starts from 3.
    assert_eq!(step(&changes.next().await.unwrap().unwrap()), (3, true));
    assert_eq!(starts(&fake), [1, 1, 1, 2, 3, 3]);
}

// A server that stays down: the stream resumes until the resume timeout has
// passed, then its last item is the Unavailable error and it ends, for good.
#[tokio::test]
async fn the_stream_ends_with_the_error_once_the_resume_timeout_has_passed() {
    let (client, fake, _) = serve(down_for_good()).await;
    let timeout = Duration::from_millis(300);
    let mut changes = client
        .session("s")
        .watch()
        .start_revision(7)
        .resume_timeout(timeout)
        .into_stream();
    let began = Instant::now();
    let error = changes.next().await.unwrap().unwrap_err();
    let elapsed = began.elapsed();
    assert_eq!(error.code(), Code::Unavailable, "{error}");
    let attempts = starts(&fake);
    assert_gave_up(&attempts, elapsed, timeout);
    assert!(changes.next().await.is_none());
    assert!(changes.is_terminated());
    assert!(changes.next().await.is_none(), "fused");
    assert_eq!(fake.lock().unwrap().seen.len(), attempts.len());
}

// A response resets the timeout, in the stream as in the pager.
#[tokio::test]
async fn a_response_resets_the_streams_resume_timeout() {
    let (client, fake, _) = serve(failing_in_runs()).await;
    let changes = client
        .watch()
        .resume_timeout(Duration::from_millis(500))
        .into_stream();
    let progress: Vec<_> = changes.take(3).map(|r| r.unwrap().revision).collect().await;
    assert_eq!(progress, [3, 3, 3]);
    assert_eq!(fake.lock().unwrap().seen.len(), 12);
}

// A compaction is the stream's one item, not resumed; then it ends.
#[tokio::test]
async fn a_compaction_ends_the_stream() {
    let fake = Fake {
        history: vec!["a"],
        fail: VecDeque::from([Some(compacted())]),
        ..Default::default()
    };
    let (client, fake, _) = serve(fake).await;
    let items: Vec<_> = client
        .watch()
        .start_revision(3)
        .into_stream()
        .collect()
        .await;
    let [Err(error)] = &items[..] else {
        panic!("{items:?}")
    };
    assert_eq!(error.code(), Code::OutOfRange);
    let kept = error.revision_compacted().expect("a compaction");
    assert_eq!((kept.oldest_revision, kept.current_revision), (10, 42));
    assert_eq!(fake.lock().unwrap().seen.len(), 1);
}

// Dropping the stream closes the gRPC stream.
#[tokio::test]
async fn dropping_the_stream_closes_it() {
    let (client, _, closed) = serve(holding()).await;
    let mut changes = client.session("s").watch().into_stream();
    let first = changes.next().await.unwrap().unwrap();
    assert!(first.progress && first.events.is_empty() && first.revision == 1);
    assert!(!closed.load(Ordering::SeqCst));
    drop(changes);
    closed_soon(&closed).await;
}
