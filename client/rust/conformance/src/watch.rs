//! The `watch` operation: a watch through `Client::watch`, its progress
//! responses skipped, until it has the responses asked for, then dropped.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use contextstore::{Client, Code, Error, RemovalReason, WatchEventKind, pb};
use serde_json::{Value, json};

use crate::{Args, DEADLINE, Outcome};

/// Runs `watch` with `start_revision`, or `after_step` (the revision of that
/// earlier step's result), `path_prefix` and `responses`: the event-carrying
/// responses, normalized, once there are `responses` of them; with 0, `[]`
/// once the first response (a progress one) came. The step's deadline bounds
/// it all; the client resumes dropped streams on its own meanwhile.
pub async fn watch(handle: &Client, args: Args<'_>, earlier: &[Value]) -> Result<Outcome, String> {
    let start = start_revision(args, earlier)?;
    let prefix = args.optional_string("path_prefix")?.unwrap_or_default();
    let wanted = args
        .optional("responses")
        .map(|v| v.as_u64().ok_or(format!("responses: not a count: {v}")))
        .transpose()?
        .unwrap_or(0);
    let mut watch = handle.watch().start_revision(start).path_prefix(prefix);
    let collect = async {
        let mut out = Vec::new();
        while let Some(next) = watch.next().await {
            let response = match next {
                Ok(response) => response,
                Err(error) => return Outcome::Failed(error),
            };
            if wanted == 0 {
                break;
            }
            if !response.progress {
                out.push(normalized(&response));
                if out.len() as u64 >= wanted {
                    break;
                }
            }
        }
        Outcome::Result(Value::Array(out))
    };
    // Dropping the watch (with `collect`) closes its stream.
    Ok(tokio::time::timeout(DEADLINE, collect)
        .await
        .unwrap_or_else(|_| {
            Outcome::Failed(Error::new(
                Code::DeadlineExceeded,
                "the step's deadline passed while watching",
            ))
        }))
}

/// `start_revision` as given, or the `revision` of the result of step
/// `after_step`; 0 (from now) without either.
fn start_revision(args: Args<'_>, earlier: &[Value]) -> Result<i64, String> {
    if let Some(given) = args.optional("start_revision") {
        return given
            .as_i64()
            .ok_or(format!("start_revision: not an integer: {given}"));
    }
    let Some(step) = args.optional("after_step") else {
        return Ok(0);
    };
    let index = step
        .as_u64()
        .and_then(|i| usize::try_from(i).ok())
        .ok_or(format!("after_step: not an index: {step}"))?;
    let outcome = earlier
        .get(index)
        .ok_or(format!("after_step {index}: no such earlier step"))?;
    outcome
        .pointer("/result/revision")
        .and_then(Value::as_i64)
        .ok_or(format!(
            "after_step {index}: its outcome has no result revision: {outcome}"
        ))
}

/// `{"revision", "events"}`, every event with every key: `""` and 0 for
/// what its kind leaves unset, kinds and reasons named as in the contract
/// without their prefix.
fn normalized(response: &pb::WatchResponse) -> Value {
    let events: Vec<Value> = response
        .events
        .iter()
        .map(|e| {
            let kind = WatchEventKind::try_from(e.kind).map_or_else(
                |_| format!("WatchEventKind({})", e.kind),
                |k| name(k.as_str_name(), "WATCH_EVENT_KIND_"),
            );
            let reason = match RemovalReason::try_from(e.reason) {
                Ok(RemovalReason::Unspecified) => String::new(),
                Ok(r) => name(r.as_str_name(), "REMOVAL_REASON_"),
                Err(_) => format!("RemovalReason({})", e.reason),
            };
            json!({
                "kind": kind,
                "path": e.path,
                "sha256": BASE64.encode(&e.sha256),
                "version": e.version,
                "analysis_type": e.analysis_type,
                "reason": reason,
            })
        })
        .collect();
    json!({"revision": response.revision, "events": events})
}

fn name(full: &str, prefix: &str) -> String {
    full.strip_prefix(prefix).unwrap_or(full).to_string()
}

#[cfg(test)]
mod tests {
    use serde_json::Map;

    use super::*;

    #[test]
    fn events_print_every_key() {
        let response = pb::WatchResponse {
            revision: 9,
            events: vec![
                pb::WatchEvent {
                    kind: WatchEventKind::AnalysisRemoved.into(),
                    path: "a".into(),
                    analysis_type: "ast".into(),
                    reason: RemovalReason::Stale.into(),
                    ..Default::default()
                },
                pb::WatchEvent {
                    kind: WatchEventKind::FileCached.into(),
                    path: "a".into(),
                    sha256: vec![0xff],
                    version: 2,
                    ..Default::default()
                },
                pb::WatchEvent {
                    kind: WatchEventKind::SessionCleared.into(),
                    ..Default::default()
                },
            ],
            progress: false,
        };
        assert_eq!(
            normalized(&response),
            json!({"revision": 9, "events": [
                {"kind": "ANALYSIS_REMOVED", "path": "a", "sha256": "", "version": 0,
                 "analysis_type": "ast", "reason": "STALE"},
                {"kind": "FILE_CACHED", "path": "a", "sha256": "/w==", "version": 2,
                 "analysis_type": "", "reason": ""},
                {"kind": "SESSION_CLEARED", "path": "", "sha256": "", "version": 0,
                 "analysis_type": "", "reason": ""},
            ]})
        );
    }

    #[test]
    fn the_start_revision_is_given_or_an_earlier_steps() {
        let earlier = [
            json!({"result": {"files": 1, "analyses": 0, "revision": 41}}),
            json!({"result": []}),
        ];
        let start = |args: Value| {
            let args: Map<String, Value> = args.as_object().unwrap().clone();
            start_revision(Args(&args), &earlier)
        };
        assert_eq!(start(json!({})), Ok(0));
        assert_eq!(start(json!({"start_revision": -1})), Ok(-1));
        assert_eq!(start(json!({"after_step": 0})), Ok(41));
        assert!(start(json!({"after_step": 1})).is_err());
        assert!(start(json!({"after_step": 2})).is_err());
        assert!(start(json!({"start_revision": "1"})).is_err());
    }

    #[test]
    fn a_compaction_prints_both_revisions() {
        use std::collections::HashMap;

        use tonic_types::{ErrorDetails, StatusExt};

        let metadata = HashMap::from([
            ("oldest_revision".to_string(), "5".to_string()),
            ("current_revision".to_string(), "9".to_string()),
        ]);
        let status = tonic::Status::with_error_details(
            Code::OutOfRange,
            "compacted",
            ErrorDetails::with_error_info("REVISION_COMPACTED", "contextstore.dev", metadata),
        );
        let printed = crate::failure(&Error::from(status));
        assert_eq!(printed["code"], "OUT_OF_RANGE");
        assert_eq!(
            (&printed["oldest_revision"], &printed["current_revision"]),
            (&json!(5), &json!(9))
        );
    }
}
