//! The browser harness itself (tests/support/browser.rs): headless Chromium starts and
//! stops, screenshots land under tests/output, axe-core finds a real violation and passes
//! a clean page, and the test-side TOTP agrees with RFC 6238's own vectors.

mod support;

use support::browser::{Browser, base32_decode, output_dir, totp_code};

fn data_url(html: &str) -> String {
    // Percent-encode the few characters that matter in a data: URL.
    let enc: String = html
        .chars()
        .map(|c| match c {
            '#' => "%23".to_string(),
            '%' => "%25".to_string(),
            '\n' => "%0A".to_string(),
            c => c.to_string(),
        })
        .collect();
    format!("data:text/html;charset=utf-8,{enc}")
}

const CLEAN: &str = r#"<!doctype html><html lang="nb"><head><title>Ren side</title></head>
<body><main><h1>Oversikt</h1><form><label for="q">Søk</label><input id="q" name="q">
<button type="submit">Søk</button></form></main></body></html>"#;

const BROKEN: &str = r#"<!doctype html><html lang="nb"><head><title>Feil</title></head>
<body><main><h1>Feil</h1><img src="x.png"><input name="nolabel">
<a href="/x"></a></main></body></html>"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axe_passes_a_clean_page_and_catches_a_broken_one() {
    let browser = Browser::start("browser_harness", "nb").await;
    browser.visit(&data_url(CLEAN), "clean").await;
    let shot = output_dir().join("screenshots/browser_harness/clean.png");
    let png = std::fs::read(&shot).expect("screenshot written");
    assert_eq!(png.get(..8), Some(&b"\x89PNG\r\n\x1a\n"[..]), "a PNG file");

    browser.goto(&data_url(BROKEN)).await;
    let found = browser.axe().await;
    let ids: Vec<&str> = found.iter().map(|v| v.id.as_str()).collect();
    for rule in ["image-alt", "label", "link-name"] {
        assert!(ids.contains(&rule), "axe finds {rule}: {found:#?}");
    }
    assert!(
        found
            .iter()
            .any(|v| v.impact == "critical" || v.impact == "serious"),
        "{found:#?}"
    );
    browser.close().await;
}

#[test]
fn totp_matches_rfc_6238_vectors() {
    // RFC 6238 Appendix B, SHA-1 key "12345678901234567890"; the RFC prints 8 digits,
    // the 6-digit code is the last six (mod 10^6).
    let secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    assert_eq!(
        base32_decode(secret).as_deref(),
        Some(&b"12345678901234567890"[..])
    );
    assert_eq!(totp_code(secret, 59), "287082");
    assert_eq!(totp_code(secret, 1_111_111_109), "081804");
    assert_eq!(totp_code(secret, 1_234_567_890), "005924");
    assert_eq!(totp_code(secret, 20_000_000_000), "353130");
}
