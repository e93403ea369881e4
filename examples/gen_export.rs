//! Writes a synthetic single-chat Telegram Desktop export to stdout, for
//! benchmarking the export reader, the replay and the daemon:
//!
//! ```text
//! cargo run --release --example gen_export -- N [SEED] > big.json
//! ```

use std::io::{self, BufWriter};

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or_else(|| {
        eprintln!("usage: gen_export N [SEED]");
        std::process::exit(2)
    });
    let seed: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let mut w = BufWriter::with_capacity(1 << 16, io::stdout().lock());
    buhbot::export::synth::write_synthetic(&mut w, n, seed)
}
