//! Upload speed for phone-sized photos: posts a 12-megapixel JPEG (as a
//! phone camera makes) and a PDF to a running server over HTTP and prints
//! the time each takes end to end (receive, sniff, decode, re-encode,
//! thumbnail, store) and the sizes stored. A benchmark, not a test.
//!
//!     target/release/server --no-tls --addr 127.0.0.1:9000 --data-dir /tmp/ub &
//!     cargo run --release -p server --example upload_bench -- http://127.0.0.1:9000

use std::time::Instant;

fn photo(width: u32, height: u32) -> Vec<u8> {
    // Smooth gradients with some texture: compresses like a photo, not
    // like noise or a flat colour.
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        let t = ((x * 7 + y * 13) % 23) as u8;
        image::Rgb([
            (x * 255 / width) as u8 ^ t,
            (y * 255 / height) as u8,
            ((x + y) % 256) as u8 / 2 + t,
        ])
    });
    let mut out = Vec::new();
    let mut enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85);
    if let Err(e) = enc.encode_image(&img) {
        eprintln!("could not encode the test photo: {e}");
    }
    out
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let base = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "http://127.0.0.1:9000".into());
    let client = reqwest::Client::new();
    let device = uuid::Uuid::new_v4().to_string();
    let cookie = format!("device_id={device}");
    client
        .post(format!("{base}/api/set_name"))
        .header("cookie", &cookie)
        .form(&[("name", "Bench")])
        .send()
        .await?
        .error_for_status()?;
    let jpeg = photo(4032, 3024);
    let mut pdf = b"%PDF-1.4\n".to_vec();
    pdf.resize(2 * 1024 * 1024, b' ');
    println!("| file | sent | p50 ms | max ms | stored | thumbnail |");
    println!("|---|---|---|---|---|---|");
    for (label, body) in [("12 MP JPEG", &jpeg), ("2 MB PDF", &pdf)] {
        let mut times = Vec::new();
        let mut last = serde_json::Value::Null;
        for i in 0..5 {
            // A distinct file each time, so nothing is stored already.
            let mut b = body.clone();
            if label.contains("PDF") {
                b.extend_from_slice(format!("%{i}").as_bytes());
            } else {
                b.extend_from_slice(&[0xFF, 0xD9, i]);
            }
            let started = Instant::now();
            let res = client
                .post(format!("{base}/upload?name=bench-{i}"))
                .header("cookie", &cookie)
                .body(b)
                .send()
                .await?;
            let status = res.status();
            last = res.json().await?;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            if !status.is_success() {
                eprintln!("{label}: {status} {last}");
            }
        }
        times.sort_by(f64::total_cmp);
        let size = last["attachment"]["size"].as_u64().unwrap_or(0);
        let thumb = last["attachment"]["image"]["thumb"].as_str().unwrap_or("-");
        println!(
            "| {label} | {:.1} MB | {:.0} | {:.0} | {:.1} MB | {} |",
            body.len() as f64 / 1e6,
            times[times.len() / 2],
            times[times.len() - 1],
            size as f64 / 1e6,
            if thumb == "-" { "-" } else { "yes" }
        );
    }
    Ok(())
}
