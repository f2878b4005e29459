//! Benchmark: server-side rendering of a 40-page slide deck (the test
//! deck: 16:9 pages with text, filled shapes and curves) with `hayro`, the
//! way Podium renders presentations: the time to the first page at the
//! stage width (1600 px, parse included), all 40 pages at 1600 px and at the
//! thumbnail width (320 px), the PNG sizes, and the process's peak memory
//! (VmHWM from /proc/self/status).
//!
//! `cargo run --release --example slides_bench`

use std::time::Instant;

#[allow(dead_code)] // the encrypted deck is for the tests
#[path = "../tests/it/support/pdf.rs"]
mod pdf;

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let deck = pdf::deck(40);
    println!("deck: 40 pages, {} bytes", deck.len());
    println!("peak memory before rendering: {} MiB", vm_hwm_kib() / 1024);

    let t = Instant::now();
    let pages = podium::slides::inspect(&deck).expect("a valid deck");
    println!("inspect (parse + page count {pages}): {:.1} ms", ms(t));

    let t = Instant::now();
    let first = podium::slides::render_png(deck.clone(), 1, 1600).expect("page 1");
    println!(
        "first page at 1600 px (parse + render + PNG): {:.1} ms, {} KiB",
        ms(t),
        first.len() / 1024
    );

    for width in [1600, 320] {
        let t = Instant::now();
        let all = podium::slides::render_all(deck.clone(), width).expect("all pages");
        let total: usize = all.iter().map(Vec::len).sum();
        let elapsed = ms(t);
        println!(
            "all 40 pages at {width} px: {elapsed:.0} ms ({:.1} ms/page), {} KiB of PNG",
            elapsed / 40.0,
            total / 1024
        );
    }
    // Where the time goes: rasterizing against PNG encoding (page 1).
    {
        use hayro::hayro_syntax::Pdf;
        let pdf = Pdf::new(std::sync::Arc::new(deck.clone())).expect("deck");
        let page = &pdf.pages()[0];
        let scale = 1600.0 / page.render_dimensions().0;
        let t = Instant::now();
        let pixmap = hayro::render(
            page,
            &hayro::RenderCache::new(),
            &hayro::hayro_interpret::InterpreterSettings::default(),
            &hayro::RenderSettings::default(),
            &hayro::PixmapSettings {
                x_scale: scale,
                y_scale: scale,
                bg_color: hayro::vello_cpu::color::palette::css::WHITE,
            },
        );
        let raster = ms(t);
        let t = Instant::now();
        let png = pixmap.into_png().expect("png");
        println!(
            "page 1 at 1600 px: rasterize {raster:.1} ms, PNG encode {:.1} ms ({} KiB)",
            ms(t),
            png.len() / 1024
        );
    }
    // Lazily, one page per request as the server does (each parses again).
    let t = Instant::now();
    for n in 1..=40 {
        podium::slides::render_png(deck.clone(), n, 1600).expect("page");
    }
    println!(
        "40 single-page renders at 1600 px (one parse each): {:.0} ms",
        ms(t)
    );
    println!("peak memory (VmHWM): {} MiB", vm_hwm_kib() / 1024);
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}
