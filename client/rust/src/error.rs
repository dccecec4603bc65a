//! The one error type of the client: a gRPC status code, its message, and the
//! field violations (`google.rpc.BadRequest`) or quota violations
//! (`google.rpc.QuotaFailure`) the server attached, or the reason a
//! `google.rpc.ErrorInfo` gave: for a compare-and-set write whose precondition
//! failed, the [`PreconditionFailed`] it carried; for a watch whose start
//! revision is no longer retained, the [`RevisionCompacted`].

use std::error::Error as StdError;
use std::fmt;

use tonic::Code;
use tonic_types::{ErrorDetail, StatusExt};

/// A field (for `INVALID_ARGUMENT`) or a limit (for `RESOURCE_EXHAUSTED`), and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The offending request field (e.g. `path`, `files[3].path`) or the
    /// exceeded limit (e.g. `session_bytes`, `max_message_bytes`).
    pub subject: String,
    /// What was wrong, for people.
    pub description: String,
}

/// The `google.rpc.ErrorInfo` reason of a failed precondition, and the domain
/// of every reason the contract gives.
const PRECONDITION_REASON: &str = "PRECONDITION_FAILED";
const ERROR_DOMAIN: &str = "contextstore.dev";
/// The `google.rpc.ErrorInfo` reason of a watch start revision no longer retained.
const COMPACTED_REASON: &str = "REVISION_COMPACTED";

/// A compare-and-set write (`if_version`, `if_sha256`) refused because the
/// file there did not match: the call changed nothing, and its error
/// ([`Error::precondition_failed`]) carries what the server found. Re-read,
/// then retry or give up: the same call fails the same way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreconditionFailed {
    /// The file whose precondition failed (in a batch, that item's path).
    pub path: String,
    /// The version of the file there now; 0 when there is none.
    pub current_version: i64,
    /// The SHA-256 digest of that file's content; empty when there is none.
    pub current_sha256: Vec<u8>,
}

impl PreconditionFailed {
    /// Decodes the `ErrorInfo` of a failed precondition; `None` for another
    /// one. A value the server left out (or malformed) reads as none: version
    /// 0, an empty digest.
    fn from_info(info: &tonic_types::ErrorInfo) -> Option<Self> {
        if info.reason != PRECONDITION_REASON || info.domain != ERROR_DOMAIN {
            return None;
        }
        let get = |key: &str| info.metadata.get(key).map_or("", String::as_str);
        Some(PreconditionFailed {
            path: get("path").to_string(),
            current_version: get("current_version").parse().unwrap_or(0),
            current_sha256: from_hex(get("current_sha256")).unwrap_or_default(),
        })
    }
}

/// A [`Client::watch`](crate::Client::watch) refused because its start
/// revision is older than the history the server still keeps for the
/// namespace: the error ([`Error::revision_compacted`], code `OutOfRange`)
/// carries the oldest start revision still served and the current revision.
/// The watch does not resume from it (the changes in between are gone):
/// re-read (`list_files_page` gives a revision) and watch again from there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevisionCompacted {
    /// The oldest start revision the server still serves.
    pub oldest_revision: i64,
    /// The namespace's revision when the watch was refused.
    pub current_revision: i64,
}

impl RevisionCompacted {
    /// Decodes the `ErrorInfo` of a compacted start revision; `None` for
    /// another one. A revision the server left out (or malformed) reads 0.
    fn from_info(info: &tonic_types::ErrorInfo) -> Option<Self> {
        if info.reason != COMPACTED_REASON || info.domain != ERROR_DOMAIN {
            return None;
        }
        let get = |key: &str| info.metadata.get(key).and_then(|v| v.parse().ok());
        Some(RevisionCompacted {
            oldest_revision: get("oldest_revision").unwrap_or(0),
            current_revision: get("current_revision").unwrap_or(0),
        })
    }
}

/// The reason an `ErrorInfo` of the contract gave a failed call, decoded.
#[derive(Clone, Debug)]
enum Reason {
    PreconditionFailed(PreconditionFailed),
    RevisionCompacted(RevisionCompacted),
}

/// Hex (lowercase, as the server sends, or uppercase) to bytes; `None` when
/// it is not hex.
fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

/// A failed call. A miss of a single-entry read is not an error: those
/// methods return `Ok(None)`.
#[derive(Clone, Debug)]
pub struct Error {
    code: Code,
    message: String,
    field_violations: Vec<Violation>,
    quota_violations: Vec<Violation>,
    reason: Option<Box<Reason>>,
}

impl Error {
    /// An error with no details, e.g. for a failure before any call was made.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
            field_violations: Vec::new(),
            quota_violations: Vec::new(),
            reason: None,
        }
    }

    /// The gRPC status code (`InvalidArgument`, `NotFound`, `ResourceExhausted`,
    /// `Unavailable`, `DeadlineExceeded`, ...).
    pub fn code(&self) -> Code {
        self.code
    }

    /// The status message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The fields named by the `google.rpc.BadRequest` detail (with `InvalidArgument`).
    pub fn field_violations(&self) -> &[Violation] {
        &self.field_violations
    }

    /// The limits named by the `google.rpc.QuotaFailure` detail (with `ResourceExhausted`).
    pub fn quota_violations(&self) -> &[Violation] {
        &self.quota_violations
    }

    /// The precondition that failed, when this is a compare-and-set write
    /// refused (`Aborted` with an `ErrorInfo` of reason `PRECONDITION_FAILED`):
    /// the current version and digest of the file there.
    ///
    /// ```no_run
    /// # async fn demo(agent: contextstore::Client) -> Result<(), contextstore::Error> {
    /// match agent.cache_file("a.py", b"new".to_vec()).if_version(0).await {
    ///     Ok(meta) => println!("created, version {}", meta.version),
    ///     Err(e) => match e.precondition_failed() {
    ///         Some(found) => println!("already there: version {}", found.current_version),
    ///         None => return Err(e),
    ///     },
    /// }
    /// # Ok(()) }
    /// ```
    pub fn precondition_failed(&self) -> Option<&PreconditionFailed> {
        match self.reason.as_deref() {
            Some(Reason::PreconditionFailed(found)) => Some(found),
            _ => None,
        }
    }

    /// The history the server still keeps, when this is a watch refused
    /// because its start revision is older (`OutOfRange` with an `ErrorInfo`
    /// of reason `REVISION_COMPACTED`). Not resumed: read again, then watch
    /// from the revision read.
    ///
    /// ```no_run
    /// # async fn demo(agent: contextstore::Client, since: i64) -> Result<(), contextstore::Error> {
    /// let mut changes = agent.watch().start_revision(since);
    /// while let Some(response) = changes.next().await {
    ///     match response {
    ///         Ok(r) => println!("{} {} events", r.revision, r.events.len()),
    ///         Err(e) => match e.revision_compacted() {
    ///             Some(kept) => println!("too far behind: oldest {}", kept.oldest_revision),
    ///             None => return Err(e),
    ///         },
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn revision_compacted(&self) -> Option<&RevisionCompacted> {
        match self.reason.as_deref() {
            Some(Reason::RevisionCompacted(kept)) => Some(kept),
            _ => None,
        }
    }

    /// Every violation, field violations first.
    pub fn violations(&self) -> impl Iterator<Item = &Violation> {
        self.field_violations.iter().chain(&self.quota_violations)
    }

    pub(crate) fn transport(error: tonic::transport::Error) -> Self {
        Error::new(
            Code::Unavailable,
            with_causes(error.to_string(), error.source()),
        )
    }
}

impl From<tonic::Status> for Error {
    fn from(status: tonic::Status) -> Self {
        // A local failure (e.g. connection refused) keeps its causes in the message.
        let message = with_causes(status.message().to_string(), status.source());
        let mut error = Error::new(code_of(&status), message);
        for detail in status.get_error_details_vec() {
            match detail {
                ErrorDetail::BadRequest(bad) => {
                    error
                        .field_violations
                        .extend(bad.field_violations.into_iter().map(|v| Violation {
                            subject: v.field,
                            description: v.description,
                        }))
                }
                ErrorDetail::QuotaFailure(quota) => {
                    error
                        .quota_violations
                        .extend(quota.violations.into_iter().map(|v| Violation {
                            subject: v.subject,
                            description: v.description,
                        }))
                }
                // The first ErrorInfo the contract gives a reason (with its
                // code) decides it.
                ErrorDetail::ErrorInfo(info) if error.reason.is_none() => {
                    error.reason = match error.code {
                        Code::Aborted => {
                            PreconditionFailed::from_info(&info).map(Reason::PreconditionFailed)
                        }
                        Code::OutOfRange => {
                            RevisionCompacted::from_info(&info).map(Reason::RevisionCompacted)
                        }
                        _ => None,
                    }
                    .map(Box::new);
                }
                _ => {}
            }
        }
        error
    }
}

/// The status's code, except that a connection that failed under the call
/// is `Unavailable`, as gRPC specifies and grpc-go reports, where tonic says
/// `Unknown` (a local I/O or HTTP/2 error: the server's TLS alert refusing our
/// certificate, a connection closed mid-handshake...) or `Cancelled` (hyper's
/// "canceled: connection closed": the request was never sent). A status the
/// server sent has no cause and keeps its code.
fn code_of(status: &tonic::Status) -> Code {
    let mut source = status.source();
    match status.code() {
        Code::Unknown if source.is_some() => return Code::Unavailable,
        Code::Cancelled => {
            while let Some(cause) = source {
                if cause
                    .downcast_ref::<hyper::Error>()
                    .is_some_and(hyper::Error::is_canceled)
                {
                    return Code::Unavailable;
                }
                source = cause.source();
            }
        }
        _ => {}
    }
    status.code()
}

/// `message: cause: cause...`, skipping causes the text already ends with.
fn with_causes(mut message: String, mut source: Option<&(dyn StdError + 'static)>) -> String {
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.ends_with(&text) {
            message = format!("{message}: {text}");
        }
        source = cause.source();
    }
    message
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.code, self.message)?;
        if let Some(p) = self.precondition_failed() {
            write!(
                f,
                "; {}: current version {}, sha256 ",
                p.path, p.current_version
            )?;
            for byte in &p.current_sha256 {
                write!(f, "{byte:02x}")?;
            }
        }
        if let Some(kept) = self.revision_compacted() {
            write!(
                f,
                "; oldest retained revision {}, current {}",
                kept.oldest_revision, kept.current_revision
            )?;
        }
        // The server's message usually names the violations already.
        for v in self
            .violations()
            .filter(|v| !self.message.contains(&v.subject))
        {
            write!(f, "; {}: {}", v.subject, v.description)?;
        }
        Ok(())
    }
}

impl StdError for Error {}

// The tests are in error/tests.rs, to keep this file short.
#[cfg(test)]
mod tests;
