//! The two-tower energy network of DESIGN.md §1: `u_i = q_θ(d_i)`, `v_j = k_θ(d_j)`, MLPs
//! with tanh outputs of width m, and the energy `E(d_i, d_j) = −⟨u_i, v_j⟩`.
//!
//! Weights are named as PyTorch's `nn.Sequential(Linear, ReLU, …, Linear, Tanh)` would name
//! them under the module names `query` and `key`: `query.0.weight`, `query.2.bias`, …, so a
//! Python `EnergyNet` with the same layout loads them unchanged.

use serde::{Deserialize, Serialize};
use tch::{Tensor, nn, nn::Module};

/// Shape of both towers: the dictionary width in, `hidden` ReLU layers, `out_dim` (m) tanh out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnergyShape {
    pub input_dim: i64,
    pub hidden: Vec<i64>,
    pub out_dim: i64,
}

/// Metadata key of a model file under which [`EnergyMetadata`] is stored as JSON.
pub const ENERGY_METADATA_KEY: &str = "energy";

/// What a model file says about its energy network, so that the affinity stage rebuilds
/// the towers and applies the same coefficient map as training did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnergyMetadata {
    pub shape: EnergyShape,
    pub coefficients: crate::coefficients::CoefficientKind,
    /// T of the Gibbs map (recorded for `shrink` too).
    pub temperature: f64,
    /// The encoder's spec (as `encoders::SPEC_KEY` holds it in `encoder.safetensors`),
    /// for a model file that also carries the encoder. Nested here rather than under a
    /// second metadata key: safetensors writes its metadata map in hash order, so two keys
    /// would make the file's bytes differ from run to run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoder: Option<serde_json::Value>,
}

/// One tower: Linear → ReLU → … → Linear → tanh.
#[derive(Debug)]
pub struct Tower {
    layers: Vec<nn::Linear>,
}

impl Tower {
    pub fn new(p: nn::Path, shape: &EnergyShape) -> Tower {
        let mut widths = vec![shape.input_dim];
        widths.extend(&shape.hidden);
        widths.push(shape.out_dim);
        let layers = widths
            .windows(2)
            .enumerate()
            // Sequential indices: a Linear at 2i, its ReLU (no weights) at 2i + 1.
            .map(|(i, w)| nn::linear(&p / (2 * i), w[0], w[1], Default::default()))
            .collect();
        Tower { layers }
    }
}

impl Module for Tower {
    fn forward(&self, xs: &Tensor) -> Tensor {
        let last = self.layers.len() - 1;
        let mut x = xs.shallow_clone();
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(&x);
            x = if i == last { x.tanh() } else { x.relu() };
        }
        x
    }
}

/// The query tower `q_θ` and the key tower `k_θ`.
#[derive(Debug)]
pub struct EnergyNet {
    pub shape: EnergyShape,
    pub query: Tower,
    pub key: Tower,
}

impl EnergyNet {
    /// Builds both towers under `p` (`p / "query"`, `p / "key"`).
    pub fn new(p: &nn::Path, shape: &EnergyShape) -> EnergyNet {
        EnergyNet {
            shape: shape.clone(),
            query: Tower::new(p / "query", shape),
            key: Tower::new(p / "key", shape),
        }
    }

    pub fn out_dim(&self) -> i64 {
        self.shape.out_dim
    }

    /// `u = q(d)`: `[n, D] → [n, m]`.
    pub fn queries(&self, d: &Tensor) -> Tensor {
        self.query.forward(d)
    }

    /// `v = k(d)`: `[n, D] → [n, m]`.
    pub fn keys(&self, d: &Tensor) -> Tensor {
        self.key.forward(d)
    }
}

/// `s = −E = u·vᵀ`: `[n, m] × [a, m] → [n, a]`, the negative energies of every pair.
pub fn negative_energy(u: &Tensor, v: &Tensor) -> Tensor {
    u.matmul(&v.tr())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    #[test]
    fn weights_have_pytorch_sequential_names_and_shapes() {
        let vs = nn::VarStore::new(Device::Cpu);
        let shape = EnergyShape {
            input_dim: 5,
            hidden: vec![7, 6],
            out_dim: 3,
        };
        let _net = EnergyNet::new(&(vs.root() / "energy"), &shape);
        let mut names: Vec<(String, Vec<i64>)> = vs
            .variables()
            .into_iter()
            .map(|(n, t)| (n, t.size()))
            .collect();
        names.sort();
        let expected = [
            ("energy.key.0.bias", vec![7]),
            ("energy.key.0.weight", vec![7, 5]),
            ("energy.key.2.bias", vec![6]),
            ("energy.key.2.weight", vec![6, 7]),
            ("energy.key.4.bias", vec![3]),
            ("energy.key.4.weight", vec![3, 6]),
        ];
        for (name, size) in expected {
            assert!(
                names.iter().any(|(n, s)| n == name && *s == size),
                "{name} {size:?} missing from {names:?}"
            );
        }
        assert_eq!(names.len(), 12, "six tensors per tower");
    }

    #[test]
    fn tower_output_is_tanh_of_the_mlp_and_energy_is_minus_the_inner_product() {
        let vs = nn::VarStore::new(Device::Cpu);
        let shape = EnergyShape {
            input_dim: 2,
            hidden: vec![],
            out_dim: 2,
        };
        let net = EnergyNet::new(&vs.root(), &shape);
        tch::no_grad(|| {
            // query: W = [[1, 0], [0, 2]], b = [0, 0.5]; key: W = I, b = 0.
            let mut vars = vs.variables();
            vars.get_mut("query.0.weight")
                .unwrap()
                .copy_(&Tensor::from_slice(&[1f32, 0., 0., 2.]).view([2, 2]));
            vars.get_mut("query.0.bias")
                .unwrap()
                .copy_(&Tensor::from_slice(&[0f32, 0.5]));
            vars.get_mut("key.0.weight")
                .unwrap()
                .copy_(&Tensor::from_slice(&[1f32, 0., 0., 1.]).view([2, 2]));
            let _ = vars.get_mut("key.0.bias").unwrap().zero_();
        });
        let d = Tensor::from_slice(&[1f32, 0., 0., 1.]).view([2, 2]);
        let u = net.queries(&d);
        let v = net.keys(&d);
        // u_0 = tanh([1, 0.5]), u_1 = tanh([0, 2.5]); v_0 = tanh([1, 0]), v_1 = tanh([0, 1]).
        let (t1, t05, t25) = (1f64.tanh(), 0.5f64.tanh(), 2.5f64.tanh());
        let s = negative_energy(&u, &v);
        let expected = [t1 * t1, t05 * t1, 0.0, t25 * t1];
        let got: Vec<f64> = Vec::try_from(s.to_kind(Kind::Double).view([-1])).unwrap();
        for (g, e) in got.iter().zip(expected) {
            assert!((g - e).abs() < 1e-6, "{got:?} vs {expected:?}");
        }
    }
}
