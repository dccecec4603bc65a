//! `Watch`: a pager over the server-streaming `Watch` RPC that resumes a
//! dropped stream from the last revision received.

use std::time::{Duration, Instant};

use futures_core::FusedStream;
use futures_util::StreamExt as _;
use tonic::Code;

use crate::client::Client;
use crate::error::Error;
use crate::pb;

/// The wait before the second retry of a run of failures (the first goes at
/// once), doubling up to `MAX_BACKOFF`.
const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// How long a watch waits before trying again, and when it gives up: the
/// policy every client shares (the Python client's `Resume`).
#[derive(Debug)]
struct Resume {
    /// The resume timeout.
    patience: Duration,
    /// When the current run of failures began; `None`: not failing.
    failing_since: Option<Instant>,
    /// Retries in the current run.
    attempts: u32,
}

impl Resume {
    fn new(patience: Duration) -> Self {
        Resume {
            patience,
            failing_since: None,
            attempts: 0,
        }
    }

    /// A response arrived: the run of failures, if any, is over.
    fn received(&mut self) {
        (self.failing_since, self.attempts) = (None, 0);
    }

    /// The wait, at `now`, before resuming after a failure with `code`;
    /// `None`: give up (not `Unavailable`, or the resume timeout has passed
    /// since the run of failures began).
    fn backoff(&mut self, code: Code, now: Instant) -> Option<Duration> {
        if code != Code::Unavailable {
            return None;
        }
        let since = *self.failing_since.get_or_insert(now);
        let left = self
            .patience
            .checked_sub(now.saturating_duration_since(since))?;
        if left.is_zero() {
            return None;
        }
        self.attempts = self.attempts.saturating_add(1);
        // The first at once (a server ending a stream on purpose is up), then backing off.
        if self.attempts == 1 {
            return Some(Duration::ZERO);
        }
        let delay = INITIAL_BACKOFF.saturating_mul(1 << (self.attempts - 2).min(16));
        Some(delay.min(MAX_BACKOFF).min(left))
    }
}

impl Client {
    /// The changes of this namespace, one [`pb::WatchResponse`] per revision,
    /// in revision order, none skipped: a [`Watch`] pager. Set
    /// `.start_revision(r)` (exclusive: every change after `r` is replayed,
    /// then the live ones; 0, the default, is from now) and
    /// `.path_prefix(p)` first, then call [`Watch::next`] (or take
    /// [`Watch::into_stream`], a `Stream`):
    ///
    /// ```no_run
    /// # async fn demo(agent: contextstore::Client) -> Result<(), contextstore::Error> {
    /// use contextstore::WatchEventKind;
    /// let page = agent.list_files_page("src/", 1000, "").await?;
    /// let mut changes = agent.watch().start_revision(page.revision).path_prefix("src/");
    /// while let Some(response) = changes.next().await {
    ///     let response = response?; // e.revision_compacted(): read again, watch again
    ///     for event in &response.events {
    ///         if event.kind() == WatchEventKind::FileCached {
    ///             println!("{} {} v{}", response.revision, event.path, event.version);
    ///         }
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// The pager owns a handle like this one (a cheap clone). A watch has no
    /// deadline, whatever [`Client::with_timeout`] says: it runs until
    /// dropped, which closes the stream.
    pub fn watch(&self) -> Watch {
        Watch {
            client: self.clone(),
            request: pb::WatchRequest {
                session_id: self.session_id().map(str::to_string),
                ..Default::default()
            },
            stream: None,
            resume: Resume::new(Watch::DEFAULT_RESUME_TIMEOUT),
            ended: false,
        }
    }
}

/// The changes of a namespace, made by [`Client::watch`]: an async pager over
/// `Watch`, that resumes the stream when it drops.
///
/// Each [`next`](Watch::next) gives one revision: a [`pb::WatchResponse`]
/// with its `revision`, and either the `events` of one atomic change (a call,
/// a batch, a clear; whole, in the order they happened) or `progress` set
/// and no events. **Progress responses are given too**: a stream's first
/// response is one, at the revision it starts from, then one comes every
/// `watch_progress_interval` while nothing changes; each says the watcher is
/// up to date with its revision. Events' `kind()` is a
/// [`pb::WatchEventKind`], `reason()` a [`pb::RemovalReason`].
///
/// **Resume.** The pager remembers the revision of the last response
/// (events or progress). When the stream ends with `Unavailable` (the server
/// dropped it, is restarting, or ended a long stream on purpose; the
/// connection was lost), or ends without a status (the server never does
/// so), it opens a new one from that revision (the caller's start revision
/// if nothing was received), with the same prefix, and carries on: no gap, no
/// duplicate. It keeps resuming while less than the resume timeout
/// ([`Watch::resume_timeout`]; [`Watch::DEFAULT_RESUME_TIMEOUT`], 30 s, by
/// default) has passed since the first failure of the current run of
/// failures (a response received ends the run): the first retry goes at once,
/// the next ones after 100 ms, doubling up to 2 s, never past the time left.
/// When the time is up, the last `Unavailable` error is returned. Any other failure is returned as it is,
/// notably a start revision older than the history the server keeps:
/// [`Error::revision_compacted`] (`OutOfRange`), never resumed. After an
/// error the watch is over: `next` returns `None`.
///
/// [`into_stream`](Watch::into_stream) turns it into a
/// [`Stream`](futures_core::Stream) of the same items, resuming the same way.
#[derive(Debug)]
#[must_use = "a watch does nothing until next() is awaited"]
pub struct Watch {
    client: Client,
    /// The next stream's request: start_revision is the last revision
    /// received (the caller's until one is).
    request: pb::WatchRequest,
    /// The open stream; `None` before the first call and between attempts.
    stream: Option<tonic::Streaming<pb::WatchResponse>>,
    /// When to resume a dropped stream, and when to give up.
    resume: Resume,
    /// Set by the error that ended the watch.
    ended: bool,
}

impl Watch {
    /// How long a watch keeps resuming without receiving anything, unless
    /// [`resume_timeout`](Watch::resume_timeout) says otherwise: long enough
    /// for a server to restart and the channel to reconnect (gRPC's reconnect
    /// backoff alone is about 1 s).
    pub const DEFAULT_RESUME_TIMEOUT: Duration = Duration::from_secs(30);

    /// Watches from `revision`, exclusive: every change after it is
    /// replayed. Pass the last revision received, a `list_files_page`
    /// `revision` or a write's. 0 (the default) is from now.
    pub fn start_revision(mut self, revision: i64) -> Self {
        self.request.start_revision = revision;
        self
    }

    /// Watches only the events whose path starts with `prefix` (session
    /// events always arrive); `""` (the default) is every event.
    pub fn path_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.request.path_prefix = prefix.into();
        self
    }

    /// Keeps resuming a dropped stream until `timeout` has passed since the
    /// first failure of a run of failures with nothing received (a response
    /// ends the run), then returns the last `Unavailable` error.
    /// [`DEFAULT_RESUME_TIMEOUT`](Watch::DEFAULT_RESUME_TIMEOUT) (30 s) when
    /// not set; zero: never resume.
    pub fn resume_timeout(mut self, timeout: Duration) -> Self {
        self.resume.patience = timeout;
        self
    }

    /// The revision of the last response received; the start revision
    /// before any. A new watch from it misses nothing.
    pub fn revision(&self) -> i64 {
        self.request.start_revision
    }

    /// The next response, opening or resuming the stream as needed; `None`
    /// once an error has ended the watch.
    pub async fn next(&mut self) -> Option<Result<pb::WatchResponse, Error>> {
        if self.ended {
            return None;
        }
        loop {
            let status = match self.stream.as_mut() {
                None => match self.client.open_watch(self.request.clone()).await {
                    Ok(stream) => {
                        self.stream = Some(stream);
                        continue;
                    }
                    Err(status) => status,
                },
                Some(stream) => match stream.message().await {
                    Ok(Some(response)) => {
                        self.request.start_revision = response.revision;
                        self.resume.received();
                        return Some(Ok(response));
                    }
                    // The contract never ends a watch with OK: resume as if dropped.
                    Ok(None) => tonic::Status::unavailable("the watch stream ended"),
                    Err(status) => status,
                },
            };
            self.stream = None;
            let error = Error::from(status);
            let Some(wait) = self.resume.backoff(error.code(), Instant::now()) else {
                return self.end(error);
            };
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
        }
    }

    /// The watch as a [`Stream`](futures_core::Stream): the items of
    /// [`next`](Watch::next), one per revision, progress responses included,
    /// with the same resume; the error that ends the watch is its last item,
    /// then it ends, and stays ended (a [`FusedStream`]). It is `Send`, and
    /// `Unpin`, so `.next().await` needs no pinning: use it with the
    /// `StreamExt` of `futures`, `futures-util` or `tokio-stream`. Dropping it
    /// closes the stream. The revision to watch from again is the last item's
    /// `revision`.
    ///
    /// ```no_run
    /// # async fn demo(agent: contextstore::Client) -> Result<(), contextstore::Error> {
    /// use futures_util::StreamExt;
    /// let mut changes = agent.watch().path_prefix("src/").into_stream();
    /// while let Some(response) = changes.next().await {
    ///     let response = response?; // Unavailable once resuming timed out, compaction, ...
    ///     println!("{}: {} events", response.revision, response.events.len());
    /// }
    /// // Or the first ten changes, skipping progress responses.
    /// let ten: Vec<_> = agent
    ///     .watch()
    ///     .into_stream()
    ///     .filter(|r| std::future::ready(!r.as_ref().is_ok_and(|r| r.progress)))
    ///     .take(10)
    ///     .collect()
    ///     .await;
    /// # let _ = ten; Ok(()) }
    /// ```
    pub fn into_stream(
        self,
    ) -> impl FusedStream<Item = Result<pb::WatchResponse, Error>> + Send + Unpin {
        // next() gives None after the error that ends the watch: so does the
        // stream. Boxed once, to be Unpin; fused, so polling after the end is
        // None, not unfold's panic.
        Box::pin(
            futures_util::stream::unfold(self, |mut watch| async move {
                let item = watch.next().await?;
                Some((item, watch))
            })
            .fuse(),
        )
    }

    fn end(&mut self, error: Error) -> Option<Result<pb::WatchResponse, Error>> {
        self.ended = true;
        Some(Err(error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn unavailable(resume: &mut Resume, at: Instant) -> Option<Duration> {
        resume.backoff(Code::Unavailable, at)
    }

    // The clock stands still here, so no wait is cut short.
    #[test]
    fn the_first_retry_goes_at_once_then_100_ms_doubling_to_2_s() {
        let mut resume = Resume::new(Duration::from_secs(3600));
        let now = Instant::now();
        let waits: Vec<_> = (0..9).map(|_| unavailable(&mut resume, now)).collect();
        let ms = |n: u32| Some(n * MS);
        let want = [0, 100, 200, 400, 800, 1600, 2000, 2000, 2000].map(ms);
        assert_eq!(waits, want);
        resume.attempts = u32::MAX - 1;
        assert_eq!(unavailable(&mut resume, now), Some(MAX_BACKOFF));
    }

    // Resuming goes on while less than the timeout has passed since the first
    // failure of the run, no wait goes past it, then the error is returned.
    #[test]
    fn the_watch_gives_up_once_the_resume_timeout_has_passed() {
        let mut resume = Resume::new(Duration::from_secs(1));
        let began = Instant::now();
        assert_eq!(unavailable(&mut resume, began), Some(Duration::ZERO));
        assert_eq!(unavailable(&mut resume, began + 10 * MS), Some(100 * MS));
        assert_eq!(unavailable(&mut resume, began + 700 * MS), Some(200 * MS));
        // 400 ms, cut to the 100 ms left
        assert_eq!(unavailable(&mut resume, began + 900 * MS), Some(100 * MS));
        assert_eq!(unavailable(&mut resume, began + 1000 * MS), None);
    }

    // A response ends the run: the timeout counts again from the next
    // failure, whose retry goes at once.
    #[test]
    fn a_response_resets_the_resume_timeout() {
        let mut resume = Resume::new(Duration::from_secs(1));
        let began = Instant::now();
        for at in [0, 500, 900] {
            assert!(unavailable(&mut resume, began + at * MS).is_some(), "{at}");
        }
        resume.received();
        assert_eq!(
            unavailable(&mut resume, began + 1500 * MS),
            Some(Duration::ZERO)
        );
        assert_eq!(unavailable(&mut resume, began + 2400 * MS), Some(100 * MS));
        assert_eq!(unavailable(&mut resume, began + 2500 * MS), None);
    }

    // Only Unavailable is resumed (anything else starts no run), and a zero
    // timeout resumes nothing.
    #[test]
    fn only_unavailable_is_resumed_within_the_timeout() {
        let mut resume = Resume::new(Duration::from_secs(1));
        let now = Instant::now();
        for code in [Code::OutOfRange, Code::InvalidArgument, Code::Internal] {
            assert_eq!(resume.backoff(code, now), None);
            assert!(resume.failing_since.is_none());
        }
        assert_eq!(unavailable(&mut Resume::new(Duration::ZERO), now), None);
    }

    #[tokio::test]
    async fn a_watch_carries_the_namespace_start_and_prefix() {
        let client = Client::connect_lazy("127.0.0.1:1").unwrap();
        assert_eq!(client.watch().request, pb::WatchRequest::default());
        let watch = client
            .session("s")
            .watch()
            .start_revision(42)
            .path_prefix("src/");
        assert_eq!(
            watch.request,
            pb::WatchRequest {
                session_id: Some("s".into()),
                start_revision: 42,
                path_prefix: "src/".into(),
            }
        );
        assert_eq!(watch.revision(), 42);
        assert_eq!(watch.resume.patience, Watch::DEFAULT_RESUME_TIMEOUT);
        let watch = watch.resume_timeout(Duration::from_millis(1500));
        assert_eq!(watch.resume.patience, Duration::from_millis(1500));
    }
}
