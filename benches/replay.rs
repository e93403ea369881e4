//! Replay throughput: a synthetic export parsed, classified and tracked in
//! memory (target: at least 200 000 messages/s). The 1 000 000-message
//! memory figure comes from `scripts/bench-replay.sh`.

use buhbot::config::Config;
use buhbot::export::synth::write_synthetic;
use buhbot::replay::{ReplayOptions, replay};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use figment::Figment;

const MESSAGES: u64 = 100_000;

fn bench(c: &mut Criterion) {
    let mut export = Vec::new();
    write_synthetic(&mut export, MESSAGES, 7).expect("generate");
    let config = Config::from_figment(&Figment::new(), None).expect("defaults");
    let opts = ReplayOptions {
        accountants: vec![7000001, 7000002],
        ..ReplayOptions::default()
    };
    let mut group = c.benchmark_group("replay");
    group.throughput(Throughput::Elements(MESSAGES));
    group.sample_size(10);
    group.bench_function("synthetic_100k_messages", |b| {
        b.iter(|| {
            let mut requests = 0;
            replay(&export[..], "bench.json", &config, &opts, &mut |r| {
                requests += r.summary().requests
            })
            .expect("replay");
            requests
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
