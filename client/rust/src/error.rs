//! The one error type of the client: a gRPC status code, its message, and the
//! field violations (`google.rpc.BadRequest`) or quota violations
//! (`google.rpc.QuotaFailure`) the server attached, or, for a compare-and-set
//! write whose precondition failed, the [`PreconditionFailed`] it carried
//! (`google.rpc.ErrorInfo`).

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

/// The `google.rpc.ErrorInfo` reason and domain of a failed precondition.
const PRECONDITION_REASON: &str = "PRECONDITION_FAILED";
const PRECONDITION_DOMAIN: &str = "contextstore.dev";

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
        if info.reason != PRECONDITION_REASON || info.domain != PRECONDITION_DOMAIN {
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
    precondition: Option<Box<PreconditionFailed>>,
}

impl Error {
    /// An error with no details, e.g. for a failure before any call was made.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
            field_violations: Vec::new(),
            quota_violations: Vec::new(),
            precondition: None,
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
        self.precondition.as_deref()
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
                ErrorDetail::ErrorInfo(info)
                    if error.code == Code::Aborted && error.precondition.is_none() =>
                {
                    error.precondition = PreconditionFailed::from_info(&info).map(Box::new);
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
        if let Some(p) = &self.precondition {
            write!(
                f,
                "; {}: current version {}, sha256 ",
                p.path, p.current_version
            )?;
            for byte in &p.current_sha256 {
                write!(f, "{byte:02x}")?;
            }
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use tonic_types::ErrorDetails;

    use super::*;

    fn aborted(reason: &str, metadata: &[(&str, &str)]) -> tonic::Status {
        let metadata: HashMap<String, String> = metadata
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        tonic::Status::with_error_details(
            Code::Aborted,
            "precondition failed",
            ErrorDetails::with_error_info(reason, "contextstore.dev", metadata),
        )
    }

    #[test]
    fn a_failed_precondition_carries_the_current_version_and_digest() {
        let digest = [0xab_u8; 32];
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        let error = Error::from(aborted(
            "PRECONDITION_FAILED",
            &[
                ("path", "a.py"),
                ("current_version", "7"),
                ("current_sha256", &hex),
            ],
        ));
        assert_eq!(error.code(), Code::Aborted);
        assert_eq!(
            error.precondition_failed(),
            Some(&PreconditionFailed {
                path: "a.py".into(),
                current_version: 7,
                current_sha256: digest.to_vec(),
            })
        );
        assert!(error.to_string().contains(&hex), "{error}");

        // No file there: version 0, no digest.
        let none = Error::from(aborted(
            "PRECONDITION_FAILED",
            &[
                ("path", "b.py"),
                ("current_version", "0"),
                ("current_sha256", ""),
            ],
        ));
        let found = none.precondition_failed().unwrap();
        assert_eq!((found.current_version, found.current_sha256.len()), (0, 0));
    }

    #[test]
    fn another_abort_is_no_failed_precondition() {
        assert!(
            Error::from(tonic::Status::aborted("x"))
                .precondition_failed()
                .is_none()
        );
        assert!(
            Error::from(aborted("OTHER", &[("current_version", "1")]))
                .precondition_failed()
                .is_none()
        );
        let not_aborted = tonic::Status::with_error_details(
            Code::Internal,
            "x",
            ErrorDetails::with_error_info(
                "PRECONDITION_FAILED",
                "contextstore.dev",
                HashMap::new(),
            ),
        );
        assert!(Error::from(not_aborted).precondition_failed().is_none());
    }

    #[test]
    fn hex() {
        assert_eq!(from_hex("00ffA0"), Some(vec![0, 255, 160]));
        assert_eq!(from_hex(""), Some(vec![]));
        assert_eq!(from_hex("0"), None);
        assert_eq!(from_hex("zz"), None);
        assert_eq!(from_hex("é"), None);
        assert_eq!(from_hex("+f"), None);
    }

    #[test]
    fn a_broken_connection_is_unavailable_a_servers_status_keeps_its_code() {
        let broken = tonic::Status::from_error(Box::new(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "received fatal alert: CertificateRequired",
        )));
        assert_eq!(broken.code(), Code::Unknown);
        let error = Error::from(broken);
        assert_eq!(error.code(), Code::Unavailable);
        assert!(error.message().contains("CertificateRequired"), "{error}");
        assert_eq!(
            Error::from(tonic::Status::unknown("boom")).code(),
            Code::Unknown
        );
    }
}
