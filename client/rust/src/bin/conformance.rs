//! The Rust conformance runner: executes tests/conformance/cases.json through
//! the generated messages and `contextstore::Client` (see the README there).
//!
//! Usage: conformance --target HOST:PORT --cases PATH
//!
//! Prints one JSON line per case, in file order, and exits 0 when every case
//! passed, 1 otherwise (2 for bad arguments or an unreadable case file).

use std::collections::BTreeSet;
use std::io::Write;
use std::process::ExitCode;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use contextstore::{Client, Code, Rpc, pb};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

fn main() -> ExitCode {
    let (target, cases_path) = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("conformance: {message}\nusage: conformance --target HOST:PORT --cases PATH");
            return ExitCode::from(2);
        }
    };
    let cases = match load_cases(&cases_path) {
        Ok(cases) => cases,
        Err(message) => {
            eprintln!("conformance: {message}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("conformance: cannot start the runtime: {error}");
            return ExitCode::from(2);
        }
    };
    let all_ok = runtime.block_on(run(&target, &cases));
    if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<(String, String), String> {
    let (mut target, mut cases) = (None, None);
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => {
                (name.to_string(), Some(value.to_string()))
            }
            _ => (arg, None),
        };
        let slot = match name.as_str() {
            "--target" => &mut target,
            "--cases" => &mut cases,
            _ => return Err(format!("unknown argument {name:?}")),
        };
        let value = match inline {
            Some(value) => value,
            None => args.next().ok_or(format!("{name} needs a value"))?,
        };
        *slot = Some(value);
    }
    Ok((
        target.ok_or("--target is required")?,
        cases.ok_or("--cases is required")?,
    ))
}

fn load_cases(path: &str) -> Result<Vec<Value>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let mut suite: Value = serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
    match suite.get_mut("cases").map(Value::take) {
        Some(Value::Array(cases)) => Ok(cases),
        _ => Err(format!("{path}: no \"cases\" list")),
    }
}

async fn run(target: &str, cases: &[Value]) -> bool {
    // Lazy: an unreachable server fails each case with UNAVAILABLE, one line each.
    let client = match Client::connect_lazy(target) {
        Ok(client) => client,
        Err(error) => {
            eprintln!("conformance: {error}");
            return false;
        }
    };
    let mut all_ok = true;
    let stdout = std::io::stdout();
    for case in cases {
        let name = case.get("name").cloned().unwrap_or(Value::Null);
        let line = match run_case(&client, case).await {
            Ok(()) => json!({"case": name, "ok": true}),
            Err((step, error)) => {
                all_ok = false;
                json!({"case": name, "ok": false, "step": step, "error": error})
            }
        };
        let mut out = stdout.lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
    all_ok
}

/// Ok, or the failing step's index (-1 for the setup) and what differed.
async fn run_case(client: &Client, case: &Value) -> Result<(), (i64, String)> {
    let sessions = case
        .get("sessions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for session in sessions {
        let id = session.as_str().unwrap_or_default();
        let request = pb::ClearSessionRequest {
            session_id: (!id.is_empty()).then(|| id.to_string()),
        };
        if let Err(error) = client.call(request).await {
            return Err((-1, format!("setup: ClearSession({id:?}) failed: {error}")));
        }
    }
    let steps = case
        .get("steps")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for (index, step) in steps.iter().enumerate() {
        run_step(client, step)
            .await
            .map_err(|e| (index as i64, e))?;
    }
    Ok(())
}

/// The outcome of one call: the response as proto3 JSON, or the error.
type Outcome = Result<Value, contextstore::Error>;

async fn send<R>(client: &Client, request: Value) -> Result<Outcome, String>
where
    R: Rpc + DeserializeOwned,
    R::Response: Serialize,
{
    let message: R = serde_json::from_value(request)
        .map_err(|e| format!("{}: bad request JSON: {e}", R::NAME))?;
    match client.call(message).await {
        Ok(response) => serde_json::to_value(&response)
            .map(Ok)
            .map_err(|e| format!("{}: cannot print the response: {e}", R::NAME)),
        Err(error) => Ok(Err(error)),
    }
}

async fn call(client: &Client, rpc: &str, request: Value) -> Result<Outcome, String> {
    match rpc {
        "CacheFile" => send::<pb::CacheFileRequest>(client, request).await,
        "GetFile" => send::<pb::GetFileRequest>(client, request).await,
        "GetMetadata" => send::<pb::GetMetadataRequest>(client, request).await,
        "CacheAnalysis" => send::<pb::CacheAnalysisRequest>(client, request).await,
        "GetAnalysis" => send::<pb::GetAnalysisRequest>(client, request).await,
        "InvalidateFile" => send::<pb::InvalidateFileRequest>(client, request).await,
        "InvalidateAnalysis" => send::<pb::InvalidateAnalysisRequest>(client, request).await,
        "ClearSession" => send::<pb::ClearSessionRequest>(client, request).await,
        "BatchGetFiles" => send::<pb::BatchGetFilesRequest>(client, request).await,
        "BatchCacheFiles" => send::<pb::BatchCacheFilesRequest>(client, request).await,
        "GetStats" => send::<pb::GetStatsRequest>(client, request).await,
        "GetServerInfo" => send::<pb::GetServerInfoRequest>(client, request).await,
        other => Err(format!("unknown rpc {other:?}")),
    }
}

async fn run_step(client: &Client, step: &Value) -> Result<(), String> {
    let rpc = step
        .get("rpc")
        .and_then(Value::as_str)
        .ok_or("step without \"rpc\"")?;
    let expect = step.get("expect").ok_or("step without \"expect\"")?;
    let expected_code = expect
        .get("code")
        .and_then(Value::as_str)
        .ok_or("expect without \"code\"")?;
    let request = expand(step.get("request").cloned().unwrap_or_else(|| json!({})))?;
    match call(client, rpc, request).await? {
        Err(error) => {
            let code = code_name(error.code());
            if code != expected_code {
                return Err(format!(
                    "{rpc}: expected {expected_code}, got {code}: {}",
                    error.message()
                ));
            }
            let fields = error
                .field_violations()
                .iter()
                .map(|v| v.subject.clone())
                .collect();
            let subjects = error
                .quota_violations()
                .iter()
                .map(|v| v.subject.clone())
                .collect();
            for (key, got) in [("field_violations", fields), ("quota_subjects", subjects)] {
                if let Some(wanted) = expect.get(key) {
                    let wanted =
                        string_set(wanted).ok_or(format!("{key}: not a list of strings"))?;
                    if wanted != got {
                        return Err(format!("{key}: expected {wanted:?}, got {got:?}"));
                    }
                }
            }
            Ok(())
        }
        Ok(printed) => {
            if expected_code != "OK" {
                return Err(format!("{rpc}: expected {expected_code}, got OK"));
            }
            let wanted = expand(expect.get("response").cloned().unwrap_or_else(|| json!({})))?;
            match matches(&wanted, Some(&printed), "response") {
                None => Ok(()),
                Some(problem) => Err(problem),
            }
        }
    }
}

fn string_set(value: &Value) -> Option<BTreeSet<String>> {
    value
        .as_array()?
        .iter()
        .map(|v| v.as_str().map(str::to_string))
        .collect()
}

/// Replaces the `$bytes` and `$string` generators, recursively.
fn expand(value: Value) -> Result<Value, String> {
    Ok(match value {
        Value::Object(map)
            if map.len() == 1 && (map.contains_key("$bytes") || map.contains_key("$string")) =>
        {
            let (kind, spec) = map.into_iter().next().unwrap_or_default();
            let fill = spec
                .get("fill")
                .and_then(Value::as_str)
                .ok_or(format!("{kind}: no fill"))?;
            let count = spec
                .get("count")
                .and_then(Value::as_u64)
                .ok_or(format!("{kind}: no count"))?;
            let text = fill.repeat(count as usize);
            if kind == "$bytes" {
                Value::String(BASE64.encode(text.as_bytes()))
            } else {
                Value::String(text)
            }
        }
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| Ok((k, expand(v)?)))
                .collect::<Result<Map<_, _>, String>>()?,
        ),
        Value::Array(items) => {
            Value::Array(items.into_iter().map(expand).collect::<Result<_, _>>()?)
        }
        other => other,
    })
}

/// A default value: absent, null, false, 0, "" or "0" (int64 zero printed as a string).
fn is_default(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) | Some(Value::Bool(false)) => true,
        Some(Value::Number(n)) => n.as_f64() == Some(0.0),
        Some(Value::String(s)) => s.is_empty() || s == "0",
        _ => false,
    }
}

/// An integer, from a JSON integer or a decimal string.
fn as_integer(value: &Value) -> Option<i128> {
    match value {
        Value::Number(n) => n
            .as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn scalar_equal(expected: &Value, actual: Option<&Value>) -> bool {
    if is_default(Some(expected)) && is_default(actual) {
        return true;
    }
    let Some(actual) = actual else { return false };
    if let (Some(a), Some(b)) = (as_integer(expected), as_integer(actual)) {
        return a == b;
    }
    expected == actual
}

fn show(value: Option<&Value>) -> String {
    value.map_or_else(|| "absent".to_string(), Value::to_string)
}

/// None when `actual` matches `expected` under the README's partial-match rules.
fn matches(expected: &Value, actual: Option<&Value>, at: &str) -> Option<String> {
    let actual = actual.filter(|v| !v.is_null());
    if let Value::Object(spec) = expected {
        if spec.len() == 1 {
            if spec.contains_key("$present") {
                let empty = matches!(actual, Some(Value::Object(m)) if m.is_empty())
                    || matches!(actual, Some(Value::Array(a)) if a.is_empty());
                return (is_default(actual) || empty).then(|| format!("{at}: missing"));
            }
            if spec.contains_key("$absent") {
                return actual.map(|v| format!("{at}: expected absent, got {v}"));
            }
        }
        let empty = Map::new();
        let fields = match actual {
            None => &empty,
            Some(Value::Object(fields)) => fields,
            Some(other) => return Some(format!("{at}: expected an object, got {other}")),
        };
        return spec
            .iter()
            .find_map(|(key, value)| matches(value, fields.get(key), &format!("{at}.{key}")));
    }
    if let Value::Array(items) = expected {
        let got: &[Value] = match actual {
            Some(Value::Array(got)) => got,
            _ => &[],
        };
        if got.len() != items.len() {
            return Some(format!(
                "{at}: expected {} items, got {}",
                items.len(),
                got.len()
            ));
        }
        return items
            .iter()
            .zip(got)
            .enumerate()
            .find_map(|(i, (e, a))| matches(e, Some(a), &format!("{at}[{i}]")));
    }
    (!scalar_equal(expected, actual))
        .then(|| format!("{at}: expected {expected}, got {}", show(actual)))
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

    fn ok(expected: Value, actual: Value) -> bool {
        matches(&expected, Some(&actual), "r").is_none()
    }

    #[test]
    fn partial_matching_follows_the_readme() {
        assert!(ok(json!({"a": "5"}), json!({"a": 5, "b": 1})));
        assert!(ok(json!({"a": 5}), json!({"a": "5"})));
        assert!(!ok(json!({"a": "5"}), json!({"a": "6"})));
        assert!(ok(json!({"a": false, "b": 0, "c": ""}), json!({})));
        assert!(ok(json!({"a": "0"}), json!({"a": null})));
        assert!(ok(json!({"a": {"$present": true}}), json!({"a": "x"})));
        assert!(!ok(json!({"a": {"$present": true}}), json!({"a": "0"})));
        assert!(!ok(json!({"a": {"$present": true}}), json!({"a": {}})));
        assert!(ok(json!({"a": {"$absent": true}}), json!({"a": null})));
        assert!(!ok(json!({"a": {"$absent": true}}), json!({"a": ""})));
        assert!(ok(
            json!({"l": [{"x": 1}, {}]}),
            json!({"l": [{"x": "1", "y": 2}, {"z": 3}]})
        ));
        assert!(!ok(json!({"l": [{}]}), json!({"l": [{}, {}]})));
        assert!(ok(json!({"l": []}), json!({})));
        assert!(!ok(json!({"m": {"k": "v"}}), json!({"m": "v"})));
        assert!(ok(
            json!({"m": {"k": {"$absent": true}}}),
            json!({"m": {"j": "v"}})
        ));
    }

    #[test]
    fn generators_expand() {
        let value = json!({"a": {"$bytes": {"fill": "a", "count": 3}},
                           "b": [{"$string": {"fill": "p", "count": 2}}]});
        assert_eq!(expand(value).unwrap(), json!({"a": "YWFh", "b": ["pp"]}));
    }

    #[test]
    fn arguments() {
        let args = |a: &[&str]| parse_args(a.iter().map(|s| s.to_string()));
        assert_eq!(
            args(&["--target", "h:1", "--cases=c.json"]).unwrap(),
            ("h:1".to_string(), "c.json".to_string())
        );
        assert!(args(&["--target", "h:1"]).is_err());
        assert!(args(&["--bogus", "x"]).is_err());
    }
}
