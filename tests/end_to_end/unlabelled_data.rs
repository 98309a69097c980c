//! Data without labels, start to finish: a folder of PNG images with no class subfolders,
//! and a table without a label column, each through `ebsc-pipeline new` (what `just new`
//! runs: `n_clusters = "auto"` written) and every stage (what `just run` runs); then the
//! image folder's result laid out as one folder of links per cluster (`just clusters`).
//!
//! The images fall into three groups, a bright band across the top, middle or bottom
//! third of a dark 12×12 image with a little noise, so the eigengap has a clear answer.

use std::path::{Path, PathBuf};

use ebsc_io::assignments::read_assignment_rows;
use ebsc_prepare::export::{ExportRequest, export_clusters};
use ebsc_prepare::scaffold::{NewRequest, new_pipeline};
use ebsc_tests::run_all;

const GROUPS: usize = 3;
const PER_GROUP: usize = 10;
const SIDE: u32 = 12;

/// A deterministic stream of small offsets (no labels leak into the files: only the
/// pixels differ).
fn noise(state: &mut u64) -> i32 {
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    ((*state >> 33) % 41) as i32 - 20
}

/// Writes the images, most directly in `root`, a few in a subfolder that is no class;
/// returns each file's path inside `root` with its group.
fn write_images(root: &Path) -> Vec<(PathBuf, usize)> {
    let mut state = 7u64;
    let mut files = Vec::new();
    for i in 0..GROUPS * PER_GROUP {
        let group = i % GROUPS;
        let relative = if i % 9 == 4 {
            PathBuf::from(format!("more/photo_{i:02}.png"))
        } else {
            PathBuf::from(format!("photo_{i:02}.png"))
        };
        let image = image::GrayImage::from_fn(SIDE, SIDE, |_, y| {
            let band = (y / (SIDE / GROUPS as u32)) as usize == group;
            let base = if band { 200 } else { 30 };
            image::Luma([(base + noise(&mut state)).clamp(0, 255) as u8])
        });
        let path = root.join(&relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        image.save(&path).unwrap();
        files.push((relative, group));
    }
    files
}

fn metrics(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("cluster/metrics.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn a_folder_of_unlabelled_images_goes_from_new_to_folders_of_links() {
    let work = tempfile::tempdir().unwrap();
    let images = work.path().join("photos");
    let files = write_images(&images);
    let created = new_pipeline(&NewRequest {
        name: "photos".into(),
        data: images.clone(),
        overrides: Vec::new(),
        pipelines_dir: work.path().join("pipelines"),
        force: false,
    })
    .unwrap();
    assert_eq!(created.template.name(), "small-images");
    assert_eq!(created.summary.n_samples, GROUPS * PER_GROUP);
    assert_eq!(created.summary.n_labelled, 0);
    let text = std::fs::read_to_string(&created.path).unwrap();
    assert!(text.contains("n_clusters = \"auto\""), "{text}");
    assert!(text.contains("labels = \"none\""), "{text}");
    assert!(
        created
            .notes
            .iter()
            .any(|n| n.starts_with("n_clusters = \"auto\"")),
        "{:?}",
        created.notes
    );

    let runs = work.path().join("runs");
    assert_eq!(run_all(&created.path, &runs), vec![true; 5]);
    let dir = runs.join("photos");
    let m = metrics(&dir);
    assert_eq!(m["n_clusters_requested"], "auto");
    assert_eq!(m["eigengap_n_clusters"], GROUPS, "{m}");
    assert_eq!(m["n_clusters"], GROUPS);
    assert!(m.get("acc").is_none(), "no labels, no scores");

    // assignments.parquet alone says which cluster each file is in: its source is the
    // file's path, and the files of a group share a cluster.
    let rows = read_assignment_rows(&dir.join("cluster/assignments.parquet")).unwrap();
    assert_eq!(rows.len(), files.len());
    let mut cluster_of_group = [None; GROUPS];
    for row in &rows {
        assert_eq!(row.label, None);
        let source = PathBuf::from(row.source.as_deref().unwrap());
        let relative = source.strip_prefix(&images).unwrap();
        let (_, group) = files.iter().find(|(f, _)| f == relative).unwrap();
        let expected = cluster_of_group[*group].get_or_insert(row.cluster);
        assert_eq!(*expected, row.cluster, "{}", relative.display());
    }

    // One folder per cluster, a link per file under its path inside the image folder.
    let out = work.path().join("sorted");
    let exported = export_clusters(&ExportRequest {
        pipeline: created.path.clone(),
        runs_dir: runs.clone(),
        target: out.clone(),
        copy: false,
    })
    .unwrap();
    assert_eq!(exported.clusters.len(), GROUPS);
    assert_eq!(exported.n_files(), files.len());
    let real_images = std::fs::canonicalize(&images).unwrap();
    for (relative, group) in &files {
        let cluster = cluster_of_group[*group].unwrap();
        let link = out.join(format!("cluster-{cluster:02}")).join(relative);
        assert_eq!(
            std::fs::read_link(&link).unwrap(),
            real_images.join(relative),
            "{}",
            link.display()
        );
        // The originals are still regular files where they were.
        assert!(
            std::fs::symlink_metadata(images.join(relative))
                .unwrap()
                .is_file()
        );
    }
    // A second export into the now full folder is refused.
    let again = export_clusters(&ExportRequest {
        pipeline: created.path.clone(),
        runs_dir: runs.clone(),
        target: out.clone(),
        copy: true,
    })
    .unwrap_err()
    .to_string();
    assert!(again.contains("exists and is not empty"), "{again}");

    // A second run of every stage is up to date: the links beside the runs change nothing.
    assert_eq!(run_all(&created.path, &runs), vec![false; 5]);
}

#[test]
fn a_table_without_labels_goes_from_new_to_assignments() {
    let work = tempfile::tempdir().unwrap();
    let table = work.path().join("points.csv");
    let mut state = 11u64;
    // An `id` column (text) names the rows: `just new` takes it as the ids, not a feature.
    let mut text = "id,f1,f2,f3,f4,f5,f6\n".to_string();
    for i in 0..GROUPS * PER_GROUP {
        text.push_str(&format!("point-{i},"));
        let group = i % GROUPS;
        let row: Vec<String> = (0..6)
            .map(|d| {
                let centre = if d / 2 == group { 1.0 } else { 0.0 };
                format!("{:.3}", centre + noise(&mut state) as f64 / 400.0)
            })
            .collect();
        text.push_str(&row.join(","));
        text.push('\n');
    }
    std::fs::write(&table, text).unwrap();
    let created = new_pipeline(&NewRequest {
        name: "points".into(),
        data: table.clone(),
        overrides: Vec::new(),
        pipelines_dir: work.path().join("pipelines"),
        force: false,
    })
    .unwrap();
    assert_eq!(created.template.name(), "features");
    let written = std::fs::read_to_string(&created.path).unwrap();
    assert!(written.contains("n_clusters = \"auto\""), "{written}");
    assert!(written.contains("id_column = \"id\""), "{written}");

    let runs = work.path().join("runs");
    assert_eq!(run_all(&created.path, &runs), vec![true; 5]);
    let dir = runs.join("points");
    let m = metrics(&dir);
    assert_eq!(m["n_clusters_requested"], "auto");
    assert_eq!(m["n_clusters"], GROUPS, "{m}");
    let rows = read_assignment_rows(&dir.join("cluster/assignments.parquet")).unwrap();
    assert_eq!(
        rows[4].source.as_deref(),
        Some(format!("{}#point-4", table.display()).as_str())
    );
    let report = std::fs::read_to_string(dir.join("cluster/report/report.md")).unwrap();
    assert!(report.contains("`point-"), "{report}");
    // Rows of a group share a cluster.
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row.cluster, rows[i % GROUPS].cluster, "row {i}");
    }

    // No files to sort: the error says where the answer is.
    let error = export_clusters(&ExportRequest {
        pipeline: created.path.clone(),
        runs_dir: runs.clone(),
        target: work.path().join("sorted"),
        copy: false,
    })
    .unwrap_err()
    .to_string();
    assert!(error.contains("is not an image folder"), "{error}");
    assert!(error.contains("cluster/assignments.parquet"), "{error}");
    assert!(!work.path().join("sorted").exists());
}
