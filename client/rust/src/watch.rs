//! `Watch`: a pager over the server-streaming `Watch` RPC that resumes a
//! dropped stream from the last revision received.

use std::time::Duration;

use tonic::Code;

use crate::client::Client;
use crate::error::Error;
use crate::pb;

/// Attempts in a row that receive nothing before the watch gives up.
const ATTEMPTS: u32 = 5;
/// The wait before the second retry since the last response (the first goes
/// at once), doubling up to `MAX_BACKOFF`.
const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// The wait before the `retry`-th retry since the last response (1: the first).
fn backoff(retry: u32) -> Duration {
    match retry {
        0 | 1 => Duration::ZERO,
        n => INITIAL_BACKOFF
            .saturating_mul(1 << (n - 2).min(16))
            .min(MAX_BACKOFF),
    }
}

impl Client {
    /// The changes of this namespace, one [`pb::WatchResponse`] per revision,
    /// in revision order, none skipped: a [`Watch`] pager. Set
    /// `.start_revision(r)` (exclusive: every change after `r` is replayed,
    /// then the live ones; 0, the default, is from now) and
    /// `.path_prefix(p)` first, then call [`Watch::next`]:
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
            received: false,
            empty: 0,
            retry: 0,
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
/// duplicate. The first retry goes at once, the next ones after 100 ms,
/// doubling up to 2 s; after 5 attempts in a row that received nothing, that
/// `Unavailable` error is returned. Any other failure is returned as it is,
/// notably a start revision older than the history the server keeps:
/// [`Error::revision_compacted`] (`OutOfRange`), never resumed. After an
/// error the watch is over: `next` returns `None`.
///
/// It is not a `futures::Stream` (this crate does not depend on `futures`);
/// one is a line away with `futures::stream::try_unfold(watch, |mut w| async
/// move { Ok(w.next().await.transpose()?.map(|r| (r, w))) })`, or
/// `futures::stream::unfold(watch, |mut w| async move { w.next().await.map(|r|
/// (r, w)) })` for a stream of `Result`s.
#[derive(Debug)]
#[must_use = "a watch does nothing until next() is awaited"]
pub struct Watch {
    client: Client,
    /// The next stream's request: start_revision is the last revision
    /// received (the caller's until one is).
    request: pb::WatchRequest,
    /// The open stream; `None` before the first call and between attempts.
    stream: Option<tonic::Streaming<pb::WatchResponse>>,
    /// Whether the open stream gave a response.
    received: bool,
    /// Attempts in a row that received nothing.
    empty: u32,
    /// Retries since the last response.
    retry: u32,
    /// Set by the error that ended the watch.
    ended: bool,
}

impl Watch {
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
                        self.received = false;
                        continue;
                    }
                    Err(status) => status,
                },
                Some(stream) => match stream.message().await {
                    Ok(Some(response)) => {
                        self.request.start_revision = response.revision;
                        (self.received, self.empty, self.retry) = (true, 0, 0);
                        return Some(Ok(response));
                    }
                    // The contract never ends a watch with OK: resume as if dropped.
                    Ok(None) => tonic::Status::unavailable("the watch stream ended"),
                    Err(status) => status,
                },
            };
            self.stream = None;
            let error = Error::from(status);
            if error.code() != Code::Unavailable {
                return self.end(error);
            }
            if !std::mem::take(&mut self.received) {
                self.empty += 1;
                if self.empty >= ATTEMPTS {
                    return self.end(error);
                }
            }
            self.retry += 1;
            let wait = backoff(self.retry);
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
        }
    }

    fn end(&mut self, error: Error) -> Option<Result<pb::WatchResponse, Error>> {
        self.ended = true;
        Some(Err(error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_retry_goes_at_once_then_100_ms_doubling_to_2_s() {
        let waits: Vec<u64> = (1..=8).map(|r| backoff(r).as_millis() as u64).collect();
        assert_eq!(waits, [0, 100, 200, 400, 800, 1600, 2000, 2000]);
        assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
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
    }
}
