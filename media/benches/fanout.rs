//! Benchmark program: sequential vs rayon fan-out in the running SFU.
//!
//! For each reference load (full session: 49 deliveries per frame; breakouts:
//! 4) and each [`FanoutMode`], runs the in-process load test and prints the
//! time the router task spent pushing frames into subscriber queues (per
//! frame and per delivery) and the server threads' CPU time. Run with
//! `cargo bench -p podium-media --bench fanout [-- SECONDS]`; it prints, it
//! does not assert.

use std::time::Duration;

use podium_media::FanoutMode;
use podium_media::loadtest::{LoadtestConfig, Mode, Scenario, Target, run};

fn main() {
    let seconds: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("bots")
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "{:<13} {:<10} {:>9} {:>12} {:>15} {:>11} {:>9} {:>8}",
        "scenario", "fanout", "frames", "us/frame", "ns/delivery", "server CPU", "p50 ms", "ratio"
    );
    for scenario in Scenario::ALL {
        for fanout in [FanoutMode::Sequential, FanoutMode::Rayon] {
            let mut config = LoadtestConfig::new(scenario, Mode::Sfu);
            config.duration = Duration::from_secs(seconds);
            config.fanout = fanout;
            let report = match runtime.block_on(run(&config, Target::InProcess)) {
                Ok(r) => r,
                Err(e) => {
                    println!("{scenario} {fanout:?}: {e}");
                    continue;
                }
            };
            let sfu = report.sfu.unwrap_or_default();
            println!(
                "{:<13} {:<10} {:>9} {:>12.2} {:>15.0} {:>10.2}s {:>9.1} {:>8.4}",
                scenario.to_string(),
                format!("{fanout:?}"),
                report.frames_sent,
                sfu.fanout_us_per_frame,
                sfu.fanout_ns_per_delivery,
                report.server_cpu_seconds.unwrap_or(0.0),
                report.latency_ms.p50,
                report.delivery_ratio,
            );
        }
    }
}
