//! The backbones and the projection head, as tch modules with PyTorch-style names
//! (`conv1.weight`, `layer1.0.bn1.running_mean`, `downsample.0.weight` as torchvision).
//! Batch norm uses batch statistics in training mode and running statistics in eval mode.

use tch::nn::{self, ModuleT};
use tch::{Kind, Tensor};

fn conv3x3(p: nn::Path, c_in: i64, c_out: i64, stride: i64) -> nn::Conv2D {
    let config = nn::ConvConfig {
        stride,
        padding: 1,
        bias: false,
        ..Default::default()
    };
    nn::conv2d(p, c_in, c_out, 3, config)
}

fn bn2d(p: nn::Path, c: i64) -> nn::BatchNorm {
    nn::batch_norm2d(p, c, Default::default())
}

/// Fully connected layers with batch norm and ReLU, then a linear output layer.
#[derive(Debug)]
pub struct Mlp {
    hidden: Vec<(nn::Linear, nn::BatchNorm)>,
    out: nn::Linear,
}

impl Mlp {
    /// `fc1`/`bn1` … `fcK`/`bnK` for the hidden widths, `fc_out` last.
    pub fn new(p: &nn::Path, d_in: i64, hidden: &[i64], d_out: i64) -> Mlp {
        let mut layers = Vec::new();
        let mut width = d_in;
        for (i, &h) in hidden.iter().enumerate() {
            let lin = nn::linear(p / format!("fc{}", i + 1), width, h, Default::default());
            let bn = nn::batch_norm1d(p / format!("bn{}", i + 1), h, Default::default());
            layers.push((lin, bn));
            width = h;
        }
        let out = nn::linear(p / "fc_out", width, d_out, Default::default());
        Mlp {
            hidden: layers,
            out,
        }
    }
}

impl ModuleT for Mlp {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let mut x = xs.flatten(1, -1);
        for (lin, bn) in &self.hidden {
            x = x.apply(lin).apply_t(bn, train).relu();
        }
        x.apply(&self.out)
    }
}

/// A small CNN for 28×28 / 32×32 inputs: two blocks of two 3×3 convolutions + max-pool,
/// a third convolution, average pooling into a `pool`×`pool` grid (1: global). Output width
/// `4·width·pool²`.
#[derive(Debug)]
pub struct ConvNet {
    convs: Vec<(nn::Conv2D, nn::BatchNorm)>,
    pool: i64,
}

impl ConvNet {
    pub fn new(p: &nn::Path, channels: i64, width: i64, pool: i64) -> ConvNet {
        let plan = [
            ("block1", 1, channels, width),
            ("block1", 2, width, width),
            ("block2", 1, width, 2 * width),
            ("block2", 2, 2 * width, 2 * width),
            ("block3", 1, 2 * width, 4 * width),
        ];
        let convs = plan
            .iter()
            .map(|&(block, i, c_in, c_out)| {
                let b = p / block;
                (
                    conv3x3(&b / format!("conv{i}"), c_in, c_out, 1),
                    bn2d(&b / format!("bn{i}"), c_out),
                )
            })
            .collect();
        ConvNet { convs, pool }
    }
}

impl ModuleT for ConvNet {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let mut x = xs.shallow_clone();
        for (i, (conv, bn)) in self.convs.iter().enumerate() {
            x = x.apply(conv).apply_t(bn, train).relu();
            if i == 1 || i == 3 {
                x = x.max_pool2d_default(2);
            }
        }
        x.adaptive_avg_pool2d([self.pool, self.pool]).flatten(1, -1)
    }
}

/// torchvision's BasicBlock.
#[derive(Debug)]
struct BasicBlock {
    conv1: nn::Conv2D,
    bn1: nn::BatchNorm,
    conv2: nn::Conv2D,
    bn2: nn::BatchNorm,
    downsample: Option<(nn::Conv2D, nn::BatchNorm)>,
}

impl BasicBlock {
    fn new(p: nn::Path, c_in: i64, c_out: i64, stride: i64) -> BasicBlock {
        let downsample = (stride != 1 || c_in != c_out).then(|| {
            let d = &p / "downsample";
            let config = nn::ConvConfig {
                stride,
                bias: false,
                ..Default::default()
            };
            (
                nn::conv2d(&d / "0", c_in, c_out, 1, config),
                bn2d(&d / "1", c_out),
            )
        });
        BasicBlock {
            conv1: conv3x3(&p / "conv1", c_in, c_out, stride),
            bn1: bn2d(&p / "bn1", c_out),
            conv2: conv3x3(&p / "conv2", c_out, c_out, 1),
            bn2: bn2d(&p / "bn2", c_out),
            downsample,
        }
    }
}

impl ModuleT for BasicBlock {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let y = xs
            .apply(&self.conv1)
            .apply_t(&self.bn1, train)
            .relu()
            .apply(&self.conv2)
            .apply_t(&self.bn2, train);
        let shortcut = match &self.downsample {
            Some((conv, bn)) => xs.apply(conv).apply_t(bn, train),
            None => xs.shallow_clone(),
        };
        (y + shortcut).relu()
    }
}

/// ResNet-18 with the CIFAR stem (3×3 stride-1 first convolution, no max-pool) and no
/// classifier; output width `8·width` (512 at the standard width 64).
#[derive(Debug)]
pub struct ResNet18 {
    conv1: nn::Conv2D,
    bn1: nn::BatchNorm,
    blocks: Vec<BasicBlock>,
}

impl ResNet18 {
    pub fn new(p: &nn::Path, channels: i64, width: i64) -> ResNet18 {
        let mut blocks = Vec::new();
        let mut c_in = width;
        for (layer, mult, stride) in [(1, 1, 1), (2, 2, 2), (3, 4, 2), (4, 8, 2)] {
            let c_out = width * mult;
            let l = p / format!("layer{layer}");
            blocks.push(BasicBlock::new(&l / "0", c_in, c_out, stride));
            blocks.push(BasicBlock::new(&l / "1", c_out, c_out, 1));
            c_in = c_out;
        }
        ResNet18 {
            conv1: conv3x3(p / "conv1", channels, width, 1),
            bn1: bn2d(p / "bn1", width),
            blocks,
        }
    }
}

impl ModuleT for ResNet18 {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let mut x = xs.apply(&self.conv1).apply_t(&self.bn1, train).relu();
        for block in &self.blocks {
            x = x.apply_t(block, train);
        }
        x.adaptive_avg_pool2d([1, 1]).flatten(1, -1)
    }
}

/// SimCLR's projection head: `fc1` → `bn1` → ReLU → `fc2`, output L2-normalised.
#[derive(Debug)]
pub struct Head {
    fc1: nn::Linear,
    bn1: nn::BatchNorm,
    fc2: nn::Linear,
}

impl Head {
    pub fn new(p: &nn::Path, d_in: i64, hidden: i64, d_out: i64) -> Head {
        Head {
            fc1: nn::linear(p / "fc1", d_in, hidden, Default::default()),
            bn1: nn::batch_norm1d(p / "bn1", hidden, Default::default()),
            fc2: nn::linear(p / "fc2", hidden, d_out, Default::default()),
        }
    }
}

impl ModuleT for Head {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let z = xs
            .apply(&self.fc1)
            .apply_t(&self.bn1, train)
            .relu()
            .apply(&self.fc2);
        l2_normalize(&z)
    }
}

/// Rows scaled to unit L2 norm (zero rows stay zero), as `F.normalize(x, dim=1)`.
pub fn l2_normalize(x: &Tensor) -> Tensor {
    let x = x.flatten(1, -1);
    let norm = x
        .to_kind(Kind::Float)
        .square()
        .sum_dim_intlist([1i64].as_slice(), true, Kind::Float)
        .sqrt()
        .clamp_min(1e-12);
    let kind = x.kind();
    x / norm.to_kind(kind)
}
