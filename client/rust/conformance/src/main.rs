//! The Rust conformance runner: a thin adapter from each case's operation name
//! to the method of `contextstore::Client` with that name, printing what came
//! back, normalized (tests/conformance/README.md). It judges nothing: the
//! harness matches the outcomes, the same way for every language.
//!
//! Usage: conformance --target TARGET [--target TARGET...] --cases PATH
//!   [--tls-ca FILE] [--tls-cert FILE --tls-key FILE] [--token TOKEN]
//!   [--identity NAME=TOKEN...]
//!
//! Each TARGET goes to `Client::connect_lazy` as it is (so `A,B` is one client
//! balancing over two servers). With several `--target`, step k of every case
//! goes to client k mod n, and the setup clears go to the first.
//!
//! Any `--tls-*` flag makes every client TLS. The default clients send
//! `--token` (without it, `$CONTEXTSTORE_TOKEN`); a step with `"as": "NAME"`
//! goes to the same target's client sending NAME's token from `--identity`,
//! made on first use per (target, NAME); an unknown NAME is a runner error.
//!
//! Prints one JSON line per case, in file order, and exits 0 once every case is
//! printed, whatever the outcomes; 2 when it cannot run (bad arguments, an
//! unreadable case file).

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use contextstore::{Client, Code, Error, FileUpload, Timestamp, pb};
use serde_json::{Map, Value, json};

/// The deadline of every call.
const DEADLINE: Duration = Duration::from_secs(10);

const USAGE: &str = "usage: conformance --target TARGET [--target TARGET...] --cases PATH \
    [--tls-ca FILE] [--tls-cert FILE --tls-key FILE] [--token TOKEN] [--identity NAME=TOKEN...]";

mod pool;
mod watch;

use pool::{Pool, parse_args};

fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("conformance: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let done = load_cases(&options.cases).and_then(|cases| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the runtime: {e}"))?
            .block_on(run(&options, &cases))
    });
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("conformance: {message}");
            ExitCode::from(2)
        }
    }
}

fn load_cases(path: &str) -> Result<Vec<Value>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let mut suite: Value = serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
    match suite.get_mut("cases").map(Value::take) {
        Some(Value::Array(cases)) => Ok(cases),
        _ => Err(format!("{path}: no \"cases\" list")),
    }
}

async fn run(options: &pool::Options, cases: &[Value]) -> Result<(), String> {
    let mut clients = Pool::new(options)?;
    let mut stdout = std::io::stdout().lock();
    for case in cases {
        let line = run_case(&mut clients, case).await;
        writeln!(stdout, "{line}")
            .and_then(|()| stdout.flush())
            .map_err(|e| format!("cannot print: {e}"))?;
    }
    Ok(())
}

/// Clears every listed session through the first default client, then runs
/// step k through target k mod n's client of the step's `"as"` identity: the
/// case's line.
async fn run_case(clients: &mut Pool, case: &Value) -> Value {
    let name = case.get("name").cloned().unwrap_or(Value::Null);
    for session in list(case, "sessions") {
        let id = session.as_str().unwrap_or_default();
        if let Err(error) = clients.default(0).session(id).clear_session().await {
            return json!({"case": name, "setup_error": format!("clear_session({id:?}): {error}")});
        }
    }
    let mut outcomes = Vec::new();
    for (k, step) in list(case, "steps").iter().enumerate() {
        let identity = step.get("as").and_then(Value::as_str);
        let outcome = match clients.client(k % clients.targets(), identity) {
            Ok(client) => run_step(&client, step, &outcomes).await,
            Err(problem) => json!({"runner_error": problem}),
        };
        outcomes.push(outcome);
    }
    json!({"case": name, "outcomes": outcomes})
}

fn list<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    value
        .get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// What one call gave: a success, a read's miss, or the client's error.
enum Outcome {
    Result(Value),
    Miss,
    Failed(Error),
}

impl Outcome {
    fn of<T>(result: Result<T, Error>, normalize: impl FnOnce(T) -> Value) -> Outcome {
        match result {
            Ok(value) => Outcome::Result(normalize(value)),
            Err(error) => Outcome::Failed(error),
        }
    }

    /// For `get_file`, `get_metadata`, `get_analysis`: `Ok(None)` is the miss.
    fn read<T>(result: Result<Option<T>, Error>, normalize: impl FnOnce(T) -> Value) -> Outcome {
        match result {
            Ok(Some(found)) => Outcome::Result(normalize(found)),
            Ok(None) => Outcome::Miss,
            Err(error) => Outcome::Failed(error),
        }
    }
}

/// Runs one step; `earlier` are the case's outcomes before it (a watch's
/// `after_step` names one of them).
async fn run_step(client: &Client, step: &Value, earlier: &[Value]) -> Value {
    let op = step.get("op").and_then(Value::as_str).unwrap_or_default();
    let session = step
        .get("session")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let empty = Map::new();
    let args = Args(
        step.get("args")
            .and_then(Value::as_object)
            .unwrap_or(&empty),
    );
    match call(&client.session(session), op, args, earlier).await {
        Ok(Outcome::Result(value)) => json!({"result": value}),
        Ok(Outcome::Miss) => json!({"miss": true}),
        Ok(Outcome::Failed(error)) => json!({"error": failure(&error)}),
        Err(problem) => json!({"runner_error": format!("{op}: {problem}")}),
    }
}

/// A failed call's code, violations and message, plus the current version and
/// digest of a failed precondition, or the oldest and current revisions of a
/// compacted watch start.
fn failure(error: &Error) -> Value {
    let mut failure = json!({
        "code": code_name(error.code()),
        "violations": error.violations().map(|v| v.subject.as_str()).collect::<Vec<_>>(),
        "message": error.message(),
    });
    if let Some(found) = error.precondition_failed() {
        failure["current_version"] = json!(found.current_version);
        failure["current_sha256"] = json!(BASE64.encode(&found.current_sha256));
    }
    if let Some(kept) = error.revision_compacted() {
        failure["oldest_revision"] = json!(kept.oldest_revision);
        failure["current_revision"] = json!(kept.current_revision);
    }
    failure
}

/// `GetStatsResponse` and `GetStoreStatsResponse` have the same counters;
/// only the store's carry `held_bytes` (0 for a namespace's).
macro_rules! stats {
    ($s:expr) => {
        stats!($s, 0)
    };
    ($s:expr, $held_bytes:expr) => {
        json!({
            "files": $s.files, "analyses": $s.analyses, "bytes": $s.bytes,
            "sessions": $s.sessions, "hits": $s.hits, "misses": $s.misses,
            "evictions": $s.evictions, "expirations": $s.expirations,
            "held_bytes": $held_bytes,
        })
    };
}

/// Runs operation `op` on `handle`; `Err` when the adapter cannot run it.
async fn call(
    handle: &Client,
    op: &str,
    args: Args<'_>,
    earlier: &[Value],
) -> Result<Outcome, String> {
    Ok(match op {
        "cache_file" => {
            let upload = args.upload()?;
            let mut call = handle.cache_file(upload.path, upload.content);
            for (key, value) in upload.labels {
                call = call.with_label(key, value);
            }
            if let Some(mtime) = upload.mtime {
                call = call.with_mtime(mtime);
            }
            if let Some(version) = upload.if_version {
                call = call.if_version(version);
            }
            if let Some(digest) = upload.if_sha256 {
                call = call.if_sha256(digest);
            }
            Outcome::of(call.await, |m| metadata(&m))
        }
        "get_file" => {
            let mut call = handle.get_file(args.string("path")?);
            if args.optional("known_sha256").is_some() {
                call = call.known_sha256(args.bytes("known_sha256")?);
            }
            Outcome::read(call.await, |f| {
                file(&f.content, f.metadata.as_ref(), f.unchanged)
            })
        }
        "get_metadata" => Outcome::read(handle.get_metadata(args.string("path")?).await, |m| {
            metadata(&m)
        }),
        "cache_analysis" => {
            let (path, kind) = (args.string("path")?, args.string("analysis_type")?);
            let mut call = handle.cache_analysis(path, kind, args.bytes("result")?);
            if let Some(version) = args.if_version()? {
                call = call.if_version(version);
            }
            if let Some(digest) = args.if_sha256()? {
                call = call.if_sha256(digest);
            }
            Outcome::of(call.await, |r| json!({"cached_at": time(r.cached_at)}))
        }
        "get_analysis" => {
            let (path, kind) = (args.string("path")?, args.string("analysis_type")?);
            Outcome::read(
                handle.get_analysis(path, kind).await,
                |a| json!({"result": BASE64.encode(&a.result), "cached_at": time(a.cached_at)}),
            )
        }
        "invalidate_file" => {
            let mut call = handle.invalidate_file(args.string("path")?);
            if let Some(version) = args.if_version()? {
                call = call.if_version(version);
            }
            if let Some(digest) = args.if_sha256()? {
                call = call.if_sha256(digest);
            }
            Outcome::of(call.await, |r| {
                removed(r.files_removed, r.analyses_removed, r.revision)
            })
        }
        "invalidate_analysis" => {
            let (path, kind) = (args.string("path")?, args.string("analysis_type")?);
            Outcome::of(handle.invalidate_analysis(path, kind).await, |n| json!(n))
        }
        "invalidate_analyses" => Outcome::of(
            handle.invalidate_analyses(args.string("path")?).await,
            |n| json!(n),
        ),
        "clear_session" => Outcome::of(handle.clear_session().await, |r| {
            removed(r.files_removed, r.analyses_removed, r.revision)
        }),
        "batch_get_files" => {
            let paths = args
                .list("paths")?
                .iter()
                .map(string)
                .collect::<Result<Vec<_>, _>>()?;
            let mut call = handle.batch_get_files(paths);
            if let Some(known) = args.optional("known_sha256") {
                let known = known.as_object().ok_or("known_sha256: not an object")?;
                let known = known
                    .iter()
                    .map(|(path, digest)| Ok((path.clone(), base64(digest)?)))
                    .collect::<Result<Vec<_>, String>>()
                    .map_err(|e| format!("known_sha256: {e}"))?;
                call = call.known_sha256(known);
            }
            Outcome::of(call.await, |files| {
                files
                    .iter()
                    .map(|f| {
                        f.as_ref().map_or(Value::Null, |f| {
                            file(&f.content, f.metadata.as_ref(), f.unchanged)
                        })
                    })
                    .collect()
            })
        }
        "batch_cache_files" => {
            let files = args
                .list("files")?
                .iter()
                .map(upload)
                .collect::<Result<Vec<_>, _>>()?;
            Outcome::of(handle.batch_cache_files(files).await, |all| {
                all.iter().map(metadata).collect()
            })
        }
        // Drains the pager: every page, in path order.
        "list_files" => {
            let mut pager = handle.list_files();
            if let Some(prefix) = args.optional_string("path_prefix")? {
                pager = pager.path_prefix(prefix);
            }
            if let Some(size) = args.page_size()? {
                pager = pager.page_size(size);
            }
            Outcome::of(pager.collect().await, |all| {
                all.iter().map(metadata).collect()
            })
        }
        "list_files_page" => {
            let prefix = args.optional_string("path_prefix")?.unwrap_or_default();
            let token = args.optional_string("page_token")?.unwrap_or_default();
            let size = args.page_size()?.unwrap_or(0);
            Outcome::of(handle.list_files_page(prefix, size, token).await, |page| {
                json!({
                    "files": page.files.iter().map(metadata).collect::<Vec<_>>(),
                    "next_page_token": page.next_page_token,
                    "revision": page.revision,
                })
            })
        }
        "invalidate_prefix" => Outcome::of(
            handle.invalidate_prefix(args.string("path_prefix")?).await,
            |r| removed(r.files_removed, r.analyses_removed, r.revision),
        ),
        "stats" => Outcome::of(handle.stats().await, |s| stats!(s)),
        "store_stats" => Outcome::of(handle.store_stats().await, |s| stats!(s, s.held_bytes)),
        "server_info" => Outcome::of(handle.server_info().await, |i| server_info(&i)),
        "watch" => watch::watch(handle, args, earlier).await?,
        _ => return Err("unknown operation".to_string()),
    })
}

// -- arguments (README: bytes as base64, mtime as RFC 3339, labels an object) --

#[derive(Clone, Copy)]
struct Args<'a>(&'a Map<String, Value>);

impl<'a> Args<'a> {
    fn get(self, key: &str) -> Result<&'a Value, String> {
        self.0.get(key).ok_or(format!("missing argument {key:?}"))
    }

    fn string(self, key: &str) -> Result<String, String> {
        string(self.get(key)?).map_err(|e| format!("{key}: {e}"))
    }

    fn bytes(self, key: &str) -> Result<Vec<u8>, String> {
        base64(self.get(key)?).map_err(|e| format!("{key}: {e}"))
    }

    /// An optional argument: `None` when absent (or null), and then not sent.
    fn optional(self, key: &str) -> Option<&'a Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    /// `if_version`, a number; 0 is given ("only if no file is there").
    fn if_version(self) -> Result<Option<i64>, String> {
        self.optional("if_version")
            .map(|v| v.as_i64().ok_or(format!("if_version: not an integer: {v}")))
            .transpose()
    }

    /// An optional string argument.
    fn optional_string(self, key: &str) -> Result<Option<String>, String> {
        self.optional(key)
            .map(|v| string(v).map_err(|e| format!("{key}: {e}")))
            .transpose()
    }

    /// `page_size`, a number (negative ones are sent: the server refuses them).
    fn page_size(self) -> Result<Option<i32>, String> {
        self.optional("page_size")
            .map(|v| {
                v.as_i64()
                    .and_then(|n| i32::try_from(n).ok())
                    .ok_or(format!("page_size: not a 32-bit integer: {v}"))
            })
            .transpose()
    }

    /// `if_sha256`, base64.
    fn if_sha256(self) -> Result<Option<Vec<u8>>, String> {
        self.optional("if_sha256")
            .map(|_| self.bytes("if_sha256"))
            .transpose()
    }

    fn list(self, key: &str) -> Result<&'a [Value], String> {
        self.get(key)?
            .as_array()
            .map(Vec::as_slice)
            .ok_or(format!("{key}: not a list"))
    }

    /// A `{path, content, labels?, mtime?, if_version?, if_sha256?}` object.
    fn upload(self) -> Result<FileUpload, String> {
        let mut upload = FileUpload::new(self.string("path")?, self.bytes("content")?);
        if let Some(labels) = self.0.get("labels") {
            let labels = labels.as_object().ok_or("labels: not an object")?;
            for (key, value) in labels {
                upload = upload.with_label(key, string(value).map_err(|e| format!("labels: {e}"))?);
            }
        }
        if let Some(mtime) = self.0.get("mtime").filter(|m| !m.is_null()) {
            let text = string(mtime)?;
            let mtime: Timestamp = text.parse().map_err(|e| format!("mtime {text:?}: {e}"))?;
            upload = upload.with_mtime(mtime);
        }
        if let Some(version) = self.if_version()? {
            upload = upload.with_if_version(version);
        }
        if let Some(digest) = self.if_sha256()? {
            upload = upload.with_if_sha256(digest);
        }
        Ok(upload)
    }
}

fn base64(value: &Value) -> Result<Vec<u8>, String> {
    let text = string(value)?;
    BASE64.decode(text).map_err(|e| format!("not base64: {e}"))
}

fn string(value: &Value) -> Result<String, String> {
    value
        .as_str()
        .map(str::to_string)
        .ok_or(format!("not a string: {value}"))
}

fn upload(item: &Value) -> Result<FileUpload, String> {
    Args(item.as_object().ok_or("files: an item is not an object")?).upload()
}

// -- normalized results (README: "What a runner prints") ------------------------

/// RFC 3339 in UTC, or null when unset.
fn time(at: Option<Timestamp>) -> Value {
    at.map_or(Value::Null, |t| Value::String(t.to_string()))
}

fn metadata(m: &pb::FileMetadata) -> Value {
    json!({
        "path": m.path,
        "size": m.size,
        "sha256": BASE64.encode(&m.sha256),
        "mtime": time(m.mtime),
        "cached_at": time(m.cached_at),
        "labels": m.labels,
        "version": m.version,
    })
}

fn file(content: &[u8], meta: Option<&pb::FileMetadata>, unchanged: bool) -> Value {
    json!({
        "content": BASE64.encode(content),
        "metadata": meta.map_or(Value::Null, metadata),
        "unchanged": unchanged,
    })
}

fn removed(files: i64, analyses: i64, revision: i64) -> Value {
    json!({"files": files, "analyses": analyses, "revision": revision})
}

fn server_info(info: &pb::GetServerInfoResponse) -> Value {
    json!({
        "version": info.version,
        "backend": info.backend,
        "backend_properties": info.backend_properties,
        "limits": info.limits.as_ref().map_or(Value::Null, limits),
    })
}

/// Every field of the contract's `Limits`, the durations (`session_ttl`,
/// `receive_timeout`, `watch_progress_interval`) in seconds.
fn limits(l: &pb::Limits) -> Value {
    json!({
        "max_content_bytes": l.max_content_bytes,
        "max_message_bytes": l.max_message_bytes,
        "max_batch_items": l.max_batch_items,
        "max_path_bytes": l.max_path_bytes,
        "max_session_id_bytes": l.max_session_id_bytes,
        "max_analysis_type_bytes": l.max_analysis_type_bytes,
        "max_labels": l.max_labels,
        "max_label_key_bytes": l.max_label_key_bytes,
        "max_label_value_bytes": l.max_label_value_bytes,
        "total_bytes": l.total_bytes,
        "session_bytes": l.session_bytes,
        "session_entries": l.session_entries,
        "session_ttl": seconds(l.session_ttl),
        "max_concurrent_rpcs": l.max_concurrent_rpcs,
        "max_inflight_response_bytes": l.max_inflight_response_bytes,
        "receive_timeout": seconds(l.receive_timeout),
        "max_watchers": l.max_watchers,
        "watch_progress_interval": seconds(l.watch_progress_interval),
        "watch_history_revisions": l.watch_history_revisions,
    })
}

/// A duration in seconds; absent is zero, as proto3 reads it.
fn seconds(d: Option<contextstore::Duration>) -> f64 {
    let d = d.unwrap_or_default();
    d.seconds as f64 + f64::from(d.nanos) / 1e9
}

fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_has_every_key_with_bytes_in_base64_and_times_in_utc() {
        let m = pb::FileMetadata {
            path: "a".into(),
            size: 5,
            sha256: vec![0xff, 0x00],
            cached_at: Some(Timestamp {
                seconds: 1,
                nanos: 5_000,
            }),
            ..Default::default()
        };
        assert_eq!(
            metadata(&m),
            json!({"path": "a", "size": 5, "sha256": "/wA=", "mtime": null,
                   "cached_at": "1970-01-01T00:00:01.000005Z", "labels": {}, "version": 0})
        );
    }

    #[test]
    fn server_info_has_every_limit_and_the_durations_in_seconds() {
        let info = pb::GetServerInfoResponse {
            limits: Some(pb::Limits {
                session_ttl: Some(contextstore::Duration {
                    seconds: 3600,
                    nanos: 500_000_000,
                }),
                max_inflight_response_bytes: 16_777_216,
                receive_timeout: Some(contextstore::Duration {
                    seconds: 7,
                    nanos: 500_000_000,
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let printed = server_info(&info);
        assert_eq!(printed["limits"]["session_ttl"], json!(3600.5));
        assert_eq!(
            printed["limits"]["max_inflight_response_bytes"],
            json!(16_777_216)
        );
        assert_eq!(printed["limits"]["receive_timeout"], json!(7.5));
        assert_eq!(printed["limits"].as_object().unwrap().len(), 19);
        assert_eq!(printed["backend_properties"], json!({}));
    }

    #[test]
    fn uploads_read_labels_and_mtime() {
        let item = json!({"path": "p", "content": "aGk=", "labels": {"k": "v"},
                          "mtime": "2026-01-02T03:04:05+01:00"});
        let upload = upload(&item).unwrap();
        assert_eq!(upload.content, b"hi");
        assert_eq!(upload.labels["k"], "v");
        assert_eq!(upload.mtime.unwrap().to_string(), "2026-01-02T02:04:05Z");
        assert!(super::upload(&json!({"path": "p", "content": "!"})).is_err());
        assert!(super::upload(&json!({"content": ""})).is_err());
    }

    #[test]
    fn uploads_read_preconditions_zero_included() {
        let item = json!({"path": "p", "content": "", "if_version": 0, "if_sha256": "AAE="});
        let upload = upload(&item).unwrap();
        assert_eq!(upload.if_version, Some(0));
        assert_eq!(upload.if_sha256, Some(vec![0, 1]));
        let plain = super::upload(&json!({"path": "p", "content": ""})).unwrap();
        assert_eq!((plain.if_version, plain.if_sha256), (None, None));
        assert!(super::upload(&json!({"path": "p", "content": "", "if_version": "1"})).is_err());
    }

    #[test]
    fn a_failed_precondition_prints_the_current_version_and_digest() {
        use std::collections::HashMap;

        use tonic_types::{ErrorDetails, StatusExt};

        let status = |version: &str, digest: &str| {
            let metadata = HashMap::from([
                ("path".to_string(), "a".to_string()),
                ("current_version".to_string(), version.to_string()),
                ("current_sha256".to_string(), digest.to_string()),
            ]);
            tonic::Status::with_error_details(
                Code::Aborted,
                "precondition failed",
                ErrorDetails::with_error_info("PRECONDITION_FAILED", "contextstore.dev", metadata),
            )
        };
        let printed = failure(&Error::from(status("3", "00ff")));
        assert_eq!(printed["code"], "ABORTED");
        assert_eq!(printed["current_version"], json!(3));
        assert_eq!(printed["current_sha256"], "AP8=");
        let printed = failure(&Error::from(status("0", "")));
        assert_eq!(
            (&printed["current_version"], &printed["current_sha256"]),
            (&json!(0), &json!(""))
        );
        let printed = failure(&Error::from(tonic::Status::aborted("x")));
        assert!(printed.get("current_version").is_none());
    }

    #[test]
    fn listing_arguments_are_optional() {
        let given = json!({"path_prefix": "a/", "page_size": -1, "page_token": "t"});
        let args = Args(given.as_object().unwrap());
        assert_eq!(args.optional_string("path_prefix"), Ok(Some("a/".into())));
        assert_eq!(args.page_size(), Ok(Some(-1)));
        let none = Map::new();
        let args = Args(&none);
        assert_eq!(args.optional_string("page_token"), Ok(None));
        assert_eq!(args.page_size(), Ok(None));
        let bad = json!({"page_size": 1e12, "path_prefix": 3});
        let args = Args(bad.as_object().unwrap());
        assert!(args.page_size().is_err());
        assert!(args.optional_string("path_prefix").is_err());
    }

    #[test]
    fn files_print_unchanged() {
        assert_eq!(
            file(b"", None, true),
            json!({"content": "", "metadata": null, "unchanged": true})
        );
    }

    #[test]
    fn arguments() {
        let args = |a: &[&str]| parse_args(a.iter().map(|s| s.to_string()));
        assert_eq!(
            args(&["--target", "h:1", "--cases=c.json"]).unwrap(),
            pool::Options {
                targets: vec!["h:1".to_string()],
                cases: "c.json".to_string(),
                ..Default::default()
            }
        );
        // Repeated, in order; a list stays one target (one balancing client).
        let options = args(&["--target=h:1,h:2", "--cases", "c", "--target", "h:3"]).unwrap();
        assert_eq!(options.targets, ["h:1,h:2", "h:3"]);
        assert_eq!(options.cases, "c");
        assert!(args(&["--target", "h:1"]).is_err());
        assert!(args(&["--cases", "c"]).is_err());
        assert!(args(&["--bogus", "x"]).is_err());
    }
}
