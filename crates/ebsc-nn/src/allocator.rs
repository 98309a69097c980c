//! Keeps freed tensor memory in the process for the next step.
//!
//! libtorch's CPU tensors come from glibc's `malloc`. glibc serves blocks above its mmap
//! threshold (128 KiB, raised on the fly to at most 32 MiB) with fresh `mmap`s and gives
//! them back on free, so a training step that allocates the same activations every time
//! pays a page fault and a zeroed page for every 4 KiB of them, every step. A convnet step
//! on 2×256 MNIST-sized views (`examples/bench_step.rs`) spent ~2 M page faults in 7
//! steps that way; with the thresholds below the blocks are reused from the heap.

/// Blocks up to this size come from the heap and return to it when freed.
const MMAP_THRESHOLD: i32 = 256 << 20;
/// Free memory at the top of the heap kept before returning it to the kernel.
const TRIM_THRESHOLD: i32 = 512 << 20;

/// Raises glibc's mmap and trim thresholds (see the module docs). Costs peak memory:
/// freed blocks are held for reuse instead of being unmapped. A no-op on other C
/// libraries. Returns whether the allocator accepted both settings.
pub fn reuse_freed_tensor_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        #[allow(unsafe_code)]
        // SAFETY: mallopt only changes allocator parameters; glibc takes its own locks.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    false
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn glibc_accepts_the_thresholds() {
        assert!(super::reuse_freed_tensor_memory());
    }
}
