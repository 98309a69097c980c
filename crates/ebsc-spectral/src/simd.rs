//! Hot loops compiled a second time with AVX2, chosen at run time.
//!
//! The workspace builds for baseline x86-64 (SSE2: two f64 per instruction), so that its
//! binaries run on any x86-64 CPU. The loops that dominate the cluster stage — the sparse
//! product, residuals, k-means distances — run twice as wide with AVX2, which nearly every
//! x86-64 CPU since 2013 has. Rust never fuses a multiply and an add on its own, so both
//! builds of a loop round identically and give the same bits.

/// Runs `body` compiled with AVX2 enabled when the CPU has it, else as built.
///
/// Pass the closure as `#[inline(always)] || …`: only code inlined into the AVX2 copy is
/// compiled for AVX2 (a closure left out of line runs as built). Calls the body does not
/// inline (to other crates' kernels, say) run as they were built.
#[inline(always)]
pub(crate) fn wide<R>(body: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU was just found to have AVX2.
        #[allow(unsafe_code)]
        return unsafe { with_avx2(body) };
    }
    body()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn with_avx2<R>(body: impl FnOnce() -> R) -> R {
    body()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wide_copy_computes_what_the_baseline_does() {
        let values: Vec<f64> = (0..1000).map(|i| (i as f64 * 0.37).sin()).collect();
        let sum_of_squares = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>();
        let baseline = sum_of_squares(&values);
        let wide_result = wide(
            #[inline(always)]
            || sum_of_squares(&values),
        );
        assert_eq!(baseline.to_bits(), wide_result.to_bits());
    }
}
