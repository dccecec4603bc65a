//! TLS settings and the bearer token: what a client needs to reach a server
//! started with `--tls-cert`, `--tls-client-ca` and `--auth-tokens`.

use std::path::{Path, PathBuf};

use tonic::Code;
use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::transport::{Certificate, ClientTlsConfig, Identity};

use crate::error::Error;

/// The environment variable a connecting client takes its token from when
/// [`crate::Client::with_token`] does not set one.
pub const TOKEN_ENV: &str = "CONTEXTSTORE_TOKEN";

/// Where a TLS connection finds its certificates (PEM files). The default,
/// `Tls::default()`, trusts the system's roots and presents no certificate.
///
/// ```
/// let tls = contextstore::Tls::default()
///     .ca("ca.pem")
///     .identity("agent-7.pem", "agent-7-key.pem");
/// assert!(tls.cert.is_some() && tls.key.is_some());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tls {
    /// The CA certificates to trust; `None`: the system's roots.
    pub ca: Option<PathBuf>,
    /// The client certificate, for a server that requires one (mTLS); with `key`.
    pub cert: Option<PathBuf>,
    /// The client certificate's private key; with `cert`.
    pub key: Option<PathBuf>,
}

impl Tls {
    /// Trusts the CA certificates of `path` instead of the system's roots.
    pub fn ca(self, path: impl Into<PathBuf>) -> Self {
        Tls {
            ca: Some(path.into()),
            ..self
        }
    }

    /// Presents the client certificate `cert` with its key `key` (mTLS).
    pub fn identity(self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        Tls {
            cert: Some(cert.into()),
            key: Some(key.into()),
            ..self
        }
    }

    /// tonic's configuration, the files read. The server's name is left to
    /// each endpoint (its own host), except where `domain` is given.
    pub(crate) fn config(&self) -> Result<ClientTlsConfig, Error> {
        let mut config = ClientTlsConfig::new();
        config = match &self.ca {
            Some(path) => config.ca_certificate(Certificate::from_pem(read(path)?)),
            None => config.with_native_roots(),
        };
        match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => {
                Ok(config.identity(Identity::from_pem(read(cert)?, read(key)?)))
            }
            (None, None) => Ok(config),
            _ => Err(Error::new(
                Code::InvalidArgument,
                "TLS: a client certificate needs its key and a key its certificate (cert and key: both or neither)",
            )),
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| {
        Error::new(
            Code::InvalidArgument,
            format!("TLS: cannot read {}: {e}", path.display()),
        )
    })
}

/// The `authorization` header of `token`; `None` for an empty token.
pub(crate) fn bearer(token: &str) -> Result<Option<AsciiMetadataValue>, Error> {
    if token.is_empty() {
        return Ok(None);
    }
    MetadataValue::try_from(format!("Bearer {token}"))
        .map(|mut value: AsciiMetadataValue| {
            // Kept out of Debug output (a Client's included).
            value.set_sensitive(true);
            Some(value)
        })
        .map_err(|_| {
            Error::new(
                Code::InvalidArgument,
                "the token is not a valid header value (visible ASCII only)",
            )
        })
}

/// The header of `$CONTEXTSTORE_TOKEN`, `None` when unset or empty.
pub(crate) fn bearer_from_env() -> Result<Option<AsciiMetadataValue>, Error> {
    match std::env::var(TOKEN_ENV) {
        Ok(token) => bearer(&token)
            .map_err(|e| Error::new(e.code(), format!("${TOKEN_ENV}: {}", e.message()))),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(Error::new(
            Code::InvalidArgument,
            format!("${TOKEN_ENV} is not valid Unicode"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_a_bearer_header_and_empty_is_none() {
        let header = bearer("s3cret").unwrap().unwrap();
        assert_eq!(header, "Bearer s3cret");
        assert!(!format!("{header:?}").contains("s3cret"));
        assert!(bearer("").unwrap().is_none());
        let error = bearer("two\nlines").unwrap_err();
        assert_eq!(error.code(), Code::InvalidArgument);
    }

    #[test]
    fn bad_tls_settings_are_invalid_argument_naming_the_problem() {
        let missing = std::env::temp_dir().join("contextstore-no-such-file.pem");
        for (tls, why) in [
            (Tls::default().ca(&missing), "cannot read"),
            (
                Tls {
                    cert: Some(missing.clone()),
                    ..Tls::default()
                },
                "both or neither",
            ),
            (
                Tls {
                    key: Some(missing.clone()),
                    ..Tls::default()
                },
                "both or neither",
            ),
        ] {
            let error = tls.config().unwrap_err();
            assert_eq!(error.code(), Code::InvalidArgument, "{tls:?}");
            assert!(error.message().contains(why), "{}", error.message());
        }
    }
}
