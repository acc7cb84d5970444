//! The `sentral` binary's administration commands, run as a user would: import the
//! sample, add sites and extensions, list them as JSON, and get clear messages and the
//! right exit codes for bad input. The main flow runs on SQLite and on PostgreSQL.

mod cli_support;

use cli_support::{Env, json, sample_path};

async fn admin_flow(env: &Env) {
    let sample = sample_path();
    let out = env.run(&["import", &sample.to_string_lossy()]).ok();
    assert!(out.contains("24 sites (24 new, 0 updated)"), "{out}");
    assert!(
        out.contains("6 departments") && out.contains("24 number ranges"),
        "{out}"
    );
    // Importing again updates, never duplicates.
    let out = env.run(&["import", &sample.to_string_lossy()]).ok();
    assert!(out.contains("(0 new, 24 updated)"), "{out}");

    let sites = json(&env.run(&["site", "list", "--json"]).ok());
    let sites = sites.as_array().expect("array");
    assert_eq!(sites.len(), 24);
    let radhus = sites
        .iter()
        .find(|s| s["code"] == "radhus")
        .expect("radhus imported");
    assert_eq!(radhus["name"], "Sørum rådhus");
    assert_eq!(radhus["department"], "Administrasjon");
    assert_eq!(radhus["address"], "Sørumsand");
    assert_eq!(radhus["number_ranges"][0]["first"], "63869000");
    assert_eq!(radhus["number_ranges"][0]["last"], "63869399");

    env.run(&[
        "site",
        "add",
        "depot",
        "--name",
        "Depot",
        "--numbers",
        "63870000-63870099",
    ])
    .ok();
    let out = env
        .run(&[
            "extension",
            "add",
            "2001",
            "--name",
            "Kari Nordmann",
            "--site",
            "depot",
            "--department",
            "Teknisk",
        ])
        .ok();
    let password = out
        .lines()
        .find_map(|l| l.strip_prefix("password for 2001: "))
        .expect("a generated password is printed once");
    assert_eq!(password.len(), 20);
    assert!(password.chars().all(|c| c.is_ascii_alphanumeric()));
    let out = env
        .run(&[
            "extension",
            "add",
            "1001",
            "--name",
            "Ola",
            "--site",
            "radhus",
            "--password",
            "given-pw",
            "--class",
            "internal",
        ])
        .ok();
    assert!(
        !out.contains("given-pw") && !out.contains("password for"),
        "a given password is never echoed: {out}"
    );

    let exts = json(&env.run(&["extension", "list", "--json"]).ok());
    let exts = exts.as_array().expect("array");
    assert_eq!(exts.len(), 2);
    assert_eq!(exts[0]["number"], "1001");
    assert_eq!(exts[0]["name"], "Ola");
    assert_eq!(exts[0]["site"], "radhus");
    assert_eq!(
        exts[0]["department"], "Administrasjon",
        "defaults to the site's department"
    );
    assert_eq!(exts[0]["class_of_service"], "internal");
    assert_eq!(exts[0]["enabled"], true);
    assert_eq!(exts[1]["number"], "2001");
    assert_eq!(exts[1]["site"], "depot");
    assert_eq!(exts[1]["department"], "Teknisk");
    assert_eq!(exts[1]["class_of_service"], "mobile");
    let text = serde_json::to_string(&exts).expect("json");
    assert!(
        !text.contains("ha1") && !text.contains(password),
        "no secrets in the listing"
    );

    // Bad input: clear messages, exit 1 for failures, 2 for usage errors.
    env.run(&[
        "extension",
        "add",
        "1001",
        "--name",
        "Again",
        "--site",
        "radhus",
    ])
    .fails(1, "extension \"1001\" already exists");
    env.run(&[
        "extension",
        "add",
        "1003",
        "--name",
        "X",
        "--site",
        "nowhere",
    ])
    .fails(1, "no site \"nowhere\"");
    env.run(&["site", "add", "radhus", "--name", "Twice"])
        .fails(1, "site \"radhus\" already exists");
    env.run(&[
        "site",
        "add",
        "clash",
        "--name",
        "C",
        "--numbers",
        "63869300-63869310",
    ])
    .fails(2, "overlaps 63869000-63869399");
    let sites = json(&env.run(&["site", "list", "--json"]).ok());
    assert!(
        !sites
            .as_array()
            .expect("array")
            .iter()
            .any(|s| s["code"] == "clash"),
        "a site whose numbers were refused is not left behind"
    );
}

#[tokio::test]
async fn admin_flow_sqlite() {
    let env = Env::sqlite();
    admin_flow(&env).await;
    assert!(
        env.data_dir().join("sentral.db").is_file(),
        "SQLite file created in the data dir"
    );
    env.finish().await;
}

#[tokio::test]
async fn admin_flow_postgres() {
    let Some(env) = Env::postgres().await else {
        eprintln!("SENTRAL_TEST_POSTGRES not set: PostgreSQL variant skipped");
        return;
    };
    admin_flow(&env).await;
    assert!(
        !env.data_dir().join("sentral.db").exists(),
        "no SQLite file when a PostgreSQL URL is given"
    );
    env.finish().await;
}

#[test]
fn usage_errors_exit_2_with_the_problem_named() {
    let env = Env::sqlite();
    env.run(&["calls", "list", "--from", "2026-13-01"])
        .fails(2, "invalid date \"2026-13-01\"");
    env.run(&["calls", "list", "--from", "01.02.2026"])
        .fails(2, "expected YYYY-MM-DD");
    env.run(&[
        "site",
        "add",
        "x",
        "--name",
        "X",
        "--numbers",
        "6386-63869999",
    ])
    .fails(2, "both ends must have the same length");
    env.run(&["site", "add", "x", "--name", "X", "--numbers", "63869999"])
        .fails(2, "expected FROM-TO");
    env.run(&["site", "add", "bad code", "--name", "X"])
        .fails(2, "site code");
    env.run(&["extension", "add", "12ab", "--name", "X", "--site", "x"])
        .fails(2, "extension number");
    env.run(&["serve", "--rtp-ports", "30000-20000"])
        .fails(2, "invalid port range");
    env.run(&["serve", "--sip-listen", "nowhere"])
        .fails(2, "expected ADDR:PORT");
    env.run(&["frobnicate"]).fails(2, "unrecognized subcommand");
    env.run(&[
        "traffic",
        "generate",
        "--from",
        "2026-02-01",
        "--to",
        "2026-01-01",
    ])
    .fails(2, "ends (2026-01-01) before it starts");
}

#[test]
fn failures_exit_1_with_the_problem_named() {
    let env = Env::sqlite();
    env.run(&["import", "/nonexistent/file.toml"])
        .fails(1, "cannot read /nonexistent/file.toml");
    env.run(&[
        "report",
        "savings",
        "--from",
        "2026-01-01",
        "--to",
        "2026-01-31",
    ])
    .fails(1, "run `sentral import FILE.toml` first");
    env.run(&["calls", "list", "--database-url", "mysql://x"])
        .fails(1, "unsupported or malformed database URL");

    // A data file with a mistake: named by table, key and line, nothing imported.
    let text = std::fs::read_to_string(sample_path()).expect("sample");
    let (line_no, line) = text
        .lines()
        .enumerate()
        .skip_while(|(_, l)| l.trim() != "[tariffs.legacy.rates.local]")
        .find(|(_, l)| l.starts_with("day = "))
        .expect("a day price in tariffs.legacy.rates.local");
    let broken = text.replacen(line, "day = \"0,17\"", 1);
    let path = env.data_dir().join("broken.toml");
    std::fs::write(&path, broken).expect("write");
    let run = env.run(&["import", &path.to_string_lossy()]);
    let want = format!("tariffs.legacy.rates.local.day (line {})", line_no + 1);
    run.fails(1, &want);
    let sites = json(&env.run(&["site", "list", "--json"]).ok());
    assert_eq!(
        sites.as_array().map(Vec::len),
        Some(0),
        "a bad file imports nothing"
    );
}

#[test]
fn data_dir_from_environment_and_after_the_subcommand() {
    let env = Env::sqlite();
    let dir = env.data_dir().join("nested").join("data");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_sentral"))
        .args(["site", "add", "envsite", "--name", "From env"])
        .env("SENTRAL_DATA_DIR", &dir)
        .env_remove("SENTRAL_DATABASE_URL")
        .output()
        .expect("run");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    assert!(dir.join("sentral.db").is_file());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&dir).expect("meta").permissions().mode();
        assert_eq!(
            mode & 0o077,
            0,
            "a new data dir is private to its owner: {mode:o}"
        );
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sentral"))
        .args(["site", "list", "--json", "--data-dir"])
        .arg(&dir)
        .env_remove("SENTRAL_DATA_DIR")
        .output()
        .expect("run");
    assert!(String::from_utf8_lossy(&out.stdout).contains("envsite"));
}
