//! Ingest load generator: enrols one agent per token and sends signed
//! batches as fast as the server acknowledges them, speaking the real
//! protocol. Prints the samples per second the server committed.
//!
//! `leitstand-loadgen --server URL --tokens FILE [--batches 200] [--records 10] [--samples 100]`

use anyhow::Context;
use clap::Parser;
use leitstand_agent::uplink::{self, Uplink};
use leitstand_proto::{Record, Sample, Sequenced};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

#[derive(Parser)]
struct Args {
    #[arg(long)]
    server: String,
    /// File with one enrollment token per line; one agent (thread) each.
    #[arg(long)]
    tokens: std::path::PathBuf,
    /// Batches each agent sends.
    #[arg(long, default_value_t = 200)]
    batches: u64,
    /// Records per batch.
    #[arg(long, default_value_t = 10)]
    records: u64,
    /// Samples per record (series per agent).
    #[arg(long, default_value_t = 100)]
    samples: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let tokens: Vec<String> = std::fs::read_to_string(&args.tokens)
        .with_context(|| format!("cannot read {}", args.tokens.display()))?
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    let mut agents = vec![];
    for (i, t) in tokens.iter().enumerate() {
        let (identity, _) = uplink::enroll(&args.server, t, &format!("load-{i}"), "loadgen")
            .map_err(|e| anyhow::anyhow!("enrol {i}: {e}"))?;
        agents.push(Uplink::new(identity));
    }
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    let started = Instant::now();
    let threads: Vec<_> = agents
        .into_iter()
        .map(|up| {
            let (batches, records, samples) = (args.batches, args.records, args.samples);
            std::thread::spawn(move || -> anyhow::Result<u64> {
                let mut seq = 0;
                for _ in 0..batches {
                    let batch: Vec<Sequenced> = (0..records)
                        .map(|_| {
                            seq += 1;
                            // An agent's real cadence: one record every 10 s,
                            // ending now.
                            let at_ms = now_ms - (batches * records) as i64 * 10_000 + seq as i64 * 10_000;
                            // CPU, RAM and disk as the agent names them, so the
                            // host list has figures; the rest are load series.
                            let glance = [
                                Sample::new("cpu_usage_percent", (seq % 100) as f64).with("cpu", "total"),
                                Sample::new("mem_used_percent", 40.0),
                                Sample::new("fs_used_percent", 60.0).with("mount", "/"),
                            ];
                            let s = glance
                                .into_iter()
                                .chain(
                                    (3..samples)
                                        .map(|k| Sample::new("load_metric", k as f64).with("series", &k.to_string())),
                                )
                                .take(samples as usize)
                                .collect();
                            Sequenced { seq, record: Record::Metrics { at_ms, samples: s } }
                        })
                        .collect();
                    // A server that asks to wait (rate, approval) gets the
                    // same batch again a little later, as the agent does.
                    let ack = loop {
                        match up.send(batch.clone()) {
                            Err(uplink::SendError::Wait { .. }) => {
                                std::thread::sleep(std::time::Duration::from_millis(100))
                            }
                            other => break other.map_err(|e| anyhow::anyhow!("send: {e}"))?,
                        }
                    };
                    anyhow::ensure!(ack.up_to == seq, "acknowledged {} of {seq}", ack.up_to);
                }
                Ok(batches * records * samples)
            })
        })
        .collect();
    let mut total = 0;
    for t in threads {
        total += t.join().map_err(|_| anyhow::anyhow!("a sender panicked"))??;
    }
    let secs = started.elapsed().as_secs_f64();
    println!("agents {} samples {total} seconds {secs:.2} samples_per_second {:.0}", tokens.len(), total as f64 / secs);
    Ok(())
}
