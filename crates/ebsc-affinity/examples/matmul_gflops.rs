//! GFLOP/s of one large plain matrix product `[R, M] × [M, C]` in libtorch on this machine:
//! the yardstick the affinity export's achieved GFLOP/s is divided by. Best of `repeats`.
//!
//! `cargo run --release -p ebsc-affinity --example matmul_gflops -- R M C REPEATS`

use std::time::Instant;

use tch::{Device, Kind, Tensor};

fn main() -> anyhow::Result<()> {
    let args: Vec<i64> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    anyhow::ensure!(args.len() == 4, "usage: R M C REPEATS");
    let (r, m, c, repeats) = (args[0], args[1], args[2], args[3]);
    let a = Tensor::randn([r, m], (Kind::Float, Device::Cpu));
    let b = Tensor::randn([c, m], (Kind::Float, Device::Cpu));
    let mut best = f64::INFINITY;
    for _ in 0..repeats {
        let started = Instant::now();
        let product = a.matmul(&b.tr());
        let _ = product.size();
        best = best.min(started.elapsed().as_secs_f64());
    }
    let gflops = 2.0 * (r * m * c) as f64 / best / 1e9;
    println!("{gflops:.2}");
    eprintln!("[{r}, {m}] × [{m}, {c}]: best {best:.4} s of {repeats}, {gflops:.2} GFLOP/s");
    Ok(())
}
