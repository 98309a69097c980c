//! The `ebsc-train` binary on bad input: one error line naming the file, section and
//! field (or the stage to run first), a non-zero exit, and no manifest.

use std::process::Command;

const TRAIN: &str = r#"
method = "ebsc"
freeze_encoder = false
dictionary = "backbone"
coefficients = "shrink"
gamma = 200.0
lambda = 0.9
alpha = 1.0
beta = 1.0
tau = 0.5
temperature = 0.1
queue_size = 0
energy_dim = 8
energy_hidden = [16]
epochs = 1
batch_size = 16
[train.optimizer]
kind = "adam"
lr = 1e-3
"#;

fn expect_error(train_section: &str, needles: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("pipelines")).unwrap();
    std::fs::write(
        dir.path().join("pipelines/p.toml"),
        format!("[pipeline]\nseed = 0\n\n[train]\n{train_section}"),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ebsc-train"))
        .args(["pipelines/p.toml", "--device", "cpu", "--progress", "none"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "expected failure");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(errors.len(), 1, "one error line:\n{stderr}");
    for needle in needles {
        assert!(
            errors[0].contains(needle),
            "`{needle}` not in {}",
            errors[0]
        );
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!dir.path().join("data/runs/p/train/manifest.json").exists());
}

#[test]
fn a_good_config_without_upstream_says_what_to_run() {
    expect_error(TRAIN, &["upstream stage prepare", "just prepare p"]);
}

#[test]
fn bad_fields_are_named() {
    expect_error(
        &TRAIN.replace("gamma = 200.0", "gamma = -1.0"),
        &[
            "pipelines/p.toml",
            "[train]",
            "gamma must be a positive number",
        ],
    );
    expect_error(
        &TRAIN.replace("beta = 1.0", "betta = 1.0"),
        &["pipelines/p.toml", "[train]", "betta"],
    );
    expect_error(
        &TRAIN.replace("dictionary = \"backbone\"", "dictionary = \"pixels\""),
        &["[train]", "pixels"],
    );
    expect_error(
        &TRAIN.replace("method = \"ebsc\"", "method = \"senet\""),
        &["[train]", "freeze_encoder = true"],
    );
}
