//! The `ebsc-prepare` binary as a user meets it: exit codes, the one line it ends with, and
//! what is (not) left on disk after bad input.

use std::path::{Path, PathBuf};

use ebsc_test_support::cli::{self, Output};

struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new() -> Project {
        Project {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    fn write(&self, relative: &str, bytes: &[u8]) {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    /// Writes `pipelines/p.toml` with a `[prepare]` section and runs the binary in the project.
    fn prepare(&self, section: &str) -> Output {
        self.write(
            "pipelines/p.toml",
            format!("[pipeline]\nseed = 3\n\n[prepare]\n{section}").as_bytes(),
        );
        cli::run(
            env!("CARGO_BIN_EXE_ebsc-prepare"),
            self.dir.path(),
            &["pipelines/p.toml"],
        )
    }

    fn manifest(&self) -> PathBuf {
        self.path("data/runs/p/prepare/manifest.json")
    }

    /// Runs a bad config: non-zero exit, one error line naming `needle`, no manifest.
    fn expect_error(&self, section: &str, needles: &[&str]) {
        self.prepare(section).error_line(needles);
        assert!(!self.manifest().exists(), "a failed run leaves no manifest");
    }
}

fn idx_images(n: u32, h: u32, w: u32) -> Vec<u8> {
    let mut bytes = vec![0, 0, 8, 3];
    for d in [n, h, w] {
        bytes.extend(d.to_be_bytes());
    }
    bytes.extend((0..n * h * w).map(|i| (i % 251) as u8));
    bytes
}

fn idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0, 0, 8, 1];
    bytes.extend((labels.len() as u32).to_be_bytes());
    bytes.extend(labels);
    bytes
}

const IDX: &str = "source = \"idx\"\nimages = \"raw/images\"\nlabels = \"raw/labels\"\n";

fn mtime(path: &Path) -> std::time::SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}

#[test]
fn second_run_is_up_to_date_and_keeps_the_manifest() {
    let p = Project::new();
    p.write("raw/images", &idx_images(6, 2, 3));
    p.write("raw/labels", &idx_labels(&[0, 1, 2, 0, 1, 2]));
    let first = p.prepare(IDX);
    assert!(first.ok, "{}", first.stderr);
    assert!(
        first.stdout.starts_with("prepare: done in"),
        "{}",
        first.stdout
    );
    assert!(
        first.stderr.contains("prepare: running (no previous run)"),
        "{}",
        first.stderr
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p.manifest()).unwrap()).unwrap();
    assert_eq!(manifest["stats"]["n_samples"], 6);
    assert_eq!(manifest["stats"]["shape"], serde_json::json!([6, 1, 2, 3]));
    let before = mtime(&p.manifest());

    let second = p.prepare(IDX);
    assert!(second.ok);
    assert!(
        second.stdout.starts_with("prepare: up to date"),
        "{}",
        second.stdout
    );
    assert_eq!(mtime(&p.manifest()), before);

    // A changed raw file is a changed input.
    p.write("raw/labels", &idx_labels(&[0, 1, 2, 0, 1, 1]));
    let third = p.prepare(IDX);
    assert!(third.ok);
    assert!(
        third.stderr.contains("input raw/labels changed"),
        "{}",
        third.stderr
    );
}

#[test]
fn truncated_idx_file() {
    let p = Project::new();
    let images = idx_images(6, 2, 3);
    p.write("raw/images", &images[..images.len() - 5]);
    p.write("raw/labels", &idx_labels(&[0; 6]));
    p.expect_error(IDX, &["raw/images", "truncated"]);
}

#[test]
fn wrong_magic_number() {
    let p = Project::new();
    let mut images = idx_images(6, 2, 3);
    images[0] = 0x50;
    p.write("raw/images", &images);
    p.write("raw/labels", &idx_labels(&[0; 6]));
    p.expect_error(IDX, &["raw/images", "not an IDX file"]);
}

#[test]
fn image_and_label_counts_differ() {
    let p = Project::new();
    p.write("raw/images", &idx_images(6, 2, 3));
    p.write("raw/labels", &idx_labels(&[0; 5]));
    p.expect_error(IDX, &["6", "5"]);
}

#[test]
fn missing_path() {
    let p = Project::new();
    p.expect_error(IDX, &["raw/images", "not found"]);
}

#[test]
fn unknown_source_and_misplaced_key() {
    let p = Project::new();
    p.expect_error(
        "source = \"mnist\"\n",
        &["pipelines/p.toml", "[prepare]", "mnist"],
    );
    p.expect_error(
        &format!("{IDX}seed = 4\n[pretrain]\nsource = \"idx\"\n"),
        &["pipelines/p.toml", "[prepare]", "unknown field `seed`"],
    );
}

#[test]
fn image_folder_errors() {
    let p = Project::new();
    std::fs::create_dir_all(p.path("images")).unwrap();
    p.expect_error(
        "source = \"image-folder\"\npath = \"images\"\n",
        &["images"],
    );

    let small = image::GrayImage::from_pixel(4, 4, image::Luma([9]));
    let large = image::GrayImage::from_pixel(5, 4, image::Luma([9]));
    std::fs::create_dir_all(p.path("images/a")).unwrap();
    std::fs::create_dir_all(p.path("images/b")).unwrap();
    small.save(p.path("images/a/1.png")).unwrap();
    large.save(p.path("images/b/2.png")).unwrap();
    p.expect_error(
        "source = \"image-folder\"\npath = \"images\"\ngrayscale = true\n",
        &["2.png"],
    );
    let out = p.prepare(
        "source = \"image-folder\"\npath = \"images\"\ngrayscale = true\nresize = [4, 4]\n",
    );
    assert!(out.ok, "{}", out.stderr);
}

#[test]
fn nan_and_text_in_a_feature_table() {
    let p = Project::new();
    p.write("t.csv", b"x,y,label\n1.0,2.0,a\nNaN,1.0,b\n");
    p.expect_error(
        "source = \"table\"\npath = \"t.csv\"\nlabel_column = \"label\"\n",
        &["t.csv", "x"],
    );
    p.write("u.csv", b"x,y,label\n1.0,2.0,a\nhello,1.0,b\n");
    p.expect_error(
        "source = \"table\"\npath = \"u.csv\"\nlabel_column = \"label\"\n",
        &["u.csv", "x"],
    );
    p.write("v.csv", b"x,y,label\n1.0,2.0,a\n3.0,1.0,b\n");
    let out = p.prepare("source = \"table\"\npath = \"v.csv\"\nlabel_column = \"label\"\n");
    assert!(out.ok, "{}", out.stderr);
}
