//! `sentral serve` refuses to start on a dial plan it should not run with, and says
//! which configuration key is wrong (instead of running a lenient plan that silently
//! drops the bad entries). Each run fails before the store or any socket is opened.

mod cli_support;

use cli_support::Env;

/// Runs `serve --config FILE` with `toml` as the file.
fn serve_with(env: &Env, toml: &str) -> cli_support::Run {
    let path = env.data_dir().join("sentral.toml");
    if let Err(e) = std::fs::write(&path, toml) {
        panic!("write {}: {e}", path.display());
    }
    let path = path.to_string_lossy().into_owned();
    env.run(&["serve", "--config", &path])
}

#[test]
fn serve_stops_on_a_bad_dial_plan_naming_the_key() {
    let env = Env::sqlite();
    let cases: &[(&str, &str)] = &[
        (
            "[pbx]\nemergency_numbers = [\"110\", \"113\"]\n",
            "pbx.emergency_numbers: must contain 112",
        ),
        (
            "[pbx]\nemergency_numbers = []\n",
            "pbx.emergency_numbers: must not be empty",
        ),
        (
            "[pbx]\nextension_digits = 12\n",
            "pbx.extension_digits: must be 2 to 8, not 12",
        ),
        (
            "[[dial_plan.did_mappings]]\nfirst = \"63869000\"\nlast = \"63869399\"\n\
             extension_first = \"1000\"\n\
             [[dial_plan.did_mappings]]\nfirst = \"63869100\"\nlast = \"63869100\"\n\
             extension = \"2001\"\n",
            "dial_plan.did_mappings[1]: 63869100-63869100 overlaps dial_plan.did_mappings[0]",
        ),
        (
            "[dial_plan.classes]\nmobil = \"national\"\n",
            "dial_plan.classes.mobil: unknown destination class",
        ),
        (
            "[dial_plan.classes]\nemergency = \"blocked\"\n",
            "dial_plan.classes.emergency: emergency calls",
        ),
    ];
    for (toml, message) in cases {
        let run = serve_with(&env, toml);
        // Refused before the store is opened: no database file was created.
        assert!(
            !env.data_dir().join(store::SQLITE_FILE).exists(),
            "{toml}: the store was opened"
        );
        assert!(
            !run.stderr.contains("listening"),
            "{toml}: started anyway: {}",
            run.stderr
        );
        run.fails(1, message);
    }
}
