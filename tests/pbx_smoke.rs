//! The test PBX starts on every backend, answers OPTIONS, and stops.

mod support;

use std::time::Duration;
use support::pbx::{backends, start_pbx};
use support::sipp::{self, SippTransport};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pbx_starts_and_answers_options_on_every_backend() {
    for backend in backends() {
        let pbx = start_pbx(backend, pbx::PbxConfig::default()).await;
        let target = pbx.udp;
        let run = tokio::task::spawn_blocking(move || {
            sipp::run(
                &sipp::scenario("driver/options.xml"),
                target,
                SippTransport::Udp,
                1,
                &[],
                Duration::from_secs(10),
            )
        })
        .await
        .expect("sipp task");
        assert!(
            run.succeeded(),
            "{backend:?}: OPTIONS failed: {}\n{}",
            run.stdout,
            run.errors
        );
        assert_eq!(pbx.server.ctx.directory.snapshot().extensions.len(), 4);
        pbx.finish().await;
    }
}
