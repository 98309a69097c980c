//! Optimizers written on tensors, so that their state can be saved and restored
//! (tch's built-in optimizer keeps its moments inside libtorch where we cannot read them).
//!
//! The updates follow PyTorch's `torch.optim.Adam`, `AdamW` and `SGD` (momentum, optional
//! Nesterov) step for step. Weight decay applies to matrices and convolution kernels only
//! (tensors of rank ≥ 2); biases and batch-norm scales are not decayed, the usual choice for
//! contrastive training.
//!
//! ```ignore
//! let mut opt = Optimizer::new(&config, &vs);
//! opt.zero_grad();
//! loss.backward();
//! clip_grad_norm(opt.params(), 1.0);
//! opt.step(schedule.lr_at(step));
//! let state = opt.state_tensors();          // into a checkpoint
//! opt.load_state_tensors(&state)?;          // on resume
//! ```

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor, nn::VarStore};

/// Which update rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// Adam with L2 weight decay added to the gradient.
    Adam,
    /// Adam with decoupled weight decay (Loshchilov & Hutter).
    AdamW,
    /// SGD with momentum; weight decay added to the gradient.
    Sgd,
}

/// The `[<stage>.optimizer]` table of a pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerConfig {
    pub kind: OptimizerKind,
    /// Peak learning rate (the schedule scales it).
    pub lr: f64,
    #[serde(default)]
    pub weight_decay: f64,
    /// Adam's (β1, β2).
    #[serde(default = "default_betas")]
    pub betas: [f64; 2],
    #[serde(default = "default_eps")]
    pub eps: f64,
    /// SGD's momentum.
    #[serde(default = "default_momentum")]
    pub momentum: f64,
    #[serde(default)]
    pub nesterov: bool,
}

fn default_betas() -> [f64; 2] {
    [0.9, 0.999]
}
fn default_eps() -> f64 {
    1e-8
}
fn default_momentum() -> f64 {
    0.9
}

impl OptimizerConfig {
    pub fn adam(lr: f64) -> OptimizerConfig {
        OptimizerConfig {
            kind: OptimizerKind::Adam,
            lr,
            weight_decay: 0.0,
            betas: default_betas(),
            eps: default_eps(),
            momentum: default_momentum(),
            nesterov: false,
        }
    }

    /// Checks ranges; the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(format!("optimizer.lr must be > 0, got {}", self.lr));
        }
        if self.weight_decay.is_nan() || self.weight_decay < 0.0 {
            return Err("optimizer.weight_decay must be ≥ 0".into());
        }
        if self.betas.iter().any(|b| !(0.0..1.0).contains(b)) {
            return Err("optimizer.betas must lie in [0, 1)".into());
        }
        if self.eps.is_nan() || self.eps <= 0.0 {
            return Err("optimizer.eps must be > 0".into());
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return Err("optimizer.momentum must lie in [0, 1)".into());
        }
        Ok(())
    }
}

/// One trainable tensor and its moments.
struct Param {
    name: String,
    tensor: Tensor,
    decay: bool,
    /// Multiplies the schedule's learning rate for this tensor (PyTorch's per-group lr).
    lr_scale: f64,
    /// Adam: first moment; SGD: momentum buffer.
    m: Tensor,
    /// Adam: second moment (undefined for SGD).
    v: Option<Tensor>,
}

/// An optimizer over the trainable variables of a [`VarStore`], with saveable state.
pub struct Optimizer {
    config: OptimizerConfig,
    params: Vec<Param>,
    /// Number of `step` calls so far (Adam's bias correction needs it).
    steps: u64,
}

impl Optimizer {
    /// Takes the store's trainable variables (those with `requires_grad`), sorted by name.
    pub fn new(config: &OptimizerConfig, vs: &VarStore) -> Optimizer {
        let mut named: Vec<(String, Tensor)> = vs
            .variables()
            .into_iter()
            .filter(|(_, t)| t.requires_grad())
            .collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        Self::from_named(config, named)
    }

    /// Over explicit named tensors (each must require grad).
    pub fn from_named(config: &OptimizerConfig, named: Vec<(String, Tensor)>) -> Optimizer {
        let adam = config.kind != OptimizerKind::Sgd;
        let params = named
            .into_iter()
            .map(|(name, tensor)| {
                let m = tensor.zeros_like().detach();
                let v = adam.then(|| tensor.zeros_like().detach());
                Param {
                    decay: tensor.dim() >= 2,
                    lr_scale: 1.0,
                    name,
                    tensor,
                    m,
                    v,
                }
            })
            .collect();
        Optimizer {
            config: config.clone(),
            params,
            steps: 0,
        }
    }

    pub fn config(&self) -> &OptimizerConfig {
        &self.config
    }

    /// Scales the learning rate of every tensor whose name `selects` (e.g. a lower rate
    /// for a pretrained encoder than for a new head). Not saved in the state: it is config.
    pub fn scale_lr(&mut self, selects: impl Fn(&str) -> bool, scale: f64) {
        for p in self.params.iter_mut().filter(|p| selects(&p.name)) {
            p.lr_scale = scale;
        }
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// The optimised tensors, for gradient clipping.
    pub fn params(&self) -> Vec<&Tensor> {
        self.params.iter().map(|p| &p.tensor).collect()
    }

    pub fn zero_grad(&mut self) {
        for p in &mut self.params {
            p.tensor.zero_grad();
        }
    }

    /// One update with learning rate `lr`; parameters without a gradient are left alone.
    pub fn step(&mut self, lr: f64) {
        self.steps += 1;
        let c = &self.config;
        let t = self.steps as i32;
        let base_lr = lr;
        tch::no_grad(|| {
            for p in &mut self.params {
                let mut grad = p.tensor.grad();
                if !grad.defined() {
                    continue;
                }
                let lr = base_lr * p.lr_scale;
                let wd = if p.decay { c.weight_decay } else { 0.0 };
                match c.kind {
                    OptimizerKind::Adam | OptimizerKind::AdamW => {
                        if wd > 0.0 {
                            if c.kind == OptimizerKind::AdamW {
                                p.tensor *= 1.0 - lr * wd;
                            } else {
                                grad = &grad + &p.tensor * wd;
                            }
                        }
                        let [b1, b2] = c.betas;
                        p.m *= b1;
                        p.m += &grad * (1.0 - b1);
                        let v = p.v.as_mut().expect("Adam keeps a second moment");
                        *v *= b2;
                        *v += (&grad * &grad) * (1.0 - b2);
                        let bias1 = 1.0 - b1.powi(t);
                        let bias2 = 1.0 - b2.powi(t);
                        let denom = v.sqrt() / bias2.sqrt() + c.eps;
                        p.tensor -= (&p.m / denom) * (lr / bias1);
                    }
                    OptimizerKind::Sgd => {
                        if wd > 0.0 {
                            grad = &grad + &p.tensor * wd;
                        }
                        if c.momentum > 0.0 {
                            // PyTorch: the buffer starts as the first gradient.
                            if t == 1 {
                                p.m.copy_(&grad);
                            } else {
                                p.m *= c.momentum;
                                p.m += &grad;
                            }
                            grad = if c.nesterov {
                                &grad + &p.m * c.momentum
                            } else {
                                p.m.shallow_clone()
                            };
                        }
                        p.tensor -= grad * lr;
                    }
                }
            }
        });
    }

    /// The state as named tensors (`m.<param>`, `v.<param>`, `steps`), on the CPU,
    /// ready for a safetensors checkpoint.
    pub fn state_tensors(&self) -> Vec<(String, Tensor)> {
        let mut out = vec![(
            "steps".to_string(),
            Tensor::from_slice(&[self.steps as i64]),
        )];
        for p in &self.params {
            out.push((format!("m.{}", p.name), snapshot(&p.m)));
            if let Some(v) = &p.v {
                out.push((format!("v.{}", p.name), snapshot(v)));
            }
        }
        out
    }

    /// Restores state saved by [`Optimizer::state_tensors`] of an optimizer over the same
    /// parameters; every tensor must be there with the right shape.
    pub fn load_state_tensors(&mut self, state: &[(String, Tensor)]) -> anyhow::Result<()> {
        let by_name: HashMap<&str, &Tensor> = state.iter().map(|(n, t)| (n.as_str(), t)).collect();
        let get = |name: &str, like: &Tensor| -> anyhow::Result<Tensor> {
            let t = by_name
                .get(name)
                .ok_or_else(|| anyhow::anyhow!("optimizer state has no `{name}`"))?;
            anyhow::ensure!(
                t.size() == like.size(),
                "optimizer state `{name}` has shape {:?}, expected {:?}",
                t.size(),
                like.size()
            );
            Ok(t.to_kind(like.kind()).to_device(like.device()))
        };
        let steps = by_name
            .get("steps")
            .ok_or_else(|| anyhow::anyhow!("optimizer state has no `steps`"))?;
        let steps = steps.to_kind(Kind::Int64).int64_value(&[0]);
        tch::no_grad(|| -> anyhow::Result<()> {
            for p in &mut self.params {
                let m = get(&format!("m.{}", p.name), &p.m)?;
                p.m.copy_(&m);
                if let Some(v) = &mut p.v {
                    let loaded = get(&format!("v.{}", p.name), v)?;
                    v.copy_(&loaded);
                }
            }
            Ok(())
        })?;
        self.steps = u64::try_from(steps).unwrap_or(0);
        Ok(())
    }
}

/// A CPU copy that later in-place updates do not change (`to_device` to the same device
/// would alias).
fn snapshot(t: &Tensor) -> Tensor {
    t.detach().copy().to_device(tch::Device::Cpu)
}

/// Scales gradients so that their global L2 norm is at most `max_norm` (as PyTorch's
/// `clip_grad_norm_`); returns the norm before clipping.
pub fn clip_grad_norm(params: &[&Tensor], max_norm: f64) -> f64 {
    tch::no_grad(|| {
        let grads: Vec<Tensor> = params
            .iter()
            .map(|p| p.grad())
            .filter(|g| g.defined())
            .collect();
        if grads.is_empty() {
            return 0.0;
        }
        let squares: Vec<Tensor> = grads.iter().map(|g| g.square().sum(Kind::Float)).collect();
        let total = Tensor::stack(&squares, 0)
            .sum(Kind::Float)
            .sqrt()
            .double_value(&[]);
        let coef = max_norm / (total + 1e-6);
        if coef < 1.0 {
            for mut g in grads {
                g *= coef;
            }
        }
        total
    })
}

#[cfg(test)]
mod tests {
    use tch::Device;

    use super::*;

    /// One parameter x = [1, -2] with loss ½‖x‖² (gradient = x).
    fn setup(config: &OptimizerConfig) -> (Tensor, Optimizer) {
        let x = Tensor::from_slice(&[1.0f32, -2.0]).set_requires_grad(true);
        let opt = Optimizer::from_named(config, vec![("x".into(), x.shallow_clone())]);
        (x, opt)
    }

    fn step(x: &Tensor, opt: &mut Optimizer, lr: f64) {
        opt.zero_grad();
        (x * x).sum(Kind::Float).multiply_scalar(0.5).backward();
        opt.step(lr);
    }

    fn values(x: &Tensor) -> Vec<f32> {
        Vec::<f32>::try_from(x.detach()).unwrap()
    }

    #[test]
    fn adam_first_step_moves_by_lr_against_the_sign() {
        // Step 1: m̂ = g, v̂ = g², so the update is lr·g/(|g|+eps) ≈ lr·sign(g).
        let (x, mut opt) = setup(&OptimizerConfig::adam(0.1));
        step(&x, &mut opt, 0.1);
        let got = values(&x);
        assert!(
            (got[0] - 0.9).abs() < 1e-6 && (got[1] + 1.9).abs() < 1e-6,
            "{got:?}"
        );
    }

    #[test]
    fn a_scaled_tensor_moves_by_its_scaled_rate() {
        // Plain SGD, lr 0.1: x = 1 → 0.9; with the scale 0.5 applied to "y": y = 1 → 0.95.
        let mut config = OptimizerConfig::adam(0.1);
        config.kind = OptimizerKind::Sgd;
        config.momentum = 0.0;
        let x = Tensor::from_slice(&[1.0f32]).set_requires_grad(true);
        let y = Tensor::from_slice(&[1.0f32]).set_requires_grad(true);
        let mut opt = Optimizer::from_named(
            &config,
            vec![
                ("x".into(), x.shallow_clone()),
                ("y".into(), y.shallow_clone()),
            ],
        );
        opt.scale_lr(|name| name == "y", 0.5);
        opt.zero_grad();
        (&x + &y).sum(Kind::Float).backward();
        opt.step(0.1);
        assert!((values(&x)[0] - 0.9).abs() < 1e-6);
        assert!((values(&y)[0] - 0.95).abs() < 1e-6);
    }

    #[test]
    fn sgd_momentum_matches_hand_computation() {
        let mut config = OptimizerConfig::adam(0.1);
        config.kind = OptimizerKind::Sgd;
        config.momentum = 0.5;
        let (x, mut opt) = setup(&config);
        // Step 1: buf = g = 1 → x = 1 − 0.1 = 0.9.
        step(&x, &mut opt, 0.1);
        // Step 2: g = 0.9, buf = 0.5·1 + 0.9 = 1.4 → x = 0.9 − 0.14 = 0.76.
        step(&x, &mut opt, 0.1);
        let got = values(&x);
        assert!((got[0] - 0.76).abs() < 1e-6, "{got:?}");
        assert!((got[1] + 1.52).abs() < 1e-6, "{got:?}");
    }

    #[test]
    fn adamw_decays_matrices_only() {
        let mut config = OptimizerConfig::adam(0.1);
        config.kind = OptimizerKind::AdamW;
        config.weight_decay = 0.5;
        let w = Tensor::ones([1, 1], (Kind::Float, Device::Cpu)).set_requires_grad(true);
        let b = Tensor::ones([1], (Kind::Float, Device::Cpu)).set_requires_grad(true);
        let mut opt = Optimizer::from_named(
            &config,
            vec![
                ("w".into(), w.shallow_clone()),
                ("b".into(), b.shallow_clone()),
            ],
        );
        opt.zero_grad();
        // Zero gradients: only decay moves w (1·(1 − 0.1·0.5) = 0.95); b stays at 1.
        ((&w + &b) * 0.0).sum(Kind::Float).backward();
        opt.step(0.1);
        assert!((w.double_value(&[0, 0]) - 0.95).abs() < 1e-6);
        assert_eq!(b.double_value(&[0]), 1.0);
    }

    #[test]
    fn saved_state_continues_identically() {
        let config = OptimizerConfig::adam(0.05);
        let (x, mut opt) = setup(&config);
        for _ in 0..3 {
            step(&x, &mut opt, 0.05);
        }
        let state = opt.state_tensors();
        let saved_x = x.detach().copy();
        step(&x, &mut opt, 0.05);
        // A fresh optimizer with the restored state and weights takes the same step.
        let (y, mut fresh) = setup(&config);
        tch::no_grad(|| y.shallow_clone().copy_(&saved_x));
        fresh.load_state_tensors(&state).unwrap();
        assert_eq!(fresh.steps(), 3);
        step(&y, &mut fresh, 0.05);
        assert_eq!(values(&x), values(&y));
        let err = fresh
            .load_state_tensors(&state[..1])
            .unwrap_err()
            .to_string();
        assert!(err.contains("no `m.x`"), "{err}");
    }

    #[test]
    fn clipping_scales_to_the_max_norm() {
        let (x, opt) = setup(&OptimizerConfig::adam(0.1));
        (&x * &x).sum(Kind::Float).multiply_scalar(0.5).backward();
        // g = [1, −2], ‖g‖ = √5 ≈ 2.236; clipped to norm 1: g/√5.
        let norm = clip_grad_norm(&opt.params(), 1.0);
        assert!((norm - 5f64.sqrt()).abs() < 1e-6);
        let g = values(&x.grad());
        assert!((g[0] as f64 - 1.0 / 5f64.sqrt()).abs() < 1e-5, "{g:?}");
    }
}
