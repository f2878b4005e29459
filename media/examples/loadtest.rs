//! Load test program: the reference loads against the SFU and the raw-QUIC
//! baseline, printed as a table (and JSON with `--json`).
//!
//! ```text
//! cargo run --release -p podium-media --example loadtest -- \
//!     [--scenario full-session|breakouts|all] [--mode sfu|baseline|both] \
//!     [--duration SECONDS] [--fanout sequential|rayon|auto] [--in-process] [--json]
//! ```
//!
//! By default the server runs as a child process (this program with
//! `--serve sfu|baseline`) on a loopback ephemeral port, so the CPU time and
//! peak RSS read from `/proc/PID` are the server's own — what `podium
//! loadtest` does with a `podium serve` child.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use podium_media::loadtest::baseline::start_baseline;
use podium_media::loadtest::{self, LoadtestConfig, Mode, RemoteTarget, Scenario, Target};
use podium_media::{CertHash, FanoutMode, JoinTokenKey, OriginPolicy, SessionId, SfuConfig};

struct Args {
    scenarios: Vec<Scenario>,
    modes: Vec<Mode>,
    duration: u64,
    fanout: FanoutMode,
    in_process: bool,
    json: bool,
    serve: Option<Mode>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        scenarios: Scenario::ALL.to_vec(),
        modes: vec![Mode::Sfu, Mode::Baseline],
        duration: 10,
        fanout: FanoutMode::Sequential,
        in_process: false,
        json: false,
        serve: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--scenario" => {
                let v = value()?;
                a.scenarios = if v == "all" {
                    Scenario::ALL.to_vec()
                } else {
                    vec![v.parse()?]
                };
            }
            "--mode" => {
                let v = value()?;
                a.modes = if v == "both" {
                    vec![Mode::Sfu, Mode::Baseline]
                } else {
                    vec![v.parse()?]
                };
            }
            "--duration" => {
                a.duration = value()?.parse().map_err(|e| format!("--duration: {e}"))?
            }
            "--fanout" => {
                a.fanout = match value()?.as_str() {
                    "sequential" => FanoutMode::Sequential,
                    "rayon" => FanoutMode::Rayon,
                    "auto" => FanoutMode::Auto { min_deliveries: 16 },
                    other => return Err(format!("unknown fanout {other}")),
                }
            }
            "--in-process" => a.in_process = true,
            "--json" => a.json = true,
            "--serve" => a.serve = Some(value()?.parse()?),
            "--bench" => {} // passed by `cargo bench`
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
        .collect()
}

/// Child mode: start the server, print its address, hashes and key as one
/// JSON line, serve until stdin closes.
fn serve(mode: Mode, fanout: FanoutMode) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("sfu-rt")
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let key = JoinTokenKey::generate();
        let mut config = SfuConfig::new(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            key.clone(),
            OriginPolicy::AnyOriginInsecure,
        );
        config.fanout = fanout;
        config.auto_open_sessions = true;
        // Both servers stop accepting when their handle is dropped: keep it.
        let (port, hashes, _sfu, _baseline) = match mode {
            Mode::Sfu => {
                let h = podium_media::start(config)
                    .await
                    .map_err(|e| e.to_string())?;
                (h.local_addr().port(), h.cert_hashes(), Some(h), None)
            }
            Mode::Baseline => {
                let b = start_baseline(&config).await.map_err(|e| e.to_string())?;
                (b.local_addr().port(), b.cert_hashes(), None, Some(b))
            }
        };
        let line = serde_json::json!({
            "port": port,
            "hashes": hashes.all().iter().map(|h| h.to_hex()).collect::<Vec<_>>(),
            "key": hex(key.as_bytes()),
        });
        println!("{line}");
        std::io::stdout().flush().map_err(|e| e.to_string())?;
        let _ = tokio::task::spawn_blocking(|| {
            let mut sink = Vec::new();
            std::io::stdin().read_to_end(&mut sink)
        })
        .await;
        Ok(())
    })
}

fn run_child(
    runtime: &tokio::runtime::Runtime,
    config: &LoadtestConfig,
) -> Result<loadtest::LoadtestReport, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let fanout = match config.fanout {
        FanoutMode::Sequential => "sequential",
        FanoutMode::Rayon => "rayon",
        FanoutMode::Auto { .. } => "auto",
    };
    let mut child = Command::new(exe)
        .args(["--serve", &config.mode.to_string(), "--fanout", fanout])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the server: {e}"))?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped"))
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    let info: serde_json::Value =
        serde_json::from_str(&line).map_err(|e| format!("server said {line:?}: {e}"))?;
    let key = unhex(info["key"].as_str().unwrap_or_default())
        .and_then(|k| JoinTokenKey::from_bytes(&k).ok())
        .ok_or("bad key from the server")?;
    let hashes: Vec<CertHash> = info["hashes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|h| unhex(h.as_str()?)?.try_into().ok().map(CertHash))
        .collect();
    let target = RemoteTarget {
        server_pid: Some(child.id()),
        ..RemoteTarget::with_key(
            format!("https://127.0.0.1:{}", info["port"]),
            SessionId(1),
            hashes,
            key,
        )
    };
    let report = runtime.block_on(loadtest::run(config, Target::Remote(target)));
    drop(child.stdin.take());
    let _ = child.wait();
    report.map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("loadtest: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(mode) = args.serve {
        return match serve(mode, args.fanout) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("loadtest server: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("bots")
        .enable_all()
        .build()
        .expect("runtime");
    let mut reports = Vec::new();
    for &scenario in &args.scenarios {
        for &mode in &args.modes {
            let mut config = LoadtestConfig::new(scenario, mode);
            config.duration = Duration::from_secs(args.duration);
            config.fanout = args.fanout;
            eprintln!(
                "running {scenario} against {mode} for {} s ...",
                args.duration
            );
            let result = if args.in_process {
                runtime
                    .block_on(loadtest::run(&config, Target::InProcess))
                    .map_err(|e| e.to_string())
            } else {
                run_child(&runtime, &config)
            };
            match result {
                Ok(r) => reports.push(r),
                Err(e) => eprintln!("{scenario} {mode}: {e}"),
            }
        }
    }
    print!("{}", loadtest::table(&reports));
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&reports).expect("reports serialize")
        );
    }
    if reports.len() == args.scenarios.len() * args.modes.len() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
