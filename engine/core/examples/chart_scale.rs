//! Chart read at scale, timed in isolation (the criterion `scale` bench covers the same case;
//! this prints the fastest of several runs, which is steadier on a shared machine):
//!   cargo run --release -p intake-engine --example chart_scale [observations]
use std::time::Instant;

use intake_engine::chart::Chart;

#[path = "../benches/support/big_chart.rs"]
mod big_chart;

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let text = serde_json::to_string(&big_chart::big_chart(n)).unwrap_or_default();
    let (mut best_read, mut best_text, mut best_parse, mut best_drop) = (f64::MAX, f64::MAX, f64::MAX, f64::MAX);
    for _ in 0..7 {
        let t = Instant::now();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        best_parse = best_parse.min(t.elapsed().as_secs_f64());
        let t = Instant::now();
        drop(value);
        best_drop = best_drop.min(t.elapsed().as_secs_f64());
        let value: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let t = Instant::now();
        let chart = Chart::from_json(&value).map(|c| c.observations.len());
        best_read = best_read.min(t.elapsed().as_secs_f64());
        assert_eq!(chart.ok(), Some(n));
        let t = Instant::now();
        let chart = Chart::from_text(&text).map(|c| c.observations.len());
        best_text = best_text.min(t.elapsed().as_secs_f64());
        assert_eq!(chart.ok(), Some(n));
    }
    println!("{n} observations ({:.1} MB of JSON), fastest of 7:", text.len() as f64 / 1e6);
    println!("  chart read from parsed JSON (and dropped) {:>5.0} ms", best_read * 1e3);
    println!("  chart read from text (and dropped)        {:>5.0} ms", best_text * 1e3);
    println!("    of which the generic JSON parse         {:>5.0} ms, and its drop {:.0} ms", best_parse * 1e3, best_drop * 1e3);
}
