//! The one error type of the client: a gRPC status code, its message, and the
//! field violations (`google.rpc.BadRequest`) or quota violations
//! (`google.rpc.QuotaFailure`) the server attached.

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

/// A failed call. A miss of a single-entry read is not an error: those
/// methods return `Ok(None)`.
#[derive(Clone, Debug)]
pub struct Error {
    code: Code,
    message: String,
    field_violations: Vec<Violation>,
    quota_violations: Vec<Violation>,
}

impl Error {
    /// An error with no details, e.g. for a failure before any call was made.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
            field_violations: Vec::new(),
            quota_violations: Vec::new(),
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
    use super::*;

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
