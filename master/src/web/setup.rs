//! Web settings from the configuration: whether to serve, where, with which protection, and
//! what the start form offers (user classes, tags, profiles).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::config::{ConfigError, RunParams, Settings, WebConfig, profile, run};

use super::auth::{self, AuthError, Credentials};
use super::cors::{CorsError, CorsPolicy};

use super::state::WebSettings;
use super::tls;
use crate::live::snapshot::{Catalog, ProfileDefaults};

/// Locust's web port.
pub const DEFAULT_PORT: u16 = 8089;

/// Profiles offered by the start form, read from `configs/<name>.conf`.
pub const PROFILES: [&str; 4] = ["light", "medium", "heavy", "stress"];

/// Where and how to serve the web UI.
#[derive(Debug, Clone)]
pub struct WebOptions {
    /// `host:port` to bind.
    pub bind: String,
    /// Protection and TLS.
    pub settings: WebSettings,
    /// Start a run at once (UI mode).
    pub autostart: bool,
    /// Exit this long after a run ends (UI mode).
    pub autoquit: Option<Duration>,
}

/// Why the web settings are refused (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// Bad credentials or a public bind without them.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The certificate or key is unusable.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// A `--web-cors` value is not an origin.
    #[error(transparent)]
    Cors(#[from] CorsError),
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// The web options of `web`; `None` for a headless run without `--web-port`. A headless
/// run's API is read-only.
pub fn options(web: &WebConfig) -> Result<Option<WebOptions>, SetupError> {
    if web.headless && web.port.is_none() {
        return Ok(None);
    }
    let auth = web
        .auth
        .as_deref()
        .filter(|a| !a.is_empty())
        .map(Credentials::parse)
        .transpose()?;
    auth::check_bind(&web.host, auth.as_ref(), web.insecure)?;
    let tls = match &web.tls {
        Some((cert, key)) => Some(tls::server_config(&read(cert)?, &read(key)?)?),
        None => None,
    };
    let host = web.host.trim_matches(|c| c == '[' || c == ']');
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    Ok(Some(WebOptions {
        bind: format!("{host}:{}", web.port.unwrap_or(DEFAULT_PORT)),
        settings: WebSettings {
            auth,
            readonly: web.readonly || web.headless,
            tls,
            cors: CorsPolicy::parse(&web.cors)?.map(Arc::new),
        },
        autostart: web.autostart,
        autoquit: web.autoquit,
    }))
}

fn read(path: &Path) -> Result<Vec<u8>, SetupError> {
    std::fs::read(path).map_err(|source| SetupError::Read {
        path: path.to_owned(),
        source,
    })
}

/// The start form's choices: every class and tag of the scenarios (without the flags'
/// filters) and the profiles found beside `--config` (or in `configs/`).
pub fn catalog(settings: &Settings, readonly: bool) -> Result<Catalog, ConfigError> {
    let all = RunParams {
        classes: Vec::new(),
        tags: Vec::new(),
        exclude_tags: Vec::new(),
        ..settings.flags.clone()
    };
    let plan = run::resolve_plan(settings, &all)?.plan;
    let mut tags: Vec<String> = plan
        .classes
        .iter()
        .flat_map(|c| c.tasks.iter().flat_map(|t| t.tags.iter().cloned()))
        .collect();
    tags.sort();
    tags.dedup();
    Ok(Catalog {
        readonly,
        profiles: profiles(&settings.web.profiles_dir),
        user_classes: plan.classes.iter().map(|c| c.name.clone()).collect(),
        tags,
    })
}

/// The profiles of [`PROFILES`] that exist in `dir` and parse.
pub fn profiles(dir: &Path) -> BTreeMap<String, ProfileDefaults> {
    let mut out = BTreeMap::new();
    for name in PROFILES {
        let path = dir.join(format!("{name}.conf"));
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let Ok(entries) = profile::parse(&path, &text) else {
            continue;
        };
        out.insert(name.to_owned(), profile_defaults(&entries));
    }
    out
}

fn profile_defaults(entries: &[profile::Entry]) -> ProfileDefaults {
    let mut defaults = ProfileDefaults {
        users: None,
        spawn_rate: None,
        run_time: None,
        tags: Vec::new(),
        exclude_tags: Vec::new(),
    };
    let list = |v: &str| -> Vec<String> {
        v.split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect()
    };
    for entry in entries {
        match entry.key.name {
            "users" => defaults.users = entry.value.parse().ok(),
            "spawn-rate" => defaults.spawn_rate = entry.value.parse().ok(),
            "run-time" => defaults.run_time = Some(entry.value.clone()),
            "tags" => defaults.tags = list(&entry.value),
            "exclude-tags" => defaults.exclude_tags = list(&entry.value),
            _ => {}
        }
    }
    defaults
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str], env: &[(&str, &str)]) -> WebConfig {
        let argv = std::iter::once("lv-master").chain(words.iter().copied());
        let args = crate::config::cli::load_args(argv, |name| {
            env.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        })
        .expect("valid flags");
        WebConfig::from_args(&args)
    }

    #[test]
    fn options_follow_the_flags_and_lv_web_auth() {
        let ui = options(&args(&[], &[])).expect("valid").expect("serves");
        assert_eq!(ui.bind, "127.0.0.1:8089");
        assert!(!ui.settings.readonly && ui.settings.auth.is_none() && ui.settings.tls.is_none());
        assert!(
            options(&args(&["--headless"], &[]))
                .expect("valid")
                .is_none()
        );
        let headless = options(&args(&["--headless", "--web-port=9000"], &[]))
            .expect("valid")
            .expect("serves");
        assert!(
            headless.settings.readonly,
            "a headless run's API is read-only"
        );
        assert_eq!(headless.bind, "127.0.0.1:9000");
        let public = args(&["--web-host=0.0.0.0"], &[]);
        assert!(matches!(
            options(&public),
            Err(SetupError::Auth(AuthError::Unprotected(_)))
        ));
        let with_env = args(&["--web-host=0.0.0.0"], &[("LV_WEB_AUTH", "ann:pw")]);
        let secured = options(&with_env).expect("valid").expect("serves");
        assert!(secured.settings.auth.is_some());
        let insecure = args(&["--web-host=::", "--insecure"], &[]);
        assert_eq!(
            options(&insecure).expect("valid").expect("serves").bind,
            "[::]:8089"
        );
        let bad = args(&["--web-auth=nopassword"], &[]);
        assert!(matches!(
            options(&bad),
            Err(SetupError::Auth(AuthError::Malformed))
        ));
        let missing = args(
            &["--web-tls-cert=/no/such.pem", "--web-tls-key=/no/such.key"],
            &[],
        );
        assert!(matches!(options(&missing), Err(SetupError::Read { .. })));
    }

    #[test]
    fn web_cors_is_off_by_default_repeatable_and_checked() {
        let off = options(&args(&[], &[])).expect("valid").expect("serves");
        assert!(off.settings.cors.is_none());
        let words = [
            "--web-cors",
            "http://a.test,http://b.test",
            "--web-cors=https://c.test",
        ];
        let on = options(&args(&words, &[])).expect("valid").expect("serves");
        let policy = on.settings.cors.expect("CORS on");
        for origin in ["http://a.test", "http://b.test", "https://c.test"] {
            assert!(policy.allows(origin), "{origin}");
        }
        assert!(!policy.allows("http://d.test"));
        let from_env = args(&[], &[("LV_WEB_CORS", "http://e.test")]);
        let policy = options(&from_env).expect("valid").expect("serves");
        assert!(policy.settings.cors.expect("on").allows("http://e.test"));
        let bad = options(&args(&["--web-cors=e.test/x"], &[]));
        let Err(SetupError::Cors(err)) = bad else {
            panic!("a bad origin is refused: {bad:?}");
        };
        assert!(
            err.to_string().starts_with("--web-cors e.test/x: "),
            "{err}"
        );
    }

    #[test]
    fn the_catalog_offers_every_class_and_tag_whatever_the_flags_pick() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let scenarios = format!("--scenarios={root}/configs/scenarios");
        let fleet = format!("--fleet={root}/configs/fleet.toml");
        let settings = |extra: &[&str]| {
            let argv = ["lv-master", scenarios.as_str(), fleet.as_str(), "--no-slo"];
            let argv = argv.iter().chain(extra).copied();
            let args = crate::config::cli::load_args(argv, |_| None).expect("valid flags");
            Settings::from_args(&args).expect("valid settings")
        };
        let all = catalog(&settings(&[]), false).expect("catalog");
        assert!(all.user_classes.len() > 1, "{:?}", all.user_classes);
        assert!(!all.tags.is_empty());
        let one = &all.user_classes[0];
        let filtered = catalog(&settings(&[one.as_str(), "--tags=health"]), true).expect("catalog");
        assert_eq!(filtered.user_classes, all.user_classes);
        assert_eq!(filtered.tags, all.tags);
        assert!(filtered.readonly);
    }

    #[test]
    fn profiles_come_from_the_conf_files() {
        let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../configs"));
        let profiles = profiles(dir);
        let light = profiles.get("light").expect("light.conf");
        assert_eq!(light.users, Some(10));
        assert_eq!(light.spawn_rate, Some(1.0));
        assert_eq!(light.run_time.as_deref(), Some("5m"));
        assert_eq!(profiles.len(), 4);
    }
}
