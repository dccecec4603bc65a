//! The error type's decoding of the statuses a server sends.

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
        ErrorDetails::with_error_info("PRECONDITION_FAILED", "contextstore.dev", HashMap::new()),
    );
    assert!(Error::from(not_aborted).precondition_failed().is_none());
}

#[test]
fn a_compacted_start_carries_the_oldest_and_current_revisions() {
    let compacted = |code: Code, reason: &str, metadata: &[(&str, &str)]| {
        let metadata: HashMap<String, String> = metadata
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Error::from(tonic::Status::with_error_details(
            code,
            "revision 3 is compacted",
            ErrorDetails::with_error_info(reason, "contextstore.dev", metadata),
        ))
    };
    let error = compacted(
        Code::OutOfRange,
        "REVISION_COMPACTED",
        &[
            ("oldest_revision", "1700000000000001"),
            ("current_revision", "1700000000000099"),
        ],
    );
    assert_eq!(error.code(), Code::OutOfRange);
    assert_eq!(
        error.revision_compacted(),
        Some(&RevisionCompacted {
            oldest_revision: 1_700_000_000_000_001,
            current_revision: 1_700_000_000_000_099,
        })
    );
    assert!(error.precondition_failed().is_none());
    assert!(error.to_string().contains("1700000000000001"), "{error}");
    // Missing or malformed revisions read 0.
    let error = compacted(
        Code::OutOfRange,
        "REVISION_COMPACTED",
        &[("oldest_revision", "x")],
    );
    let kept = error.revision_compacted().unwrap();
    assert_eq!((kept.oldest_revision, kept.current_revision), (0, 0));
    // Another reason, that reason on another code, or no detail: none.
    assert!(
        compacted(Code::OutOfRange, "OTHER", &[])
            .revision_compacted()
            .is_none()
    );
    assert!(
        compacted(Code::Aborted, "REVISION_COMPACTED", &[])
            .revision_compacted()
            .is_none()
    );
    let plain = Error::from(tonic::Status::out_of_range("x"));
    assert!(plain.revision_compacted().is_none());
    // And a failed precondition is no compaction.
    let aborted = Error::from(aborted("PRECONDITION_FAILED", &[("current_version", "1")]));
    assert!(aborted.revision_compacted().is_none() && aborted.precondition_failed().is_some());
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
