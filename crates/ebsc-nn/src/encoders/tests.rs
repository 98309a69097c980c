use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use super::*;

fn images(c: i64, side: i64) -> InputSpec {
    InputSpec::Images {
        channels: c,
        height: side,
        width: side,
        mean: vec![0.5; c as usize],
        std: vec![0.25; c as usize],
    }
}

fn build(encoder: EncoderConfig, input: InputSpec) -> (Model, VarStore) {
    let vs = VarStore::new(Device::Cpu);
    let spec = EncoderSpec {
        encoder,
        head: Some(HeadConfig {
            hidden: 16,
            out_dim: 8,
        }),
        input,
    };
    let model = Model::new(&vs, &spec).unwrap();
    init_weights(&vs, 3);
    (model, vs)
}

fn batch(shape: &[i64]) -> Tensor {
    let n: i64 = shape.iter().product();
    // Deterministic values in [0, 1].
    let values: Vec<f32> = (0..n).map(|i| ((i * 37) % 101) as f32 / 100.0).collect();
    Tensor::from_slice(&values).view(shape)
}

/// Forward in train mode, then every trainable variable gets a finite, non-zero gradient.
fn check_shapes_and_gradients(model: &Model, vs: &VarStore, x: &Tensor, dim: i64) {
    let h = model.backbone(x, true);
    assert_eq!(h.size(), [x.size()[0], dim]);
    let z = model.head(&h, true);
    assert_eq!(z.size(), [x.size()[0], 8]);
    // Rows of z have unit norm.
    let norms = Vec::<f32>::try_from(z.square().sum_dim_intlist(
        [1i64].as_slice(),
        false,
        Kind::Float,
    ))
    .unwrap();
    assert!(norms.iter().all(|n| (n - 1.0).abs() < 1e-5), "{norms:?}");
    // A loss that depends on every output (a plain sum of normalised rows would not).
    (z.narrow(1, 0, 1).sum(Kind::Float) + h.square().mean(Kind::Float)).backward();
    for (name, var) in vs.variables() {
        if !var.requires_grad() {
            continue;
        }
        let g = var.grad();
        assert!(g.defined(), "{name}: no gradient");
        let total = g.abs().sum(Kind::Float).double_value(&[]);
        assert!(total.is_finite() && total > 0.0, "{name}: gradient {total}");
    }
}

#[test]
fn mlp_shapes_gradients_and_names() {
    let (model, vs) = build(
        EncoderConfig::Mlp {
            hidden: vec![12],
            out_dim: 6,
        },
        InputSpec::Features { dim: 10 },
    );
    check_shapes_and_gradients(&model, &vs, &batch(&[4, 10]), 6);
    let mut names: Vec<String> = vs.variables().into_keys().collect();
    names.sort();
    assert_eq!(
        names,
        [
            "encoder.bn1.bias",
            "encoder.bn1.running_mean",
            "encoder.bn1.running_var",
            "encoder.bn1.weight",
            "encoder.fc1.bias",
            "encoder.fc1.weight",
            "encoder.fc_out.bias",
            "encoder.fc_out.weight",
            "head.bn1.bias",
            "head.bn1.running_mean",
            "head.bn1.running_var",
            "head.bn1.weight",
            "head.fc1.bias",
            "head.fc1.weight",
            "head.fc2.bias",
            "head.fc2.weight",
        ]
    );
}

#[test]
fn convnet_shapes_and_gradients_gray_and_rgb() {
    let (model, vs) = build(EncoderConfig::Convnet { width: 4, pool: 1 }, images(1, 28));
    check_shapes_and_gradients(&model, &vs, &batch(&[3, 1, 28, 28]), 16);
    let (model, vs) = build(EncoderConfig::Convnet { width: 4, pool: 1 }, images(3, 32));
    check_shapes_and_gradients(&model, &vs, &batch(&[2, 3, 32, 32]), 16);
    // A 3×3 pooling grid keeps nine cells of the 16 channels: 144 wide, same variables.
    let (model, vs) = build(EncoderConfig::Convnet { width: 4, pool: 3 }, images(1, 28));
    check_shapes_and_gradients(&model, &vs, &batch(&[3, 1, 28, 28]), 144);
}

#[test]
fn convnet_pool_is_checked_and_left_out_of_the_spec_at_its_default() {
    let global = EncoderConfig::Convnet { width: 8, pool: 1 };
    // Existing specs (and the cache keys hashed from them) read and write as before.
    assert_eq!(
        serde_json::to_string(&global).unwrap(),
        r#"{"kind":"convnet","width":8}"#
    );
    let grid: EncoderConfig = toml::from_str("kind = \"convnet\"\nwidth = 8\npool = 3").unwrap();
    assert_eq!(grid, EncoderConfig::Convnet { width: 8, pool: 3 });
    assert!(
        serde_json::to_string(&grid)
            .unwrap()
            .contains(r#""pool":3"#)
    );
    let err = EncoderConfig::Convnet { width: 8, pool: 0 }
        .check_input(&images(1, 28))
        .unwrap_err();
    assert!(err.contains("encoder.pool must be 1 to 7, got 0"), "{err}");
}

#[test]
fn resnet18_shapes_gradients_and_torchvision_names() {
    let (model, vs) = build(EncoderConfig::Resnet18 { width: 4 }, images(3, 32));
    check_shapes_and_gradients(&model, &vs, &batch(&[2, 3, 32, 32]), 32);
    let vars = vs.variables();
    assert_eq!(vars["encoder.conv1.weight"].size(), [4, 3, 3, 3]); // CIFAR stem: 3×3
    assert_eq!(
        vars["encoder.layer2.0.downsample.0.weight"].size(),
        [8, 4, 1, 1]
    );
    assert_eq!(vars["encoder.layer4.1.bn2.running_var"].size(), [32]);
    assert!(!vars.contains_key("encoder.layer1.0.downsample.0.weight"));
    // 1 stem conv + 16 block convs + 3 downsample convs.
    let convs = vars
        .keys()
        .filter(|n| n.ends_with(".weight") && vars[*n].dim() == 4)
        .count();
    assert_eq!(convs, 20);
}

#[test]
fn identity_passes_normalised_inputs_through() {
    let (model, vs) = build(EncoderConfig::Identity, InputSpec::Features { dim: 2 });
    assert!(vs.variables().is_empty());
    assert!(!model.is_trainable());
    let x = Tensor::from_slice(&[3.0f32, 4.0, 0.0, 2.0]).view([2, 2]);
    let h = Vec::<f32>::try_from(model.backbone(&x, false).flatten(0, -1)).unwrap();
    assert_eq!(h, vec![0.6, 0.8, 0.0, 1.0]); // (3,4)/5 and (0,2)/2
    assert_eq!(model.head(&model.backbone(&x, false), false).size(), [2, 2]);
}

#[test]
fn batch_norm_train_and_eval_differ_and_eval_uses_running_stats() {
    let (model, _vs) = build(EncoderConfig::Convnet { width: 4, pool: 1 }, images(1, 28));
    let x = batch(&[4, 1, 28, 28]);
    let eval_before = model.backbone(&x, false);
    let train = model.backbone(&x, true); // updates running statistics
    let eval_after = model.backbone(&x, false);
    assert!(!train.allclose(&eval_before, 1e-4, 1e-4, false));
    assert!(!eval_after.allclose(&eval_before, 1e-6, 1e-6, false));
    // Eval mode is per-sample: a sample's output does not depend on the rest of the batch.
    let single = model.backbone(&x.narrow(0, 0, 1), false);
    assert!(single.allclose(&eval_after.narrow(0, 0, 1), 1e-5, 1e-5, false));
}

#[test]
fn init_is_deterministic_and_pytorch_like() {
    let (_m1, a) = build(EncoderConfig::Convnet { width: 4, pool: 1 }, images(1, 28));
    let (_m2, b) = build(EncoderConfig::Convnet { width: 4, pool: 1 }, images(1, 28));
    let (va, vb) = (a.variables(), b.variables());
    for (name, t) in &va {
        assert!(t.equal(&vb[name]), "{name}");
    }
    // block1.conv1: fan_in 1·3·3 = 9, bound 1/3.
    let w = &va["encoder.block1.conv1.weight"];
    assert!(w.abs().max().double_value(&[]) <= 1.0 / 3.0);
    assert_eq!(
        va["encoder.block1.bn1.weight"]
            .mean(Kind::Float)
            .double_value(&[]),
        1.0
    );
}

#[test]
fn save_and_load_rebuild_the_same_model() {
    let (model, vs) = build(EncoderConfig::Convnet { width: 4, pool: 1 }, images(1, 28));
    let x = batch(&[2, 1, 28, 28]);
    let _ = model.backbone(&x, true); // move the running statistics off their defaults
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("encoder.safetensors");
    save(std::fs::File::create(&path).unwrap(), &vs, model.spec()).unwrap();
    let (loaded, _vs2) = load(&path, Device::Cpu).unwrap();
    assert_eq!(loaded.spec(), model.spec());
    let (h1, h2) = (model.backbone(&x, false), loaded.backbone(&x, false));
    assert!(h1.equal(&h2));
    assert!(model.head(&h1, false).equal(&loaded.head(&h2, false)));

    // Into a store that already holds other variables (the train stage's energy net).
    let shared = VarStore::new(Device::Cpu);
    let _other = tch::nn::linear(shared.root() / "energy" / "q", 2, 2, Default::default());
    let inside = load_into(&path, &shared).unwrap();
    assert!(inside.backbone(&x, false).equal(&h1));
    assert!(shared.variables().contains_key("energy.q.weight"));

    let bare = dir.path().join("bare.safetensors");
    ebsc_io::write_tensors(std::fs::File::create(&bare).unwrap(), &[], &HashMap::new()).unwrap();
    let err = load(&bare, Device::Cpu).err().unwrap().to_string();
    assert!(err.contains("not an encoder file"), "{err}");
}

#[test]
fn image_encoders_reject_feature_inputs() {
    let err = EncoderConfig::Resnet18 { width: 64 }
        .check_input(&InputSpec::Features { dim: 5 })
        .unwrap_err();
    assert!(err.contains("needs images"), "{err}");
}

#[test]
fn config_rejects_unknown_keys() {
    let ok: EncoderConfig = toml::from_str("kind = \"convnet\"\nwidth = 8").unwrap();
    assert_eq!(ok, EncoderConfig::Convnet { width: 8, pool: 1 });
    let err = toml::from_str::<EncoderConfig>("kind = \"convnet\"\ndepth = 8")
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown field `depth`"), "{err}");
}
