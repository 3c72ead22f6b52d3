//! The browser side of the browser tests: finding Chromium and chromedriver (or skipping
//! loudly), a WebDriver session through fantoccini, and small page probes.

use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use lv_tests::harness::Proc;
use serde_json::{Value, json};

/// Set to `1` to make a missing browser a failure rather than a skip.
const REQUIRE_BROWSER: &str = "LV_REQUIRE_BROWSER";
/// The longest any one wait in these tests may take.
pub const WAIT: Duration = Duration::from_secs(60);

/// `program` on the PATH, if any.
fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// Chromium and chromedriver, or `None` after a loud skip notice (a panic when
/// `LV_REQUIRE_BROWSER=1`).
pub fn browser_or_skip(test: &str) -> Option<(PathBuf, PathBuf)> {
    let chromium = which("chromium").or_else(|| which("chromium-browser"));
    let driver = which("chromedriver");
    if let (Some(chromium), Some(driver)) = (chromium, driver) {
        return Some((chromium, driver));
    }
    let message = format!(
        "browser test {test} SKIPPED: chromium and chromedriver are not both on the PATH \
         (Debian: apt-get install chromium chromium-driver)"
    );
    assert!(
        std::env::var(REQUIRE_BROWSER).as_deref() != Ok("1"),
        "{message}, and {REQUIRE_BROWSER}=1 requires them"
    );
    // Straight to stderr: the test harness captures eprintln! of passing tests.
    let bar = "*".repeat(78);
    let _ = writeln!(std::io::stderr(), "\n{bar}\n*** {message} ***\n{bar}\n");
    None
}

/// A free loopback port (chromedriver cannot be handed a bound socket).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A chromedriver process and a headless Chromium session on it. Dropping it (also when a
/// test panics before closing the session) ends the Chromium processes of its profile.
pub struct Browser {
    /// The WebDriver session.
    pub client: Client,
    _driver: Proc,
    profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Chromium outlives a killed chromedriver: find its processes by their profile folder.
        let flag = format!("--user-data-dir={}", self.profile.path().display());
        let Ok(procs) = std::fs::read_dir("/proc") else {
            return;
        };
        for entry in procs.flatten() {
            let pid = entry.file_name().to_string_lossy().into_owned();
            if !pid.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
                continue;
            };
            if cmdline.split(|b| *b == 0).any(|arg| arg == flag.as_bytes()) {
                let _ = std::process::Command::new("kill").arg(&pid).status();
            }
        }
    }
}

impl Browser {
    /// Starts chromedriver on a free port and opens a 1600x900 headless Chromium window.
    pub async fn start(chromium: &Path, chromedriver: &Path) -> Browser {
        let port = free_port();
        let driver = Proc::start(
            chromedriver,
            &[format!("--port={port}"), "--log-level=WARNING".to_owned()],
            "chromedriver",
        );
        let profile = tempfile::tempdir().expect("browser profile dir");
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--window-size=1600,900",
            &format!("--user-data-dir={}", profile.path().display()),
        ];
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": chromium, "args": args },
        });
        let Value::Object(caps) = caps else {
            unreachable!("a JSON object literal")
        };
        let url = format!("http://127.0.0.1:{port}");
        let mut last = None;
        for _ in 0..100 {
            match ClientBuilder::new(HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(client) => {
                    return Browser {
                        client,
                        _driver: driver,
                        profile,
                    };
                }
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "no WebDriver session on {url}: {last:?}; chromedriver said:\n{}",
            driver.stderr.text()
        );
    }

    /// Ends the WebDriver session (Chromium exits with it).
    pub async fn close(&self) {
        self.client
            .clone()
            .close()
            .await
            .expect("close the browser");
    }

    /// Runs `script` (a function body; `arguments` are `args`) in the page.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Polls `script` every 200 ms until it returns something truthy, at most [`WAIT`].
    pub async fn wait_js(&self, what: &str, script: &str) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let value = self.js(script, vec![]).await;
            let truthy = match &value {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
                Value::String(s) => !s.is_empty(),
                _ => true,
            };
            if truthy {
                return value;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}; the page shows:\n{}",
                self.js("return document.body.innerText", vec![]).await
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Clicks the element `css`.
    pub async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("find {css}: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Replaces the value of the input `css` with `text`.
    pub async fn fill(&self, css: &str, text: &str) {
        let input = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("find {css}: {e}"));
        input
            .clear()
            .await
            .unwrap_or_else(|e| panic!("clear {css}: {e}"));
        input
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    /// Saves a screenshot of the window as `target/browser/NAME.png` and returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("screenshot");
        let dir = lv_tests::workspace_root().join("target/browser");
        std::fs::create_dir_all(&dir).expect("create target/browser");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }
}

/// Counts the pixels of the canvas inside `#box_id` within 40 of the colour `css_var`
/// in every channel: how much of a series' line the chart has drawn.
pub const SERIES_PIXELS: &str = r#"
const [boxId, cssVar] = arguments;
const canvas = document.querySelector('#' + boxId + ' canvas');
if (!canvas || !canvas.width) return 0;
const probe = document.createElement('div');
probe.style.color = getComputedStyle(document.documentElement).getPropertyValue(cssVar);
document.body.append(probe);
const [r, g, b] = getComputedStyle(probe).color.match(/\d+/g).map(Number);
probe.remove();
const px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
let n = 0;
for (let i = 0; i < px.length; i += 4) {
  if (px[i + 3] > 200 && Math.abs(px[i] - r) < 40 && Math.abs(px[i + 1] - g) < 40
      && Math.abs(px[i + 2] - b) < 40) n++;
}
return n;
"#;

/// A JS expression: the statistics rows shown, `[[key, requests], ...]`.
pub const STATS_ROWS: &str = "[...document.querySelectorAll('#stats-body tr[data-key]')]\
    .map(tr => [tr.dataset.key, Number(tr.children[3].textContent.replace(/,/g, ''))])";
