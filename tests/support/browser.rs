//! Real-browser harness for the admin UI (issue 5): starts Debian's `chromedriver` on a free
//! loopback port, drives headless Chromium over W3C WebDriver (fantoccini), saves a
//! screenshot of every page a test looks at under `tests/output/screenshots/<test>/`, and
//! runs axe-core (npm package, installed by `scripts/test` into `tests/browser/node_modules`)
//! in the page, failing on serious or critical violations (WCAG 2.1 AA, as the issue asks).
//!
//! Every process started here is stopped by its process group id when the guard drops, so a
//! panicking test leaves no Chromium behind. Every wait is bounded.

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Where Debian's packages put the browser and its driver.
pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// The longest any single browser step may take; the shared 2-core machine is slow, but a
/// step that needs longer is a hang, not a slow page.
pub const STEP: Duration = Duration::from_secs(30);

/// Runs `fut`, failing the test with `what` if it errors or takes longer than [`STEP`].
pub async fn step<T, E: std::fmt::Debug>(
    what: &str,
    fut: impl std::future::Future<Output = Result<T, E>>,
) -> T {
    match tokio::time::timeout(STEP, fut).await {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => panic!("browser step `{what}` failed: {e:?}"),
        Err(_) => panic!("browser step `{what}` took longer than {STEP:?}"),
    }
}

/// Root of the test output (git-ignored).
pub fn output_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/output")
}

/// `chromedriver` running on a loopback port, in a process group of its own so that the
/// Chromium it starts is stopped with it.
#[derive(Debug)]
pub struct Chromedriver {
    child: Child,
    pub port: u16,
}

impl Chromedriver {
    pub async fn start() -> Chromedriver {
        assert!(
            Path::new(CHROMEDRIVER).exists() && Path::new(CHROMIUM).exists(),
            "{CHROMIUM} and {CHROMEDRIVER} are needed (scripts/test installs Debian's \
             chromium and chromium-driver)"
        );
        let log_dir = output_dir().join("chromedriver");
        std::fs::create_dir_all(&log_dir).expect("chromedriver log dir");
        // Free at the moment of asking; chromedriver takes it right after.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let log = log_dir.join(format!("{port}.log"));
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("chromedriver starts");
        let driver = Chromedriver { child, port };
        // Ready when its port accepts connections.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "chromedriver did not listen on {port} within 20 s (log: {})",
                log.display()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        driver
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        // The child was made leader of its own process group (process_group(0)), so its id
        // is the group id: this ends chromedriver and every Chromium process it started,
        // and nothing else.
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: kill(2) with a negative pid signals that process group; no memory
            // is touched.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
        let _ = self.child.wait();
    }
}

/// One axe-core finding.
#[derive(Debug, Clone)]
pub struct Violation {
    pub id: String,
    pub impact: String,
    pub help: String,
    pub targets: Vec<String>,
}

/// A headless Chromium session for one test.
pub struct Browser {
    pub client: Client,
    /// Test name: screenshots go under `tests/output/screenshots/<test>/`.
    pub test: String,
    pub downloads: PathBuf,
    // Dropped after the client: the profile directory outlives the browser.
    _profile: tempfile::TempDir,
    _downloads: tempfile::TempDir,
    driver: Chromedriver,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser")
            .field("test", &self.test)
            .field("driver", &self.driver)
            .finish()
    }
}

impl Browser {
    /// Starts chromedriver and a fresh headless Chromium (new empty profile) for `test`.
    /// `lang` is sent as Accept-Language (the UI speaks bokmål unless the browser asks
    /// for English).
    pub async fn start(test: &str, lang: &str) -> Browser {
        let driver = Chromedriver::start().await;
        let profile = tempfile::tempdir().expect("profile dir");
        let downloads = tempfile::tempdir().expect("downloads dir");
        let args = vec![
            "--headless".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            // Without these Chromium calls home at start; the network here is closed.
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-dev-shm-usage".into(),
            "--window-size=1280,1000".into(),
            format!("--lang={lang}"),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": args,
                "prefs": {
                    "intl.accept_languages": lang,
                    "download.default_directory": downloads.path().display().to_string(),
                    "download.prompt_for_download": false,
                    "download.directory_upgrade": true,
                    "safebrowsing.enabled": false,
                },
            }),
        );
        let url = format!("http://127.0.0.1:{}", driver.port);
        let client = step(
            "start chromium session",
            ClientBuilder::new(HttpConnector::new())
                .capabilities(caps)
                .connect(&url),
        )
        .await;
        let downloads_path = downloads.path().to_path_buf();
        Browser {
            client,
            test: test.to_string(),
            downloads: downloads_path,
            _profile: profile,
            _downloads: downloads,
            driver,
        }
    }

    /// Navigates to `url` and waits for the document to finish loading.
    pub async fn goto(&self, url: &str) {
        step(&format!("goto {url}"), self.client.goto(url)).await;
    }

    pub async fn current_path(&self) -> String {
        let url = step("current url", self.client.current_url()).await;
        url.path().to_string()
    }

    /// Saves a PNG of the viewport as `tests/output/screenshots/<test>/<page>.png`.
    pub async fn screenshot(&self, page: &str) -> PathBuf {
        // WebDriver captures the viewport only: grow the window to the page's height (up
        // to a bound) so that a person sees the whole page, then put it back.
        let height = step(
            "page height",
            self.client.execute(
                "return Math.max(document.body ? document.body.scrollHeight : 0, \
                 document.documentElement.scrollHeight);",
                vec![],
            ),
        )
        .await
        .as_u64()
        .unwrap_or(1000)
        .clamp(600, 8000);
        let tall = u32::try_from(height).unwrap_or(8000);
        step("grow window", self.client.set_window_size(1280, tall)).await;
        let png = step(&format!("screenshot {page}"), self.client.screenshot()).await;
        step("restore window", self.client.set_window_size(1280, 1000)).await;
        let dir = output_dir().join("screenshots").join(&self.test);
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        let path = dir.join(format!("{page}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }

    /// Runs axe-core (WCAG 2.0/2.1 A and AA rules) on the current page; returns every
    /// violation.
    pub async fn axe(&self) -> Vec<Violation> {
        let source = axe_source();
        // Injected through WebDriver (DevTools evaluation), which the page's CSP does not
        // govern; the page itself still runs no inline script.
        step(
            "inject axe-core",
            self.client
                .execute(&format!("{source}\nreturn typeof axe;"), vec![]),
        )
        .await;
        // WebDriver's Execute Script waits for a returned promise (W3C WebDriver §13.2.1).
        let raw = step(
            "axe.run",
            self.client.execute(
                "return axe.run(document, {runOnly: {type: 'tag', values: \
                 ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}, resultTypes: ['violations']})\
                 .then(r => r.violations.map(v => ({id: v.id, impact: v.impact || '', \
                 help: v.help, targets: v.nodes.map(n => n.target.join(' '))})));",
                vec![],
            ),
        )
        .await;
        parse_violations(&raw)
    }

    /// Fails the test if axe-core finds a serious or critical violation on the current
    /// page; writes the full list to `tests/output/axe/<test>/<page>.txt` either way.
    pub async fn assert_accessible(&self, page: &str) -> Vec<Violation> {
        let all = self.axe().await;
        let dir = output_dir().join("axe").join(&self.test);
        std::fs::create_dir_all(&dir).expect("axe dir");
        let report: String = all
            .iter()
            .map(|v| format!("{} [{}] {} at {:?}\n", v.id, v.impact, v.help, v.targets))
            .collect();
        std::fs::write(dir.join(format!("{page}.txt")), &report).expect("axe report");
        let bad: Vec<&Violation> = all
            .iter()
            .filter(|v| v.impact == "serious" || v.impact == "critical")
            .collect();
        assert!(
            bad.is_empty(),
            "axe-core on page `{page}` of {}: serious/critical violations:\n{bad:#?}",
            self.test
        );
        all
    }

    /// Goes to `url`, saves its screenshot as `page` and checks it with axe-core.
    pub async fn visit(&self, url: &str, page: &str) {
        self.goto(url).await;
        self.look(page).await;
    }

    /// Screenshot and axe check of what is on screen now.
    pub async fn look(&self, page: &str) {
        self.screenshot(page).await;
        self.assert_accessible(page).await;
    }

    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        step(
            &format!("find {css}"),
            self.client
                .wait()
                .at_most(STEP)
                .for_element(Locator::Css(css)),
        )
        .await
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        step(&format!("clear {css}"), el.clear()).await;
        step(&format!("type into {css}"), el.send_keys(text)).await;
    }

    pub async fn click(&self, css: &str) {
        let el = self.find(css).await;
        step(&format!("click {css}"), el.click()).await;
    }

    /// Text of the whole page body.
    pub async fn body_text(&self) -> String {
        let el = self.find("body").await;
        step("body text", el.text()).await
    }

    /// Waits up to `within` for `cond(body text)` to hold; returns the last body text.
    pub async fn wait_for_text(
        &self,
        within: Duration,
        mut cond: impl FnMut(&str) -> bool,
    ) -> (bool, String) {
        let end = tokio::time::Instant::now() + within;
        loop {
            let text = self.body_text().await;
            if cond(&text) {
                return (true, text);
            }
            if tokio::time::Instant::now() >= end {
                return (false, text);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Runs `script` in the page and returns its value.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        step("execute script", self.client.execute(script, args)).await
    }

    /// Waits up to `within` for a finished download whose name ends with `suffix`.
    pub async fn wait_for_download(&self, suffix: &str, within: Duration) -> PathBuf {
        let end = tokio::time::Instant::now() + within;
        loop {
            if let Ok(rd) = std::fs::read_dir(&self.downloads) {
                for entry in rd.flatten() {
                    let p = entry.path();
                    let name = p
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    // Chromium writes `*.crdownload` until the file is complete.
                    if name.ends_with(suffix) && !name.ends_with(".crdownload") {
                        return p;
                    }
                }
            }
            assert!(
                tokio::time::Instant::now() < end,
                "no *{suffix} download in {} within {within:?}",
                self.downloads.display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Ends the WebDriver session (Chromium quits) and then chromedriver.
    pub async fn close(self) {
        let _ = tokio::time::timeout(Duration::from_secs(10), self.client.close()).await;
        // `driver` drops here: the process group is killed even if the close hung.
    }
}

fn axe_source() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/browser/node_modules/axe-core/axe.min.js");
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (scripts/test installs axe-core with npm into tests/browser)",
            path.display()
        )
    })
}

fn parse_violations(raw: &Value) -> Vec<Violation> {
    let list = raw.as_array().cloned().unwrap_or_default();
    list.iter()
        .map(|v| Violation {
            id: v["id"].as_str().unwrap_or_default().to_string(),
            impact: v["impact"].as_str().unwrap_or_default().to_string(),
            help: v["help"].as_str().unwrap_or_default().to_string(),
            targets: v["targets"]
                .as_array()
                .map(|t| {
                    t.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect()
}

/// TOTP (RFC 6238 §4, HMAC-SHA-1, 30 s steps, 6 digits) computed independently of the
/// admin UI's own implementation, from the base32 secret (RFC 4648 §6) the page shows.
pub fn totp_code(secret_b32: &str, unix_seconds: u64) -> String {
    use hmac::{Hmac, Mac};
    let key = base32_decode(secret_b32).expect("secret shown is base32");
    let counter = unix_seconds / 30;
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(&key).expect("any key length");
    mac.update(&counter.to_be_bytes());
    let h = mac.finalize().into_bytes();
    // Dynamic truncation, RFC 4226 §5.3.
    let off = usize::from(h[19] & 0x0f);
    let bin = (u32::from(h[off]) & 0x7f) << 24
        | u32::from(h[off + 1]) << 16
        | u32::from(h[off + 2]) << 8
        | u32::from(h[off + 3]);
    format!("{:06}", bin % 1_000_000)
}

pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// RFC 4648 base32 (no padding needed; spaces and case ignored, as authenticator apps do).
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf: u32 = 0;
    let mut bits = 0;
    for c in text.chars().filter(|c| !c.is_whitespace() && *c != '=') {
        let v = match c.to_ascii_uppercase() {
            c @ 'A'..='Z' => c as u32 - 'A' as u32,
            c @ '2'..='7' => c as u32 - '2' as u32 + 26,
            _ => return None,
        };
        buf = (buf << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
            buf &= (1 << bits) - 1;
        }
    }
    Some(out)
}

// ---------------------------------------------------------------------------------------
// The admin UI under test, in-process on 127.0.0.1:0.

use admin_ui::{AppState, LiveCall, LiveEvent, LiveRegistration, LiveView};
use std::sync::Arc;
use tokio::sync::broadcast;

/// A LiveView for pages that need no PBX: nothing registered, no calls, no trunks; tests
/// publish events through `events`.
#[derive(Debug)]
pub struct FakeLive {
    pub events: broadcast::Sender<LiveEvent>,
}

impl Default for FakeLive {
    fn default() -> Self {
        FakeLive {
            events: broadcast::channel(64).0,
        }
    }
}

impl LiveView for FakeLive {
    fn registrations(&self) -> Vec<LiveRegistration> {
        Vec::new()
    }
    fn active_calls(&self) -> Vec<LiveCall> {
        Vec::new()
    }
    fn hang_up(&self, _call_id: u64) -> bool {
        false
    }
    fn trunk_states(&self) -> Vec<(String, bool)> {
        Vec::new()
    }
    fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.events.subscribe()
    }
}

/// The real PBX's live state (registrar bindings and its event bus), as `sentral serve`
/// gives it to the UI.
#[derive(Debug)]
pub struct PbxLive(pub Arc<pbx::PbxContext>);

impl LiveView for PbxLive {
    fn registrations(&self) -> Vec<LiveRegistration> {
        self.0
            .registrar
            .all()
            .into_iter()
            .map(|b| LiveRegistration {
                extension: b.extension.clone(),
                contact: b.contact_key().to_owned(),
                transport: format!("{:?}", b.destination.kind).to_lowercase(),
                source: b.destination.remote,
                expires_at: b.expires_at,
                user_agent: b.user_agent.clone(),
            })
            .collect()
    }
    fn active_calls(&self) -> Vec<LiveCall> {
        Vec::new()
    }
    fn hang_up(&self, _call_id: u64) -> bool {
        false
    }
    fn trunk_states(&self) -> Vec<(String, bool)> {
        Vec::new()
    }
    fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        use pbx::events::PbxEvent;
        let (tx, rx) = broadcast::channel(256);
        let mut src = self.0.events.subscribe();
        // Ends when the browser's stream goes (send fails) or the PBX stops.
        tokio::spawn(async move {
            loop {
                let ev = match src.recv().await {
                    Ok(ev) => ev,
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => break,
                };
                let mapped = match ev {
                    PbxEvent::Registration {
                        extension,
                        contacts,
                    } => LiveEvent::Registration {
                        extension,
                        contacts,
                    },
                    PbxEvent::CallStarted {
                        call_id,
                        caller,
                        callee,
                    } => LiveEvent::CallStarted {
                        call_id,
                        caller,
                        callee,
                    },
                    PbxEvent::CallAnswered { call_id } => LiveEvent::CallAnswered { call_id },
                    PbxEvent::CallEnded { call_id } => LiveEvent::CallEnded { call_id },
                    PbxEvent::Lockout { address } => LiveEvent::Lockout { address },
                    PbxEvent::TrunkRegistration { trunk, registered } => {
                        LiveEvent::TrunkRegistration { trunk, registered }
                    }
                };
                if tx.send(mapped).is_err() {
                    break;
                }
            }
        });
        rx
    }
}

/// The admin UI served on a loopback port until stopped (or dropped).
#[derive(Debug)]
pub struct AdminServer {
    pub url: String,
    /// The first admin password, read back from the file the first start wrote.
    pub admin_password: String,
    pub data_dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl AdminServer {
    /// First start on `store`: creates `admin` (password to the data directory, as
    /// `sentral serve` does) and serves the UI.
    pub async fn start(store: store::Store, live: Arc<dyn LiveView>) -> AdminServer {
        let data_dir = tempfile::tempdir().expect("data dir");
        let printed = admin_ui::ensure_admin(&store, data_dir.path())
            .await
            .expect("first start creates admin")
            .expect("no users yet, so a password");
        let saved = std::fs::read_to_string(data_dir.path().join(admin_ui::ADMIN_PASSWORD_FILE))
            .expect("admin password file");
        assert_eq!(
            saved.trim(),
            printed,
            "the saved password is the printed one"
        );
        let state = AppState::new(store, live, data_dir.path().to_path_buf());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind UI");
        let addr = listener.local_addr().expect("UI addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            if let Err(e) = admin_ui::serve(listener, state, async {
                let _ = rx.await;
            })
            .await
            {
                eprintln!("admin UI stopped with {e}");
            }
        });
        AdminServer {
            url: format!("http://{addr}"),
            admin_password: printed,
            data_dir,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            // Open SSE streams keep a graceful shutdown waiting; bound it.
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for AdminServer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl Browser {
    /// Signs in with a password for the first time and enrols TOTP from the secret the
    /// page shows once; returns the secret. Screenshots and checks the sign-in, enrolment
    /// and recovery-code pages as `<prefix>-login` etc.
    pub async fn first_sign_in(
        &self,
        ui: &AdminServer,
        user: &str,
        password: &str,
        prefix: &str,
    ) -> String {
        self.visit(&ui.at("/login"), &format!("{prefix}-login"))
            .await;
        self.fill("#username", user).await;
        self.fill("#password", password).await;
        self.click("form[action='/login'] button[type=submit]")
            .await;
        let secret_el = self.find("#totp-secret").await;
        assert_eq!(self.current_path().await, "/enrol");
        self.look(&format!("{prefix}-enrol")).await;
        let secret = step("secret text", secret_el.text()).await;
        assert!(
            base32_decode(secret.trim()).is_some_and(|k| k.len() >= 16),
            "a base32 secret of at least 128 bits is shown: {secret:?}"
        );
        // A wrong code is refused and the secret does not take effect.
        let good = totp_code(secret.trim(), now_unix());
        let wrong = format!("{:06}", (good.parse::<u32>().unwrap_or(0) + 1) % 1_000_000);
        self.fill("#code", &wrong).await;
        self.click("form[action='/enrol'] button[type=submit]")
            .await;
        self.find("p.error[role=alert]").await;
        assert_eq!(self.current_path().await, "/enrol");
        self.fill("#code", &totp_code(secret.trim(), now_unix()))
            .await;
        self.click("form[action='/enrol'] button[type=submit]")
            .await;
        let codes = self.find("#recovery-codes").await;
        let codes = step("recovery codes", codes.text()).await;
        assert!(
            codes.lines().filter(|l| !l.trim().is_empty()).count() >= 5,
            "recovery codes shown: {codes:?}"
        );
        self.look(&format!("{prefix}-recovery-codes")).await;
        secret.trim().to_string()
    }
}
