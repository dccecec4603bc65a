//! The runner's command line and its clients: one per `--target` sending the
//! default token, and one per (target, identity) for the steps `"as"` it.

use std::collections::BTreeMap;

use contextstore::{Client, Tls};

use crate::DEADLINE;

/// The command line.
#[derive(Debug, Default, PartialEq)]
pub struct Options {
    pub targets: Vec<String>,
    pub cases: String,
    /// TLS for every client: set by any `--tls-*` flag.
    pub tls: Option<Tls>,
    /// `--token`, the default clients'; `None` leaves `$CONTEXTSTORE_TOKEN`.
    pub token: Option<String>,
    /// `--identity NAME=TOKEN`, repeatable.
    pub identities: BTreeMap<String, String>,
}

const VALUED: &[&str] = &[
    "--target",
    "--cases",
    "--tls-ca",
    "--tls-cert",
    "--tls-key",
    "--token",
    "--identity",
];

/// Parses the arguments after the program's name (`--name value` or
/// `--name=value`).
pub fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options = Options::default();
    let mut cases = None;
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => {
                (name.to_string(), Some(value.to_string()))
            }
            _ => (arg, None),
        };
        if !VALUED.contains(&name.as_str()) {
            return Err(format!("unknown argument {name:?}"));
        }
        let value = match inline {
            Some(value) => value,
            None => args.next().ok_or(format!("{name} needs a value"))?,
        };
        let tls = || options.tls.clone().unwrap_or_default();
        match name.as_str() {
            "--target" => options.targets.push(value),
            "--cases" => cases = Some(value),
            "--tls-ca" => options.tls = Some(tls().ca(value)),
            "--tls-cert" => {
                options.tls = Some(Tls {
                    cert: Some(value.into()),
                    ..tls()
                })
            }
            "--tls-key" => {
                options.tls = Some(Tls {
                    key: Some(value.into()),
                    ..tls()
                })
            }
            "--token" => options.token = Some(value),
            _ => identity(&mut options.identities, &value)?,
        }
    }
    if options.targets.is_empty() {
        return Err("--target is required".into());
    }
    options.cases = cases.ok_or("--cases is required")?;
    Ok(options)
}

fn identity(identities: &mut BTreeMap<String, String>, value: &str) -> Result<(), String> {
    match value.split_once('=') {
        Some((name, token)) if !name.is_empty() && !token.is_empty() => {
            if identities.insert(name.into(), token.into()).is_some() {
                return Err(format!("--identity {name:?} given twice"));
            }
            Ok(())
        }
        _ => Err(format!("--identity {value:?}: want NAME=TOKEN")),
    }
}

/// The clients, made on first use and kept.
pub struct Pool {
    defaults: Vec<Client>,
    identities: BTreeMap<String, String>,
    named: BTreeMap<(usize, String), Client>,
}

impl Pool {
    /// The default clients (lazy: an unreachable server gives each case its
    /// setup error); bad TLS settings or tokens fail here.
    pub fn new(options: &Options) -> Result<Pool, String> {
        let mut defaults = Vec::new();
        for target in &options.targets {
            let client = match &options.tls {
                Some(tls) => Client::connect_lazy_tls(target, tls),
                None => Client::connect_lazy(target),
            };
            let mut client = client.map_err(|e| e.to_string())?.with_timeout(DEADLINE);
            if let Some(token) = &options.token {
                client = client
                    .with_token(token)
                    .map_err(|e| format!("--token: {e}"))?;
            }
            defaults.push(client);
        }
        Ok(Pool {
            defaults,
            identities: options.identities.clone(),
            named: BTreeMap::new(),
        })
    }

    /// Target `k`'s default client.
    pub fn default(&self, k: usize) -> &Client {
        &self.defaults[k]
    }

    pub fn targets(&self) -> usize {
        self.defaults.len()
    }

    /// Target `k`'s client for `identity` (`None`: the default one). An
    /// identity's client shares the default client's connection, sending its
    /// own token.
    pub fn client(&mut self, k: usize, identity: Option<&str>) -> Result<Client, String> {
        let Some(name) = identity else {
            return Ok(self.default(k).clone());
        };
        let key = (k, name.to_string());
        if let Some(client) = self.named.get(&key) {
            return Ok(client.clone());
        }
        let token = self.identities.get(name).ok_or_else(|| {
            format!("unknown identity {name:?} (give it with --identity {name}=TOKEN)")
        })?;
        let client = self.defaults[k]
            .with_token(token)
            .map_err(|e| format!("identity {name:?}: {e}"))?;
        self.named.insert(key, client.clone());
        Ok(client)
    }

    /// How many identity clients were made.
    #[cfg(test)]
    pub fn named(&self) -> usize {
        self.named.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Result<Options, String> {
        parse_args(a.iter().map(|s| s.to_string()))
    }

    #[test]
    fn tls_token_and_identities() {
        let options = args(&[
            "--target",
            "h:1",
            "--cases",
            "c",
            "--tls-ca=ca.pem",
            "--tls-cert",
            "c.pem",
            "--tls-key",
            "k.pem",
            "--token",
            "t",
            "--identity",
            "reader=r",
            "--identity=w=x=y",
        ])
        .unwrap();
        assert_eq!(
            options.tls,
            Some(Tls::default().ca("ca.pem").identity("c.pem", "k.pem"))
        );
        assert_eq!(options.token.as_deref(), Some("t"));
        assert_eq!(options.identities["reader"], "r");
        assert_eq!(options.identities["w"], "x=y");
        // No --tls-* flag: plaintext; no --token: the environment's.
        let plain = args(&["--target", "h:1", "--cases", "c"]).unwrap();
        assert_eq!((plain.tls, plain.token), (None, None));
        for bad in ["reader", "=t", "empty=", "reader=r"] {
            let error = args(&[
                "--target",
                "h:1",
                "--cases",
                "c",
                "--identity",
                "reader=r",
                "--identity",
                bad,
            ]);
            assert!(error.is_err(), "--identity {bad:?}");
        }
    }

    #[test]
    fn identity_clients_are_made_once_per_target_and_an_unknown_one_is_an_error() {
        let options = args(&[
            "--target",
            "127.0.0.1:1",
            "--target",
            "127.0.0.1:2",
            "--cases",
            "c",
            "--identity",
            "reader=r",
        ])
        .unwrap();
        // Lazy channels need a runtime, not a server.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _entered = runtime.enter();
        let mut pool = Pool::new(&options).unwrap();
        for k in [0, 1, 0, 1] {
            pool.client(k, Some("reader")).unwrap();
            pool.client(k, None).unwrap();
        }
        assert_eq!(pool.named(), 2);
        let error = pool.client(0, Some("stranger")).unwrap_err();
        assert!(error.contains("unknown identity \"stranger\""), "{error}");
    }

    #[test]
    fn bad_tls_files_stop_the_run() {
        let options = args(&["--target", "h:1", "--cases", "c", "--tls-cert", "c.pem"]).unwrap();
        let error = Pool::new(&options).err().unwrap();
        assert!(error.contains("both or neither"), "{error}");
    }
}
