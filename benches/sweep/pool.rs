//! `cargo bench --bench sweep -- --pool FILE`: pools the runs that `SWEEP_RAW=FILE` appended, for a figure finer
//! than one run can give.
//!
//! On a noisy machine one run of the bench read pinger anywhere between 1.02x and 1.10x the bare loop (stop 26):
//! the spread of a median of 41 paired rounds. Pooling several runs gives one paired median over all their rounds
//! and, by bootstrap (resampling the rounds with replacement), a 95% interval that says how far that median can be
//! trusted. A run starts where a size's round number goes back, or where a round's tool comes again.

use std::collections::BTreeMap;
use std::path::Path;

/// One run's rounds: round -> tool -> seconds.
type Run = BTreeMap<usize, BTreeMap<String, f64>>;

const BASE: &str = "bare baseline";
const STAMPED: &str = "bare baseline with kernel receive timestamps (as pinger)";
const RESAMPLES: usize = 5_000;

pub fn report(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut sizes: BTreeMap<usize, Vec<Run>> = BTreeMap::new();
    let mut last: BTreeMap<usize, usize> = BTreeMap::new();
    for (no, line) in text.lines().enumerate() {
        let (n, round, tool, t) =
            parse(line).ok_or_else(|| format!("{}:{}: not `hosts,round,\"tool\",seconds`", path.display(), no + 1))?;
        let runs = sizes.entry(n).or_default();
        // A new run: the round number went back, or this round already has this tool (runs of one round each).
        let seen = runs.last().is_some_and(|run| run.get(&round).is_some_and(|m| m.contains_key(&tool)));
        if runs.is_empty() || seen || last.get(&n).is_some_and(|&r| round < r) {
            runs.push(Run::new());
        }
        last.insert(n, round);
        runs.last_mut().expect("pushed above").entry(round).or_default().insert(tool, t);
    }
    let mut seed = super::seed();
    for (n, runs) in &sizes {
        let rounds: usize = runs.iter().map(|r| r.len()).sum();
        println!("{n} hosts: {} runs, {rounds} rounds", runs.len());
        println!("| ratio | per run (paired medians) | pooled paired median | 95% bootstrap interval |");
        println!("|---|---|---|---|");
        // Every tool over the bare loop, in the table's order (pinger first), then pinger over the stamped loop.
        let pairs = super::NAMES.iter().filter(|t| **t != BASE).map(|t| (*t, BASE)).chain([("pinger", STAMPED)]);
        for (tool, base) in pairs {
            let per_run: Vec<Vec<f64>> = runs.iter().map(|r| ratios(r, tool, base)).collect();
            let all: Vec<f64> = per_run.concat();
            let Some(pooled) = median(&all) else { continue };
            let shown: Vec<String> = per_run.iter().filter_map(|v| median(v)).map(|m| format!("{m:.3}")).collect();
            let (lo, hi) = bootstrap(&all, &mut seed);
            println!("| {tool} / {base} | {} | {pooled:.3} | {lo:.3}-{hi:.3} |", shown.join(" "));
        }
        let pooled = |tool: &str| {
            median(&runs.iter().flat_map(|r| r.values().filter_map(|m| m.get(tool).copied())).collect::<Vec<_>>())
        };
        if let (Some(p), Some(b)) = (pooled("pinger"), pooled(BASE)) {
            println!("\nunpaired: pinger's median {p:.3} s / the bare loop's {b:.3} s = {:.3}x", p / b);
        }
    }
    Ok(())
}

/// `60000,3,"bare io_uring, armed receives",0.412345`: the name is quoted and may hold a comma.
fn parse(line: &str) -> Option<(usize, usize, String, f64)> {
    let (n, rest) = line.split_once(',')?;
    let (round, rest) = rest.split_once(',')?;
    let (tool, t) = rest.rsplit_once(',')?;
    let tool = tool.strip_prefix('"')?.strip_suffix('"')?;
    Some((n.parse().ok()?, round.parse().ok()?, tool.to_owned(), t.parse().ok()?))
}

/// Each round's `tool` time divided by the same round's `base` time, for the rounds that ran both.
fn ratios(run: &Run, tool: &str, base: &str) -> Vec<f64> {
    run.values().filter_map(|m| Some(m.get(tool)? / m.get(base)?)).collect()
}

fn median(v: &[f64]) -> Option<f64> {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied()
}

/// The 2.5th and 97.5th percentiles of the median over `RESAMPLES` resamples of `v` with replacement.
fn bootstrap(v: &[f64], seed: &mut u64) -> (f64, f64) {
    let mut medians: Vec<f64> = (0..RESAMPLES)
        .map(|_| {
            let sample: Vec<f64> = (0..v.len()).map(|_| v[(super::next(seed) % v.len() as u64) as usize]).collect();
            median(&sample).unwrap_or(f64::NAN)
        })
        .collect();
    medians.sort_by(f64::total_cmp);
    (medians[RESAMPLES * 25 / 1000], medians[RESAMPLES * 975 / 1000])
}
