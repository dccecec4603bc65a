//! The async client: one channel, a default deadline per call, and handles
//! bound to a session.

use std::future::Future;
use std::time::{Duration, Instant};

use futures_core::FusedStream;
use futures_util::StreamExt as _;
use tonic::Code;
use tonic::metadata::AsciiMetadataValue;
use tonic::transport::{Channel, ClientTlsConfig};

use crate::error::Error;
use crate::pb;
use crate::pb::context_store_service_client::ContextStoreServiceClient;
use crate::security::{self, Tls};
use crate::target;

/// The server's default address.
pub const DEFAULT_TARGET: &str = "127.0.0.1:50051";
/// The deadline of every call unless [`Client::with_timeout`] says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The server's default message limit: 16 MiB of content plus 1 MiB of headroom.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 17 << 20;

// Reads (the methods the contract marks NO_SIDE_EFFECTS) are retried on
// UNAVAILABLE within their deadline.
const ATTEMPTS: u32 = 4;
const INITIAL_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// The service's methods, read from the contract by build.rs: `METHODS` (all)
/// and `RETRIED_METHODS` (`idempotency_level = NO_SIDE_EFFECTS`).
mod service {
    include!(concat!(env!("OUT_DIR"), "/service.rs"));
}
pub use service::{METHODS, RETRIED_METHODS};

/// Whether the contract marks `method` NO_SIDE_EFFECTS (usable in consts).
const fn is_retried(method: &str) -> bool {
    let mut i = 0;
    while i < RETRIED_METHODS.len() {
        let (a, b) = (RETRIED_METHODS[i].as_bytes(), method.as_bytes());
        if a.len() == b.len() {
            let mut j = 0;
            while j < a.len() && a[j] == b[j] {
                j += 1;
            }
            if j == a.len() {
                return true;
            }
        }
        i += 1;
    }
    false
}

type Stub = ContextStoreServiceClient<Channel>;

/// A failed attempt, and whether the request never left (no connection).
struct Failure {
    error: Error,
    unsent: bool,
}

/// Whether `status` comes from failing to connect: the request was not sent.
fn never_sent(status: &tonic::Status) -> bool {
    let mut source = std::error::Error::source(status);
    while let Some(cause) = source {
        if cause.is::<tonic::ConnectError>() {
            return true;
        }
        source = cause.source();
    }
    false
}

mod sealed {
    pub trait Sealed {}
}

/// A request message of `ContextStoreService`, with the RPC it goes to.
/// Implemented for every unary `*Request` message of [`pb`] (all but
/// `WatchRequest`: see [`Client::watch`]); used by [`Client::call`].
pub trait Rpc: prost::Message + Clone + sealed::Sealed + Sized + Send + 'static {
    /// The response message.
    type Response: prost::Message + Default + Send + 'static;
    /// The method name, e.g. `"CacheFile"`.
    const NAME: &'static str;
    /// Whether the contract marks the RPC `idempotency_level = NO_SIDE_EFFECTS`
    /// (it only reads), and so it is retried on `UNAVAILABLE`.
    const IDEMPOTENT: bool;

    #[doc(hidden)]
    fn invoke(
        stub: Stub,
        request: tonic::Request<Self>,
    ) -> impl Future<Output = Result<tonic::Response<Self::Response>, tonic::Status>> + Send;
}

macro_rules! rpcs {
    ($($request:ident => $response:ident, $method:ident, $name:literal;)*) => {
        /// Every [`Rpc`] impl's method and whether it is retried, for the tests.
        #[cfg(test)]
        const RPCS: &[(&str, bool)] = &[$(($name, <pb::$request as Rpc>::IDEMPOTENT)),*];
        $(
        impl sealed::Sealed for pb::$request {}
        impl Rpc for pb::$request {
            type Response = pb::$response;
            const NAME: &'static str = $name;
            const IDEMPOTENT: bool = is_retried($name);
            fn invoke(
                mut stub: Stub,
                request: tonic::Request<Self>,
            ) -> impl Future<Output = Result<tonic::Response<Self::Response>, tonic::Status>> + Send {
                async move { stub.$method(request).await }
            }
        }
    )*};
}

rpcs! {
    CacheFileRequest => CacheFileResponse, cache_file, "CacheFile";
    GetFileRequest => GetFileResponse, get_file, "GetFile";
    GetMetadataRequest => GetMetadataResponse, get_metadata, "GetMetadata";
    CacheAnalysisRequest => CacheAnalysisResponse, cache_analysis, "CacheAnalysis";
    GetAnalysisRequest => GetAnalysisResponse, get_analysis, "GetAnalysis";
    InvalidateFileRequest => InvalidateFileResponse, invalidate_file, "InvalidateFile";
    InvalidateAnalysisRequest => InvalidateAnalysisResponse, invalidate_analysis, "InvalidateAnalysis";
    ClearSessionRequest => ClearSessionResponse, clear_session, "ClearSession";
    BatchGetFilesRequest => BatchGetFilesResponse, batch_get_files, "BatchGetFiles";
    BatchCacheFilesRequest => BatchCacheFilesResponse, batch_cache_files, "BatchCacheFiles";
    ListFilesRequest => ListFilesResponse, list_files, "ListFiles";
    InvalidatePrefixRequest => InvalidatePrefixResponse, invalidate_prefix, "InvalidatePrefix";
    GetStatsRequest => GetStatsResponse, get_stats, "GetStats";
    GetStoreStatsRequest => GetStoreStatsResponse, get_store_stats, "GetStoreStats";
    GetServerInfoRequest => GetServerInfoResponse, get_server_info, "GetServerInfo";
}

/// A contextstore client, bound to one namespace: the global one as created,
/// a named session through [`Client::session`].
///
/// Cloning is cheap and shares the connection. Every call has a deadline
/// ([`DEFAULT_TIMEOUT`] unless [`Client::with_timeout`] changed it); a call
/// that fails returns an [`Error`] with the gRPC code and the violations the
/// server named.
#[derive(Clone, Debug)]
pub struct Client {
    stub: Stub,
    timeout: Duration,
    session: Option<String>,
    /// Whether the channel balances over several servers (see [`Client::call`]).
    balanced: bool,
    /// The `authorization` header of every call (sensitive: not in Debug).
    token: Option<AsciiMetadataValue>,
}

impl Client {
    /// Connects to `target`, failing with `Unavailable` when no server can be
    /// reached. The target is one of:
    ///
    /// - one server: `HOST:PORT`, or a URI (`http://HOST:PORT`); one
    ///   connection, as before lists existed;
    /// - a comma-separated list, `"10.0.0.1:50051,10.0.0.2:50051"` (spaces
    ///   around each ignored, each `HOST:PORT`): one connection per server;
    /// - `dns:///NAME:PORT`: one connection per address the name has,
    ///   resolved once, here.
    ///
    /// With several servers, calls are spread over them by tonic's balancer
    /// (power of two choices among the connected servers; tonic has no
    /// `round_robin`), and `connect` succeeds as soon as one answers. A bad
    /// target is `InvalidArgument`; a name that does not resolve, `Unavailable`.
    ///
    /// The connection is plaintext ([`Client::connect_tls`] for TLS). Every
    /// call carries `authorization: Bearer $CONTEXTSTORE_TOKEN` when that
    /// variable is set and not empty ([`Client::with_token`] for another).
    pub async fn connect(target: &str) -> Result<Client, Error> {
        Client::connect_over(target, None).await
    }

    /// Like [`Client::connect`], over TLS: the server's certificate is
    /// verified against the host dialled (each address of a list; the name of
    /// a `dns:///` target), and `tls` may present a client certificate (mTLS).
    /// A URI target must be `https://`. Unreadable files are `InvalidArgument`.
    pub async fn connect_tls(target: &str, tls: &Tls) -> Result<Client, Error> {
        Client::connect_over(target, Some(tls.config()?)).await
    }

    async fn connect_over(target: &str, tls: Option<ClientTlsConfig>) -> Result<Client, Error> {
        let token = security::bearer_from_env()?;
        let endpoints = target::endpoints(&target::parse(target)?, tls.as_ref()).await?;
        let balanced = endpoints.len() > 1;
        let channel = target::connected_channel(endpoints).await?;
        Ok(Client {
            balanced,
            token,
            ..Client::from_channel(channel)
        })
    }

    /// Like [`Client::connect`], but connects on the first call (a
    /// `dns:///` name is still resolved here, with the blocking resolver).
    pub fn connect_lazy(target: &str) -> Result<Client, Error> {
        Client::connect_lazy_over(target, None)
    }

    /// Like [`Client::connect_tls`], but connects on the first call.
    pub fn connect_lazy_tls(target: &str, tls: &Tls) -> Result<Client, Error> {
        Client::connect_lazy_over(target, Some(tls.config()?))
    }

    fn connect_lazy_over(target: &str, tls: Option<ClientTlsConfig>) -> Result<Client, Error> {
        let token = security::bearer_from_env()?;
        let endpoints = target::endpoints_now(&target::parse(target)?, tls.as_ref())?;
        let balanced = endpoints.len() > 1;
        Ok(Client {
            balanced,
            token,
            ..Client::from_channel(target::lazy_channel(endpoints))
        })
    }

    /// A client over an existing channel (e.g. one with TLS configured). It
    /// sends no token unless [`Client::with_token`] gives one.
    pub fn from_channel(channel: Channel) -> Client {
        Client {
            stub: Stub::new(channel).max_decoding_message_size(DEFAULT_MAX_MESSAGE_BYTES),
            timeout: DEFAULT_TIMEOUT,
            session: None,
            balanced: false,
            token: None,
        }
    }

    /// A handle like this one whose calls carry `authorization: Bearer
    /// <token>` instead of the token it had (from `$CONTEXTSTORE_TOKEN`); an
    /// empty token sends none. A token that is not a valid header value
    /// (visible ASCII) is `InvalidArgument`.
    pub fn with_token(&self, token: &str) -> Result<Client, Error> {
        Ok(Client {
            token: security::bearer(token)?,
            ..self.clone()
        })
    }

    /// A handle like this one with another per-call deadline (e.g. for one
    /// slow call: `client.with_timeout(d).batch_get_files(..)`).
    pub fn with_timeout(&self, timeout: Duration) -> Client {
        Client {
            timeout,
            ..self.clone()
        }
    }

    /// A handle like this one accepting responses up to `bytes` (default
    /// [`DEFAULT_MAX_MESSAGE_BYTES`]); match the server's `max_message_bytes`.
    pub fn with_max_message_bytes(&self, bytes: usize) -> Client {
        Client {
            stub: self.stub.clone().max_decoding_message_size(bytes),
            ..self.clone()
        }
    }

    /// A handle bound to session `session_id`, sharing this connection. An
    /// empty id means the global namespace.
    pub fn session(&self, session_id: impl Into<String>) -> Client {
        let id = session_id.into();
        Client {
            session: (!id.is_empty()).then_some(id),
            ..self.clone()
        }
    }

    /// A handle bound to the global namespace.
    pub fn global(&self) -> Client {
        Client {
            session: None,
            ..self.clone()
        }
    }

    /// The bound session, `None` for the global namespace.
    pub fn session_id(&self) -> Option<&str> {
        self.session.as_deref()
    }

    /// The per-call deadline.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Sends `request` as it is (its own `session_id`, not this handle's), with
    /// this client's deadline; reads are retried on `UNAVAILABLE` within it.
    /// Over several servers, a call that was never sent (the connection to the
    /// server it was given had failed) goes at once to another, read or write.
    pub async fn call<R: Rpc>(&self, request: R) -> Result<R::Response, Error> {
        let deadline = Instant::now() + self.timeout;
        if !R::IDEMPOTENT && !self.balanced {
            return self.attempt(request, deadline).await.map_err(|f| f.error);
        }
        let (mut retries, mut resends) = (ATTEMPTS - 1, ATTEMPTS - 1);
        let mut backoff = INITIAL_BACKOFF;
        loop {
            match self.attempt(request.clone(), deadline).await {
                // tonic's balancer hands calls to a server whose connection
                // just failed; no server saw this one, so sending it again is
                // safe even for a write (gRPC's transparent retry).
                Err(failure) if failure.unsent && self.balanced && resends > 0 => resends -= 1,
                Err(failure) if R::IDEMPOTENT && failure.error.code() == Code::Unavailable => {
                    if retries == 0 || Instant::now() + backoff >= deadline {
                        return Err(failure.error);
                    }
                    retries -= 1;
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                result => return result.map_err(|f| f.error),
            }
        }
    }

    /// `message` as a request carrying this handle's token, as every call does.
    fn authorized<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if let Some(token) = &self.token {
            request
                .metadata_mut()
                .insert("authorization", token.clone());
        }
        request
    }

    /// Opens one `Watch` stream for [`crate::Watch`]: with the token, and no
    /// deadline (a watch is long-lived; dropping the stream cancels it).
    /// Never retried here: the pager resumes on its own.
    pub(crate) async fn open_watch(
        &self,
        request: pb::WatchRequest,
    ) -> Result<tonic::Streaming<pb::WatchResponse>, tonic::Status> {
        let request = self.authorized(request);
        Ok(self.stub.clone().watch(request).await?.into_inner())
    }

    async fn attempt<R: Rpc>(&self, request: R, deadline: Instant) -> Result<R::Response, Failure> {
        let mut request = self.authorized(request);
        request.set_timeout(deadline.saturating_duration_since(Instant::now()));
        match R::invoke(self.stub.clone(), request).await {
            Ok(response) => Ok(response.into_inner()),
            Err(status) => Err(Failure {
                unsent: never_sent(&status),
                error: Error::from(status),
            }),
        }
    }

    /// Like [`Client::call`], with `NOT_FOUND` as `Ok(None)`.
    async fn lookup<R: Rpc>(&self, request: R) -> Result<Option<R::Response>, Error> {
        match self.call(request).await {
            Err(error) if error.code() == Code::NotFound => Ok(None),
            result => result.map(Some),
        }
    }

    fn sid(&self) -> Option<String> {
        self.session.clone()
    }

    // -- files ----------------------------------------------------------------

    /// Stores or replaces a file; returns its metadata. Await it as it is, or
    /// add labels, an mtime or preconditions first:
    /// `agent.cache_file("a.py", content).with_label("lang", "python").await`,
    /// `agent.cache_file("a.py", content).if_version(0).await` (create only).
    pub fn cache_file(
        &self,
        path: impl Into<String>,
        content: impl Into<Vec<u8>>,
    ) -> CacheFile<'_> {
        CacheFile {
            client: self,
            request: pb::CacheFileRequest {
                session_id: self.sid(),
                path: path.into(),
                content: content.into(),
                ..Default::default()
            },
        }
    }

    /// A file's content and metadata; `None` when it is not cached. Await it
    /// as it is, or first give the digest of the content the caller holds:
    /// `agent.get_file("a.py").known_sha256(digest).await`. When that digest
    /// is still the file's, the response has `unchanged` set, the metadata and
    /// no content.
    pub fn get_file(&self, path: impl Into<String>) -> GetFile<'_> {
        GetFile {
            client: self,
            request: pb::GetFileRequest {
                session_id: self.sid(),
                path: path.into(),
                known_sha256: None,
            },
        }
    }

    /// A file's metadata without its content; `None` when it is not cached.
    pub async fn get_metadata(
        &self,
        path: impl Into<String>,
    ) -> Result<Option<pb::FileMetadata>, Error> {
        let request = pb::GetMetadataRequest {
            session_id: self.sid(),
            path: path.into(),
        };
        Ok(self
            .lookup(request)
            .await?
            .map(|r| r.metadata.unwrap_or_default()))
    }

    /// Reads many files as one snapshot: one entry per path, in order, `None`
    /// for a miss. Await it as it is, or first give, by path, the digest of
    /// the content the caller holds: `agent.batch_get_files(paths)
    /// .known_sha256([("a.py", digest)]).await`. A path whose digest is still
    /// its file's comes back with `unchanged` set, its metadata and no content.
    pub fn batch_get_files<I, S>(&self, paths: I) -> BatchGetFiles<'_>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        BatchGetFiles {
            client: self,
            request: pb::BatchGetFilesRequest {
                session_id: self.sid(),
                paths: paths.into_iter().map(Into::into).collect(),
                known_sha256: Default::default(),
            },
        }
    }

    /// Stores every file or none; returns their metadata in order. One item
    /// whose precondition fails ([`pb::FileUpload::with_if_version`],
    /// [`pb::FileUpload::with_if_sha256`]) stores none: the error's
    /// [`Error::precondition_failed`] names that item's path.
    pub async fn batch_cache_files(
        &self,
        files: impl IntoIterator<Item = pb::FileUpload>,
    ) -> Result<Vec<pb::FileMetadata>, Error> {
        let request = pb::BatchCacheFilesRequest {
            session_id: self.sid(),
            files: files.into_iter().collect(),
        };
        Ok(self.call(request).await?.metadata)
    }

    // -- listing ----------------------------------------------------------------

    /// Every file of this namespace, in path order (by UTF-8 bytes), a page at
    /// a time: a [`ListFiles`] pager, which fetches each page when
    /// [`ListFiles::next`] (or [`ListFiles::next_page`]) reaches it and stops
    /// after the page whose next-page token is empty. Narrow it first with
    /// `.path_prefix(..)` and choose the page size with `.page_size(..)`:
    ///
    /// ```no_run
    /// # async fn demo(agent: contextstore::Client) -> Result<(), contextstore::Error> {
    /// let mut files = agent.list_files().path_prefix("src/").page_size(500);
    /// while let Some(meta) = files.next().await? {
    ///     println!("{} {}", meta.path, meta.size);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [`ListFiles::into_stream`] makes it a `Stream` of the files.
    ///
    /// The pager owns a handle like this one (a cheap clone), so it may
    /// outlive it or move to another task. Each page is one consistent
    /// snapshot; between pages the namespace may change, and a path is listed
    /// at most once. Listing counts no hits.
    pub fn list_files(&self) -> ListFiles {
        ListFiles {
            client: self.clone(),
            request: pb::ListFilesRequest {
                session_id: self.sid(),
                ..Default::default()
            },
            page: Vec::new().into_iter(),
            done: false,
        }
    }

    /// One page of this namespace's files whose path starts with
    /// `path_prefix` (`""`: every file), in path order, at most `page_size`
    /// of them (0: the server's default, 100). `page_token` is `""` for the
    /// first page, then the previous page's `next_page_token`, with the same
    /// prefix; an empty `next_page_token` marks the last page. A page may hold
    /// fewer than `page_size` files, even none, and still not be the last.
    /// [`Client::list_files`] does the looping. The response's `revision` is
    /// the namespace's revision the page was read at: [`Client::watch`] from
    /// it to see every change after the page.
    pub async fn list_files_page(
        &self,
        path_prefix: impl Into<String>,
        page_size: i32,
        page_token: impl Into<String>,
    ) -> Result<pb::ListFilesResponse, Error> {
        self.call(pb::ListFilesRequest {
            session_id: self.sid(),
            path_prefix: path_prefix.into(),
            page_size,
            page_token: page_token.into(),
        })
        .await
    }

    // -- analyses ---------------------------------------------------------------

    /// Stores an analysis result of `path`, with or without a cached file.
    /// Await it as it is, or add preconditions on the file at `path` first, so
    /// that the analysis is stored only against the content it was computed
    /// from: `agent.cache_analysis("a.py", "ast", tree).if_sha256(digest).await`.
    pub fn cache_analysis(
        &self,
        path: impl Into<String>,
        analysis_type: impl Into<String>,
        result: impl Into<Vec<u8>>,
    ) -> CacheAnalysis<'_> {
        CacheAnalysis {
            client: self,
            request: pb::CacheAnalysisRequest {
                session_id: self.sid(),
                path: path.into(),
                analysis_type: analysis_type.into(),
                result: result.into(),
                if_version: None,
                if_sha256: None,
            },
        }
    }

    /// An analysis result; `None` when it is not cached (or was dropped as stale).
    pub async fn get_analysis(
        &self,
        path: impl Into<String>,
        analysis_type: impl Into<String>,
    ) -> Result<Option<pb::GetAnalysisResponse>, Error> {
        let request = pb::GetAnalysisRequest {
            session_id: self.sid(),
            path: path.into(),
            analysis_type: analysis_type.into(),
        };
        self.lookup(request).await
    }

    // -- invalidation -------------------------------------------------------------

    /// Removes a path's file and every analysis of it; zero counts when absent.
    /// Await it as it is, or add preconditions first, to remove only the file
    /// they name: `agent.invalidate_file("a.py").if_version(3).await`. The
    /// response's `revision` is the namespace's revision after the call.
    pub fn invalidate_file(&self, path: impl Into<String>) -> InvalidateFile<'_> {
        InvalidateFile {
            client: self,
            request: pb::InvalidateFileRequest {
                session_id: self.sid(),
                path: path.into(),
                if_version: None,
                if_sha256: None,
            },
        }
    }

    /// Removes one analysis type of `path`, keeping the file; returns how many
    /// were removed (0 or 1).
    pub async fn invalidate_analysis(
        &self,
        path: impl Into<String>,
        analysis_type: impl Into<String>,
    ) -> Result<i64, Error> {
        let request = pb::InvalidateAnalysisRequest {
            session_id: self.sid(),
            path: path.into(),
            analysis_type: Some(analysis_type.into()),
        };
        Ok(self.call(request).await?.analyses_removed)
    }

    /// Removes every analysis type of `path`, keeping the file; returns how many
    /// were removed.
    pub async fn invalidate_analyses(&self, path: impl Into<String>) -> Result<i64, Error> {
        let request = pb::InvalidateAnalysisRequest {
            session_id: self.sid(),
            path: path.into(),
            analysis_type: None,
        };
        Ok(self.call(request).await?.analyses_removed)
    }

    /// Removes, atomically, every file and analysis of this namespace whose
    /// path starts with `path_prefix`, and counts them; `revision` is the
    /// namespace's revision after the call. An empty prefix is
    /// `InvalidArgument` ([`Client::clear_session`] removes a whole namespace).
    pub async fn invalidate_prefix(
        &self,
        path_prefix: impl Into<String>,
    ) -> Result<pb::InvalidatePrefixResponse, Error> {
        self.call(pb::InvalidatePrefixRequest {
            session_id: self.sid(),
            path_prefix: path_prefix.into(),
        })
        .await
    }

    /// Removes everything of this namespace, atomically. The response's
    /// `revision` is the namespace's revision after the call.
    pub async fn clear_session(&self) -> Result<pb::ClearSessionResponse, Error> {
        self.call(pb::ClearSessionRequest {
            session_id: self.sid(),
        })
        .await
    }

    // -- introspection ------------------------------------------------------------

    /// Counters of this handle's namespace: its session, or the global
    /// namespace on the client itself (or [`Client::global`]).
    pub async fn stats(&self) -> Result<pb::GetStatsResponse, Error> {
        self.call(pb::GetStatsRequest {
            session_id: self.sid(),
        })
        .await
    }

    /// Counters of the whole store: every namespace, and the sessions expired
    /// since the server started. The same on every handle. Beside `bytes`,
    /// `held_bytes` is what the store holds for its entries: `bytes` less what
    /// the memory backend saves by holding a content once for many sessions
    /// (equal to `bytes` on Redis).
    pub async fn store_stats(&self) -> Result<pb::GetStoreStatsResponse, Error> {
        self.call(pb::GetStoreStatsRequest {}).await
    }

    /// Version, backend, the backend's own properties (`backend_properties`,
    /// e.g. `stripes` and `eviction` for the memory backend) and every limit
    /// the server enforces.
    pub async fn server_info(&self) -> Result<pb::GetServerInfoResponse, Error> {
        self.call(pb::GetServerInfoRequest {}).await
    }
}

// -- calls with optional fields ---------------------------------------------------
//
// Each is built by the `Client` method of the same name and sent when awaited.
// `if_version(n)` and `if_sha256(digest)` make the write compare-and-set: it
// happens only if the file at the path has that version (0: no file is there)
// or that content digest now, checked atomically with the write; both given,
// both must hold. Otherwise nothing changes and the call fails with `Aborted`,
// its [`Error::precondition_failed`] giving the current version and digest.

type Call<'a, T> = std::pin::Pin<Box<dyn Future<Output = Result<T, Error>> + Send + 'a>>;

/// Declares a call builder, `$builder { client, request }` (the request a
/// `$request_type`) with the attributes (docs) given, and makes it a future:
/// awaiting it sends the request and gives what `$body` makes of it.
macro_rules! call_builder {
    (
        $(#[$attr:meta])*
        $builder:ident($request_type:ty) -> $output:ty,
        |$client:ident, $request:ident| $body:expr
    ) => {
        $(#[$attr])*
        pub struct $builder<'a> {
            client: &'a Client,
            request: $request_type,
        }

        impl<'a> std::future::IntoFuture for $builder<'a> {
            type Output = Result<$output, Error>;
            type IntoFuture = Call<'a, $output>;

            fn into_future(self) -> Self::IntoFuture {
                let $builder {
                    client: $client,
                    request: $request,
                } = self;
                Box::pin(async move { $body })
            }
        }
    };
}

/// The `if_version` and `if_sha256` methods of a builder whose request has
/// those two fields; `$does` is what the call does ("Stores", "Removes") and
/// `$if_none` what an `if_version(0)` means beyond "only if there is none".
macro_rules! preconditions {
    ($builder:ident, $does:literal, $if_none:literal) => {
        impl $builder<'_> {
            #[doc = concat!(
                $does,
                " only if the file at the path has this version now; 0: only if there is none",
                $if_none,
                "."
            )]
            pub fn if_version(mut self, version: i64) -> Self {
                self.request.if_version = Some(version);
                self
            }

            #[doc = concat!(
                $does,
                " only if the content of the file at the path has this SHA-256 digest (32 bytes)."
            )]
            pub fn if_sha256(mut self, digest: impl Into<Vec<u8>>) -> Self {
                self.request.if_sha256 = Some(digest.into());
                self
            }
        }
    };
}

call_builder! {
    /// A `cache_file` call being built: labels, an mtime and preconditions may be
    /// added before it is awaited. Awaiting it sends `CacheFile` and gives the
    /// file's metadata.
    #[must_use = "a cache_file call does nothing until it is awaited"]
    CacheFile(pb::CacheFileRequest) -> pb::FileMetadata,
    |client, request| {
        Ok(client.call(request).await?.metadata.unwrap_or_default())
    }
}

impl CacheFile<'_> {
    /// Adds a label.
    pub fn with_label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.request.labels.insert(key.into(), value.into());
        self
    }

    /// Sets the modification time the caller knows (a `SystemTime` converts).
    pub fn with_mtime(mut self, mtime: impl Into<crate::Timestamp>) -> Self {
        self.request.mtime = Some(mtime.into());
        self
    }
}

preconditions!(CacheFile, "Stores", " (create only)");

call_builder! {
    /// A `cache_analysis` call being built: preconditions on the file at the path
    /// may be added before it is awaited. Awaiting it sends `CacheAnalysis`.
    #[must_use = "a cache_analysis call does nothing until it is awaited"]
    CacheAnalysis(pb::CacheAnalysisRequest) -> pb::CacheAnalysisResponse,
    |client, request| client.call(request).await
}

preconditions!(CacheAnalysis, "Stores", "");

call_builder! {
    /// An `invalidate_file` call being built: preconditions may be added before it
    /// is awaited. Awaiting it sends `InvalidateFile` and gives what was removed.
    #[must_use = "an invalidate_file call does nothing until it is awaited"]
    InvalidateFile(pb::InvalidateFileRequest) -> pb::InvalidateFileResponse,
    |client, request| client.call(request).await
}

preconditions!(InvalidateFile, "Removes", " (then nothing is removed)");

call_builder! {
    /// A `get_file` call being built: the digest of the content the caller holds
    /// may be given before it is awaited. Awaiting it sends `GetFile` and gives
    /// the file, or `None` when it is not cached.
    #[must_use = "a get_file call does nothing until it is awaited"]
    GetFile(pb::GetFileRequest) -> Option<pb::GetFileResponse>,
    |client, request| client.lookup(request).await
}

impl GetFile<'_> {
    /// The SHA-256 digest (32 bytes) of the content the caller holds: when it
    /// is still the file's, the response has `unchanged` set, the metadata
    /// and an empty `content`.
    pub fn known_sha256(mut self, digest: impl Into<Vec<u8>>) -> Self {
        self.request.known_sha256 = Some(digest.into());
        self
    }
}

call_builder! {
    /// A `batch_get_files` call being built: the digests of the contents the
    /// caller holds may be given before it is awaited. Awaiting it sends
    /// `BatchGetFiles` and gives one entry per path, in order, `None` for a miss.
    #[must_use = "a batch_get_files call does nothing until it is awaited"]
    BatchGetFiles(pb::BatchGetFilesRequest) -> Vec<Option<pb::FileResult>>,
    |client, request| {
        let response = client.call(request).await?;
        Ok(response
            .files
            .into_iter()
            .map(|f| f.found.then_some(f))
            .collect())
    }
}

impl BatchGetFiles<'_> {
    /// By path, the SHA-256 digest (32 bytes) of the content the caller
    /// holds: any `(path, digest)` pairs, e.g. a `HashMap` (added to those
    /// given before). A path whose digest is still its file's comes back with
    /// `unchanged` set, its metadata and an empty `content`.
    pub fn known_sha256<K, P, D>(mut self, known: K) -> Self
    where
        K: IntoIterator<Item = (P, D)>,
        P: Into<String>,
        D: Into<Vec<u8>>,
    {
        self.request.known_sha256.extend(
            known
                .into_iter()
                .map(|(path, digest)| (path.into(), digest.into())),
        );
        self
    }
}

/// A listing of a namespace's files in path order, made by
/// [`Client::list_files`]: an async pager over `ListFiles` (AIP-158).
///
/// Set `.path_prefix(..)` and `.page_size(..)` first, then call
/// [`next`](ListFiles::next) for one file at a time or
/// [`next_page`](ListFiles::next_page) for a page at a time, until `None`.
/// A page is fetched only when it is reached; the listing ends after the page
/// whose `next_page_token` is empty (a short or even empty page before it is
/// not the end). Each page is a call of its own, with the handle's deadline.
/// After an error the pager stays where it was: calling again asks for the
/// same page again.
///
/// [`into_stream`](ListFiles::into_stream) turns it into a
/// [`Stream`](futures_core::Stream) of the files.
#[derive(Debug)]
#[must_use = "a listing does nothing until next() or next_page() is awaited"]
pub struct ListFiles {
    client: Client,
    /// The next page's request: its page_token is the last page's
    /// next_page_token.
    request: pb::ListFilesRequest,
    /// What is left of the page fetched last.
    page: std::vec::IntoIter<pb::FileMetadata>,
    /// Whether the page fetched last had no next-page token.
    done: bool,
}

impl ListFiles {
    /// Lists only the paths that start with `prefix` (`""`: every path).
    pub fn path_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.request.path_prefix = prefix.into();
        self
    }

    /// The most files one page (one call) brings: 0 is the server's default
    /// (100), more than 1000 is 1000. It bounds each response, not the listing.
    pub fn page_size(mut self, page_size: i32) -> Self {
        self.request.page_size = page_size;
        self
    }

    /// The next file, fetching the next page when this one is used up;
    /// `None` once the last page is.
    pub async fn next(&mut self) -> Result<Option<pb::FileMetadata>, Error> {
        loop {
            if let Some(file) = self.page.next() {
                return Ok(Some(file));
            }
            match self.fetch().await? {
                Some(page) => self.page = page.into_iter(),
                None => return Ok(None),
            }
        }
    }

    /// The files of the current page that [`next`](ListFiles::next) has not
    /// returned yet, or else those of the next page, fetched now (possibly
    /// none: an empty page is not always the last); `None` once the last
    /// page is used up.
    pub async fn next_page(&mut self) -> Result<Option<Vec<pb::FileMetadata>>, Error> {
        let rest: Vec<_> = self.page.by_ref().collect();
        if !rest.is_empty() {
            return Ok(Some(rest));
        }
        self.fetch().await
    }

    /// The files left, as a [`Stream`](futures_core::Stream): the files of
    /// [`next`](ListFiles::next), each page fetched when reached, as
    /// `Ok(file)`. An error is the last item: the stream ends after it, and
    /// stays ended (a [`FusedStream`]), where the pager would ask for the same
    /// page again (for that, keep the pager and call `next`). It is `Send`,
    /// and `Unpin`, so `.next().await` needs no pinning: use it with the
    /// `StreamExt` of `futures`, `futures-util` or `tokio-stream`.
    ///
    /// ```no_run
    /// # async fn demo(agent: contextstore::Client) -> Result<(), contextstore::Error> {
    /// use futures_util::{StreamExt, TryStreamExt};
    /// let mut files = agent.list_files().path_prefix("src/").into_stream();
    /// while let Some(meta) = files.next().await {
    ///     println!("{}", meta?.path);
    /// }
    /// // The first 20 paths, or the error that came first.
    /// let paths: Vec<String> = agent
    ///     .list_files()
    ///     .into_stream()
    ///     .take(20)
    ///     .map_ok(|meta| meta.path)
    ///     .try_collect()
    ///     .await?;
    /// # let _ = paths; Ok(()) }
    /// ```
    pub fn into_stream(
        self,
    ) -> impl FusedStream<Item = Result<pb::FileMetadata, Error>> + Send + Unpin {
        // The state is the pager, until the listing ends or fails.
        Box::pin(
            futures_util::stream::unfold(Some(self), |pager| async move {
                let mut pager = pager?;
                match pager.next().await {
                    Ok(Some(file)) => Some((Ok(file), Some(pager))),
                    Ok(None) => None,
                    Err(error) => Some((Err(error), None)),
                }
            })
            .fuse(),
        )
    }

    /// Every file left, from every page left, in path order.
    pub async fn collect(mut self) -> Result<Vec<pb::FileMetadata>, Error> {
        let mut files = Vec::new();
        while let Some(page) = self.next_page().await? {
            files.extend(page);
        }
        Ok(files)
    }

    /// Fetches the next page; `None` after the last.
    async fn fetch(&mut self) -> Result<Option<Vec<pb::FileMetadata>>, Error> {
        if self.done {
            return Ok(None);
        }
        let response = self.client.call(self.request.clone()).await?;
        self.done = response.next_page_token.is_empty();
        self.request.page_token = response.next_page_token;
        Ok(Some(response.files))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// The server-streaming methods: no [`Rpc`] (a unary call), each has a
    /// pager of its own that resumes it.
    const STREAMING: &[&str] = &["Watch"];

    #[test]
    fn the_retried_methods_are_the_contracts_no_side_effects_reads() {
        let derived: BTreeSet<&str> = RETRIED_METHODS.iter().copied().collect();
        let reads = BTreeSet::from([
            "GetFile",
            "GetMetadata",
            "GetAnalysis",
            "BatchGetFiles",
            "ListFiles",
            "Watch",
            "GetStats",
            "GetStoreStats",
            "GetServerInfo",
        ]);
        assert_eq!(derived, reads);
    }

    #[test]
    fn every_unary_method_has_an_rpc_retried_as_the_contract_says() {
        let names: Vec<&str> = RPCS.iter().map(|(name, _)| *name).collect();
        let unary: Vec<&str> = METHODS
            .iter()
            .copied()
            .filter(|m| !STREAMING.contains(m))
            .collect();
        assert_eq!(names, unary);
        assert!(STREAMING.iter().all(|m| METHODS.contains(m)));
        for (name, retried) in RPCS {
            assert_eq!(*retried, RETRIED_METHODS.contains(name), "{name}");
        }
        assert!(!is_retried("GetFil") && !is_retried("GetFiles") && !is_retried(""));
    }

    /// Whether `message` encodes field `number` as a varint (present on the wire).
    fn has_varint_field(message: &impl prost::Message, number: u32) -> bool {
        let bytes = message.encode_to_vec();
        let mut buf = bytes.as_slice();
        while !buf.is_empty() {
            let (tag, wire_type) = prost::encoding::decode_key(&mut buf).unwrap();
            if tag == number && wire_type == prost::encoding::WireType::Varint {
                return true;
            }
            prost::encoding::skip_field(
                wire_type,
                tag,
                &mut buf,
                prost::encoding::DecodeContext::default(),
            )
            .unwrap();
        }
        false
    }

    // if_version 0 ("no file may be there") is sent, as zero; an absent one
    // is not sent at all.
    #[tokio::test]
    async fn preconditions_are_sent_only_when_given_zero_included() {
        let client = Client::connect_lazy("127.0.0.1:1").unwrap().session("s");
        let plain = client.cache_file("a.py", b"x".to_vec()).request;
        assert_eq!((plain.if_version, &plain.if_sha256), (None, &None));
        assert!(!has_varint_field(&plain, 6));
        let create = client
            .cache_file("a.py", b"x".to_vec())
            .with_label("k", "v")
            .if_version(0)
            .request;
        assert_eq!(create.if_version, Some(0));
        assert!(has_varint_field(&create, 6), "if_version 0 not on the wire");
        assert_eq!(create.labels["k"], "v");
        assert_eq!(create.session_id.as_deref(), Some("s"));
        let both = client
            .cache_file("a.py", b"x".to_vec())
            .if_version(4)
            .if_sha256([9; 32])
            .request;
        assert_eq!(
            (both.if_version, both.if_sha256),
            (Some(4), Some(vec![9; 32]))
        );

        let analysis = client.cache_analysis("a.py", "ast", b"t".to_vec());
        assert_eq!(
            (analysis.request.if_version, &analysis.request.if_sha256),
            (None, &None)
        );
        let analysis = analysis.if_version(0).request;
        assert_eq!((analysis.if_version, &analysis.if_sha256), (Some(0), &None));
        assert!(has_varint_field(&analysis, 5));
        let analysis = client
            .cache_analysis("a.py", "ast", b"t".to_vec())
            .if_sha256(vec![1; 32])
            .request;
        assert_eq!(
            (analysis.if_version, analysis.if_sha256),
            (None, Some(vec![1; 32]))
        );

        let invalidate = client.invalidate_file("a.py");
        assert_eq!(
            (invalidate.request.if_version, &invalidate.request.if_sha256),
            (None, &None)
        );
        assert!(!has_varint_field(&invalidate.request, 3));
        let invalidate = invalidate.if_version(0).if_sha256([2; 32]).request;
        assert_eq!(invalidate.if_version, Some(0));
        assert!(has_varint_field(&invalidate, 3));
        assert_eq!(invalidate.if_sha256, Some(vec![2; 32]));
    }

    #[tokio::test]
    async fn known_digests_are_sent_only_when_given() {
        let client = Client::connect_lazy("127.0.0.1:1").unwrap().session("s");
        let plain = client.get_file("a").request;
        assert_eq!(
            (plain.known_sha256, plain.session_id.as_deref()),
            (None, Some("s"))
        );
        assert_eq!(
            client
                .get_file("a")
                .known_sha256([3; 32])
                .request
                .known_sha256,
            Some(vec![3; 32])
        );
        let plain = client.batch_get_files(["a", "b"]).request;
        assert_eq!(plain.paths, ["a", "b"]);
        assert!(plain.known_sha256.is_empty());
        let known = client
            .batch_get_files(vec!["a".to_string(), "b".to_string()])
            .known_sha256([("a", [4u8; 32])])
            .known_sha256(std::collections::HashMap::from([(
                "b".to_string(),
                vec![5],
            )]))
            .request;
        assert_eq!(known.known_sha256.len(), 2);
        assert_eq!(known.known_sha256["a"], vec![4; 32]);
        assert_eq!(known.known_sha256["b"], vec![5]);
    }

    #[tokio::test]
    async fn listings_carry_the_namespace_prefix_and_page_size() {
        let client = Client::connect_lazy("127.0.0.1:1").unwrap();
        let all = client.list_files();
        assert_eq!(all.request, pb::ListFilesRequest::default());
        let some = client
            .session("s")
            .list_files()
            .path_prefix("a/")
            .page_size(2);
        assert_eq!(
            some.request,
            pb::ListFilesRequest {
                session_id: Some("s".into()),
                path_prefix: "a/".into(),
                page_size: 2,
                page_token: String::new(),
            }
        );
    }

    #[tokio::test]
    async fn handles_bind_their_namespace() {
        let client = Client::connect_lazy("127.0.0.1:1").unwrap();
        assert_eq!(client.session_id(), None);
        let agent = client.session("agent-42");
        assert_eq!(agent.session_id(), Some("agent-42"));
        assert_eq!(agent.global().session_id(), None);
        assert_eq!(client.session("").session_id(), None);
        assert_eq!(
            agent.with_timeout(Duration::from_secs(1)).session_id(),
            Some("agent-42")
        );
    }

    /// A listener, and an address where nothing listens (refused).
    async fn up_and_down() -> (tokio::net::TcpListener, String, String) {
        let bind = || tokio::net::TcpListener::bind("127.0.0.1:0");
        let up = bind().await.unwrap();
        let down = bind().await.unwrap().local_addr().unwrap().to_string();
        let address = up.local_addr().unwrap().to_string();
        (up, address, down)
    }

    #[tokio::test]
    async fn a_refused_connection_is_an_unsent_attempt_a_servers_status_is_not() {
        let (_up, _, down) = up_and_down().await;
        let client = Client::connect_lazy(&down).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let failure = client
            .attempt(pb::GetStatsRequest::default(), deadline)
            .await
            .err()
            .unwrap();
        assert!(failure.unsent, "{}", failure.error);
        assert_eq!(failure.error.code(), Code::Unavailable);
        assert!(!never_sent(&tonic::Status::unavailable("draining")));
    }

    // A server of the list is down: tonic's balancer still hands it calls,
    // which fail before being sent; they must go to the server that is up.
    // (That listener speaks no HTTP/2: a call that reaches it runs out of
    // time, which is not UNAVAILABLE.)
    #[tokio::test]
    async fn over_several_servers_no_write_fails_on_a_dead_connection() {
        let (_up, up, down) = up_and_down().await;
        let client = Client::connect_lazy(&format!("{down},{up}"))
            .unwrap()
            .with_timeout(Duration::from_millis(100));
        for _ in 0..20 {
            let error = client.cache_file("a", b"x".to_vec()).await.unwrap_err();
            assert_ne!(error.code(), Code::Unavailable, "{error}");
        }
    }
}
