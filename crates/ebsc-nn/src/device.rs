//! `--device auto|cpu|cuda[:i]` and `--threads N`, shared by every stage that runs tensors.

use std::str::FromStr;

use tch::Device;

/// What the user asked for; [`resolve_device`] turns it into a device that exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceChoice {
    /// The first CUDA device when one is usable, else the CPU.
    Auto,
    Cpu,
    Cuda(usize),
}

impl FromStr for DeviceChoice {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "auto" => Ok(DeviceChoice::Auto),
            "cpu" => Ok(DeviceChoice::Cpu),
            "cuda" => Ok(DeviceChoice::Cuda(0)),
            other => other
                .strip_prefix("cuda:")
                .and_then(|i| i.parse().ok())
                .map(DeviceChoice::Cuda)
                .ok_or_else(|| {
                    format!("unknown device `{other}`; expected auto, cpu, cuda or cuda:N")
                }),
        }
    }
}

/// The device to run on; asking for a GPU that is not there is an error, not a silent CPU run.
pub fn resolve_device(choice: DeviceChoice) -> anyhow::Result<Device> {
    let n_gpus = if tch::Cuda::is_available() {
        tch::Cuda::device_count() as usize
    } else {
        0
    };
    match choice {
        DeviceChoice::Cpu => Ok(Device::Cpu),
        DeviceChoice::Auto if n_gpus > 0 => Ok(Device::Cuda(0)),
        DeviceChoice::Auto => Ok(Device::Cpu),
        DeviceChoice::Cuda(i) if i < n_gpus => Ok(Device::Cuda(i)),
        DeviceChoice::Cuda(i) => {
            anyhow::bail!("--device cuda:{i} asked for, but libtorch sees {n_gpus} CUDA device(s)")
        }
    }
}

/// `--device` and `--threads`, for every stage that runs tensors (flatten into its Args).
#[derive(Debug, Clone, clap::Args)]
pub struct DeviceArgs {
    /// Where tensors run: auto (first GPU if any, else CPU), cpu, cuda, cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    /// CPU threads for libtorch (0: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

impl DeviceArgs {
    /// Applies the thread count and the allocator settings, and resolves the device.
    pub fn apply(&self) -> anyhow::Result<Device> {
        crate::allocator::reuse_freed_tensor_memory();
        set_threads(self.threads);
        resolve_device(self.device)
    }
}

/// Sets libtorch's intra-op thread count; 0 keeps libtorch's default (one per core).
pub fn set_threads(threads: usize) {
    if threads > 0 {
        tch::set_num_threads(threads as i32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_device_names() {
        assert_eq!("auto".parse(), Ok(DeviceChoice::Auto));
        assert_eq!("cpu".parse(), Ok(DeviceChoice::Cpu));
        assert_eq!("cuda".parse(), Ok(DeviceChoice::Cuda(0)));
        assert_eq!("cuda:1".parse(), Ok(DeviceChoice::Cuda(1)));
        assert!(
            "gpu"
                .parse::<DeviceChoice>()
                .unwrap_err()
                .contains("expected auto, cpu")
        );
    }

    #[test]
    fn libtorch_runs_on_the_resolved_device() {
        // Links and runs against the venv's libtorch with no LD_LIBRARY_PATH (rpath).
        let device = resolve_device(DeviceChoice::Auto).unwrap();
        let x = tch::Tensor::from_slice(&[1.0f32, 2.0, 3.0]).to_device(device);
        let total = (&x * &x).sum(tch::Kind::Float).double_value(&[]);
        assert_eq!(total, 14.0); // 1 + 4 + 9
        assert_eq!(resolve_device(DeviceChoice::Cpu).unwrap(), Device::Cpu);
        if !tch::Cuda::is_available() {
            assert!(resolve_device(DeviceChoice::Cuda(0)).is_err());
        }
    }
}
