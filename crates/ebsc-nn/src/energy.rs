//! The two-tower energy network of docs/method.md: `u_i = q_θ(d_i)`, `v_j = k_θ(d_j)`, MLPs
//! with tanh outputs of width m, and the energy `E(d_i, d_j) = −κ·⟨d_i, d_j⟩ − ⟨u_i, v_j⟩`.
//!
//! The first term is the geometry of the dictionary itself (cosine similarity, as `d` has
//! unit rows) with a fixed weight κ (`geometry`); the towers learn a residual on top of it.
//! With the query tower's last layer at zero ([`EnergyNet::zero_residual`]) the residual
//! starts at 0, so an untrained model already ranks atoms as a cosine k-NN graph does and
//! training can only refine that. κ = 0 is the plain two-tower energy.
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
    /// T of the Gibbs map; recorded for `shrink` too when training had one (joint
    /// training's L_ebm), absent when nothing used it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// κ, the weight of the cosine term in the negative energy (0 in files written before
    /// it existed, which is the plain two-tower energy).
    #[serde(default)]
    pub geometry: f64,
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

impl Tower {
    /// Sets the last layer's weights and bias to zero: the tower outputs tanh(0) = 0.
    fn zero_output(&self) {
        let last = self.layers.last().expect("a tower has at least one layer");
        tch::no_grad(|| {
            let _ = last.ws.shallow_clone().zero_();
            if let Some(bias) = &last.bs {
                let _ = bias.shallow_clone().zero_();
            }
        });
    }
}

/// The query tower `q_θ`, the key tower `k_θ` and the weight κ of the cosine term.
#[derive(Debug)]
pub struct EnergyNet {
    pub shape: EnergyShape,
    pub query: Tower,
    pub key: Tower,
    /// κ ≥ 0: `−E = κ·⟨d_i, d_j⟩ + ⟨u_i, v_j⟩`.
    pub geometry: f64,
    /// Whether [`EnergyNet::scoring_rows`] and [`EnergyNet::scoring_queries`] include the
    /// towers' residual (always, unless inference asks for the cosine term alone).
    scores_residual: bool,
}

impl EnergyNet {
    /// Builds both towers under `p` (`p / "query"`, `p / "key"`).
    pub fn new(p: &nn::Path, shape: &EnergyShape, geometry: f64) -> EnergyNet {
        EnergyNet {
            shape: shape.clone(),
            query: Tower::new(p / "query", shape),
            key: Tower::new(p / "key", shape),
            geometry,
            scores_residual: true,
        }
    }

    /// Scores pairs with the cosine term `κ·⟨d_i, d_j⟩` alone from here on: the scoring
    /// rows are `√κ·d`, without the towers (the affinity stage's `residual = false`).
    /// Training (`negative_energies`) is unaffected.
    ///
    /// # Panics
    /// When κ = 0: the energy would then be 0 for every pair.
    pub fn score_cosine_only(&mut self) {
        assert!(
            self.geometry > 0.0,
            "an energy without a cosine term has nothing but its residual to score with"
        );
        self.scores_residual = false;
    }

    /// Starts the learned residual at zero (the query tower outputs 0; the key tower keeps
    /// its random weights, so the residual's gradient is not zero and it can grow).
    pub fn zero_residual(&self) {
        self.query.zero_output();
    }

    /// `s = −E` of every query row of `d` `[n, D]` against every atom row `[a, D]`:
    /// `[n, a]`.
    pub fn negative_energies(&self, d: &Tensor, atoms: &Tensor) -> Tensor {
        let s = negative_energy(&self.queries(d), &self.keys(atoms)); // [n, a]
        if self.geometry > 0.0 {
            s + d.matmul(&atoms.tr()) * self.geometry
        } else {
            s
        }
    }

    /// `(u', v')` with `u'·v'ᵀ = −E`: the towers' outputs with `√κ·d` appended, `[n, m + D]`
    /// each (or `[n, m]` when κ = 0), so that all pairs are one matrix product.
    /// With the residual left out ([`EnergyNet::score_cosine_only`]), `√κ·d` for both.
    pub fn scoring_rows(&self, d: &Tensor) -> (Tensor, Tensor) {
        if !self.scores_residual {
            let g = self.cosine_rows(d);
            return (g.shallow_clone(), g);
        }
        (self.scoring_queries(d), self.with_geometry(self.keys(d), d))
    }

    /// `u'` alone, for queries scored against atoms whose `v'` is already known.
    pub fn scoring_queries(&self, d: &Tensor) -> Tensor {
        if !self.scores_residual {
            return self.cosine_rows(d);
        }
        self.with_geometry(self.queries(d), d)
    }

    fn cosine_rows(&self, d: &Tensor) -> Tensor {
        d * self.geometry.sqrt()
    }

    /// `[t, √κ·d]`, or `t` when κ = 0.
    fn with_geometry(&self, t: Tensor, d: &Tensor) -> Tensor {
        if self.geometry > 0.0 {
            let g = self.cosine_rows(d).to_kind(t.kind());
            Tensor::cat(&[&t, &g], 1)
        } else {
            t
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
        let _net = EnergyNet::new(&(vs.root() / "energy"), &shape, 1.0);
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
        let net = EnergyNet::new(&vs.root(), &shape, 0.0);
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

    /// Random towers 4 → 8 → 3 with κ = 2.5 (seeded), and 5 random unit rows.
    fn small_net(seed: i64) -> (nn::VarStore, EnergyNet, Tensor) {
        tch::manual_seed(seed);
        let vs = nn::VarStore::new(Device::Cpu);
        let shape = EnergyShape {
            input_dim: 4,
            hidden: vec![8],
            out_dim: 3,
        };
        let net = EnergyNet::new(&vs.root(), &shape, 2.5);
        let d = Tensor::randn([5, 4], (Kind::Float, Device::Cpu));
        let d = &d / d.norm_scalaropt_dim(2, [1], true);
        (vs, net, d)
    }

    #[test]
    fn a_zero_residual_leaves_the_scaled_cosine_and_scoring_rows_agree() {
        let (vs, net, d) = small_net(3);
        // Random towers: −E = 2.5·d·dᵀ + u·vᵀ, and the scoring rows give the same product.
        let s = net.negative_energies(&d, &d);
        let expected = d.matmul(&d.tr()) * 2.5 + net.queries(&d).matmul(&net.keys(&d).tr());
        assert!(s.allclose(&expected, 1e-5, 1e-6, false));
        let (u, v) = net.scoring_rows(&d);
        assert_eq!(u.size(), vec![5, 3 + 4]);
        // No rows: still the scoring width (the affinity stage relies on it).
        let (u0, v0) = net.scoring_rows(&d.narrow(0, 0, 0));
        assert_eq!((u0.size(), v0.size()), (vec![0, 7], vec![0, 7]));
        assert!(u.matmul(&v.tr()).allclose(&s, 1e-5, 1e-5, false));
        // Zeroed query tower: exactly the scaled cosine, and the residual still gets a
        // gradient through the query tower's last layer.
        net.zero_residual();
        let s = net.negative_energies(&d, &d);
        assert!(s.allclose(&(d.matmul(&d.tr()) * 2.5), 1e-6, 1e-7, false));
        s.sum(Kind::Float).backward();
        let grad = vs.variables()["query.2.weight"].grad();
        assert!(grad.abs().sum(Kind::Float).double_value(&[]) > 0.0);
    }

    #[test]
    fn scoring_without_the_residual_is_the_scaled_cosine_and_training_keeps_it() {
        let (_vs, mut net, d) = small_net(4);
        let whole = net.negative_energies(&d, &d);
        net.score_cosine_only();
        let (u, v) = net.scoring_rows(&d);
        assert_eq!((u.size(), v.size()), (vec![5, 4], vec![5, 4]));
        let cosine = d.matmul(&d.tr()) * 2.5;
        assert!(u.matmul(&v.tr()).allclose(&cosine, 1e-5, 1e-6, false));
        assert!(net.scoring_queries(&d).allclose(&u, 0.0, 0.0, false));
        // The random towers' residual is not zero, and training still sees it.
        assert!(!whole.allclose(&cosine, 1e-3, 1e-3, false));
        assert!(
            net.negative_energies(&d, &d)
                .allclose(&whole, 0.0, 0.0, false)
        );
    }
}
