//! `ebsc-pipeline clusters` (`just clusters <pipeline> <folder>`): an image-folder
//! pipeline's result as folders, one per cluster (`cluster-00/`, `cluster-01/`, …), each
//! holding symbolic links to (or, with `copy`, copies of) the original files of its
//! samples, under their paths inside the image folder (`cluster-03/2024/a.png`), so two
//! files of one name never meet.
//!
//! The originals are only read: never moved, renamed or written. The target folder must be
//! new or empty, and outside the image folder (where the next prepare would read the links
//! as images). Everything is built in a hidden folder beside the target and renamed into
//! place at the end, so a failure leaves no half-filled target. Which file is in which
//! cluster comes from `assignments.parquet` alone (its `source` column); the pipeline's
//! `[prepare] path` says where the image folder starts.

use std::path::{Component, Path, PathBuf};

use anyhow::{Context, bail};
use ebsc_core::Pipeline;
use ebsc_core::manifest::{MANIFEST_FILE, Manifest};
use ebsc_io::artifacts::{cluster, prepare};
use ebsc_io::assignments::{has_source_column, read_assignment_rows};

use crate::config::{PrepareConfig, SourceConfig};

/// What to export, and where.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    /// The pipeline file.
    pub pipeline: PathBuf,
    /// Where run folders live (`data/runs`).
    pub runs_dir: PathBuf,
    /// The folder to create (or an empty one to fill).
    pub target: PathBuf,
    /// Copy the files instead of linking to them.
    pub copy: bool,
}

/// What the export wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Exported {
    pub target: PathBuf,
    /// (folder name, files in it), in cluster order.
    pub clusters: Vec<(String, usize)>,
    pub copied: bool,
}

impl Exported {
    pub fn n_files(&self) -> usize {
        self.clusters.iter().map(|(_, n)| n).sum()
    }
}

/// One file to place: its original, and where it goes under the target.
struct Placement {
    original: PathBuf,
    destination: PathBuf,
}

/// Writes one folder per cluster of links (or copies) to the original files; see the
/// module's documentation. Nothing is written when a check fails.
pub fn export_clusters(request: &ExportRequest) -> anyhow::Result<Exported> {
    let pipeline = Pipeline::load(&request.pipeline)?;
    let name = &pipeline.name;
    let stage_dir = request.runs_dir.join(name).join(cluster::STAGE);
    let assignments = cluster::ASSIGNMENTS.path(&stage_dir);
    let config = PrepareConfig::from_pipeline(&pipeline)?;
    let SourceConfig::ImageFolder(folder) = &config.source else {
        let kind = toml::Value::try_from(&config.source)
            .ok()
            .and_then(|v| v.get("source").and_then(|s| s.as_str()).map(String::from))
            .unwrap_or_default();
        bail!(
            "{}: [prepare] source = \"{kind}\" is not an image folder, so there are no files to sort into folders; each sample's cluster is in {} (columns index, cluster, label, source)",
            request.pipeline.display(),
            assignments.display()
        );
    };
    check_cluster_run(name, &request.runs_dir, &stage_dir)?;
    let root = &folder.path;
    let (clusters, n_clusters) = placements(&assignments, root, name)?;
    let target_parent = check_target(&request.target, root)?;

    let width = (n_clusters.saturating_sub(1)).to_string().len().max(2);
    let folder_name = |c: usize| format!("cluster-{c:0width$}");
    let building = target_parent.join(format!(
        ".{}.partial-{}",
        request
            .target
            .file_name()
            .map_or("clusters".into(), |n| n.to_string_lossy().into_owned()),
        std::process::id()
    ));
    std::fs::create_dir(&building)
        .with_context(|| format!("{}: cannot create", building.display()))?;
    let written = build(&building, &clusters, &folder_name, request.copy).and_then(|counts| {
        if request.target.exists() {
            // Checked empty above.
            std::fs::remove_dir(&request.target)
                .with_context(|| format!("{}: cannot replace", request.target.display()))?;
        }
        std::fs::rename(&building, &request.target).with_context(|| {
            format!(
                "{}: cannot move {} into place",
                request.target.display(),
                building.display()
            )
        })?;
        Ok(counts)
    });
    match written {
        Ok(counts) => Ok(Exported {
            target: request.target.clone(),
            clusters: counts
                .into_iter()
                .enumerate()
                .map(|(c, n)| (folder_name(c), n))
                .collect(),
            copied: request.copy,
        }),
        Err(error) => {
            // Only links, copies and folders made here: removing them touches no original
            // (links are removed, not followed).
            let _ = std::fs::remove_dir_all(&building);
            Err(error)
        }
    }
}

/// The cluster stage has completed, its outputs are intact, and it ran on the current
/// prepare outputs.
fn check_cluster_run(name: &str, runs_dir: &Path, stage_dir: &Path) -> anyhow::Result<()> {
    let manifest_path = stage_dir.join(MANIFEST_FILE);
    if !manifest_path.exists() {
        bail!(
            "{}: the cluster stage of {name} has not completed; run `just run {name}` first",
            manifest_path.display()
        );
    }
    let manifest = Manifest::read(&manifest_path)?;
    if let Err(problem) = manifest.verify_primary_outputs(stage_dir)? {
        bail!(
            "{}: {problem}; run `just run {name}` again",
            stage_dir.display()
        );
    }
    let prepare_manifest = runs_dir.join(name).join(prepare::STAGE).join(MANIFEST_FILE);
    if let (Some(used), Ok(current)) = (
        manifest.upstream.get(prepare::STAGE),
        Manifest::read(&prepare_manifest),
    ) && *used != current.key
    {
        bail!(
            "{}: the cluster run of {name} is from an earlier prepare run than the one on disk; run `just run {name}` first",
            stage_dir.display()
        );
    }
    Ok(())
}

/// Every sample's original file and its place under the target, grouped by cluster, and
/// the number of clusters. Checks every row before anything is written.
fn placements(
    assignments: &Path,
    root: &Path,
    name: &str,
) -> anyhow::Result<(Vec<Vec<Placement>>, usize)> {
    if !has_source_column(assignments)? {
        bail!(
            "{}: no `source` column (written by an older cluster stage); run `just run {name}` to write it again",
            assignments.display()
        );
    }
    let rows = read_assignment_rows(assignments)?;
    let n_clusters = rows
        .iter()
        .map(|r| r.cluster as usize + 1)
        .max()
        .unwrap_or(0);
    let mut clusters: Vec<Vec<Placement>> = (0..n_clusters).map(|_| Vec::new()).collect();
    for (index, row) in rows.into_iter().enumerate() {
        let Some(source) = row.source else {
            bail!(
                "{}: row {index} has no source; run `just run {name}` to write it again",
                assignments.display()
            );
        };
        let original = PathBuf::from(&source);
        let inside = original
            .strip_prefix(root)
            .ok()
            .filter(|p| {
                p.components().next().is_some()
                    && p.components().all(|c| matches!(c, Component::Normal(_)))
            })
            .with_context(|| {
                format!(
                    "{}: row {index}: source {source} is not a file inside the pipeline's image folder {}; run `just run {name}` again",
                    assignments.display(),
                    root.display()
                )
            })?
            .to_path_buf();
        if !original.is_file() {
            bail!(
                "{source}: not found (sample {index} of {}); the image folder changed since the pipeline ran; nothing was written",
                assignments.display()
            );
        }
        clusters[row.cluster as usize].push(Placement {
            original,
            destination: inside,
        });
    }
    Ok((clusters, n_clusters))
}

/// The target is new or an empty folder, and not inside the image folder; returns the
/// folder it will be created in.
fn check_target(target: &Path, root: &Path) -> anyhow::Result<PathBuf> {
    if target.exists() {
        if !target.is_dir() {
            bail!(
                "{}: exists and is not a folder; give a new or empty folder",
                target.display()
            );
        }
        let mut entries = std::fs::read_dir(target)
            .with_context(|| format!("{}: cannot list", target.display()))?;
        if entries.next().is_some() {
            bail!(
                "{}: exists and is not empty; give a new or empty folder (nothing was written)",
                target.display()
            );
        }
    }
    let resolved = resolve(target)?;
    let root_resolved = std::fs::canonicalize(root)
        .with_context(|| format!("{}: cannot resolve the image folder", root.display()))?;
    if resolved.starts_with(&root_resolved) {
        bail!(
            "{}: inside the image folder {}, where the next prepare would read the files as more images; choose a folder outside it",
            target.display(),
            root.display()
        );
    }
    let parent = match target.parent() {
        Some(p) if p.as_os_str().is_empty() => PathBuf::from("."),
        Some(p) => p.to_path_buf(),
        None => bail!("{}: not a folder to create", target.display()),
    };
    std::fs::create_dir_all(&parent)
        .with_context(|| format!("{}: cannot create", parent.display()))?;
    Ok(parent)
}

/// `path` made absolute with its links resolved, for the part that exists; the rest is
/// appended as written (`..` steps up).
fn resolve(path: &Path) -> anyhow::Result<PathBuf> {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .context("cannot read the current folder")?
            .join(path)
    };
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    while !existing.exists() {
        let (Some(parent), Some(last)) = (existing.parent(), existing.file_name()) else {
            break;
        };
        rest.push(last.to_os_string());
        existing = parent;
    }
    let mut resolved = std::fs::canonicalize(existing)
        .with_context(|| format!("{}: cannot resolve", existing.display()))?;
    for part in rest.into_iter().rev() {
        if part == ".." {
            resolved.pop();
        } else if part != "." {
            resolved.push(part);
        }
    }
    Ok(resolved)
}

/// Fills `building` with one folder per cluster and every file placed; returns the
/// number of files per cluster.
fn build(
    building: &Path,
    clusters: &[Vec<Placement>],
    folder_name: &dyn Fn(usize) -> String,
    copy: bool,
) -> anyhow::Result<Vec<usize>> {
    let mut counts = Vec::with_capacity(clusters.len());
    for (c, placements) in clusters.iter().enumerate() {
        let folder = building.join(folder_name(c));
        std::fs::create_dir(&folder)
            .with_context(|| format!("{}: cannot create", folder.display()))?;
        for placement in placements {
            let destination = folder.join(&placement.destination);
            if let Some(parent) = destination.parent() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("{}: cannot create", parent.display()))?;
            }
            place(&placement.original, &destination, copy)?;
        }
        counts.push(placements.len());
    }
    Ok(counts)
}

/// A link at `destination` to the original's resolved path, or a copy of its bytes.
fn place(original: &Path, destination: &Path, copy: bool) -> anyhow::Result<()> {
    if copy {
        std::fs::copy(original, destination).with_context(|| {
            format!(
                "{}: cannot copy to {}",
                original.display(),
                destination.display()
            )
        })?;
        return Ok(());
    }
    let target = std::fs::canonicalize(original)
        .with_context(|| format!("{}: cannot resolve", original.display()))?;
    link(&target, destination)
}

#[cfg(unix)]
fn link(target: &Path, destination: &Path) -> anyhow::Result<()> {
    std::os::unix::fs::symlink(target, destination).with_context(|| {
        format!(
            "{}: cannot link to {}",
            destination.display(),
            target.display()
        )
    })
}

#[cfg(not(unix))]
fn link(target: &Path, destination: &Path) -> anyhow::Result<()> {
    let _ = (target, destination);
    bail!("symbolic links are made on Unix systems only here; pass --copy (just clusters … --copy)")
}

/// One line for people: the folders, what they hold and how many files each.
pub fn summary(exported: &Exported) -> String {
    let listed: Vec<String> = exported
        .clusters
        .iter()
        .map(|(name, n)| format!("{name} {n}"))
        .collect();
    format!(
        "{} folders of {} in {} ({} files): {}",
        exported.clusters.len(),
        if exported.copied { "copies" } else { "links" },
        exported.target.display(),
        exported.n_files(),
        listed.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use ebsc_core::manifest::{Provenance, output_entry};
    use ebsc_io::assignments::write_assignments;

    use super::*;

    /// A project in a temporary folder: an image folder, a pipeline file naming it, and a
    /// finished cluster run whose assignments put each file in a cluster.
    struct Project {
        dir: tempfile::TempDir,
    }

    impl Project {
        /// `files`: (path inside the image folder, cluster).
        fn new(files: &[(&str, u32)]) -> Project {
            let dir = tempfile::tempdir().unwrap();
            let project = Project { dir };
            let photos = project.path("photos");
            for (relative, _) in files {
                let path = photos.join(relative);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, format!("bytes of {relative}")).unwrap();
            }
            project.write_pipeline(&format!(
                "[prepare]\nsource = \"image-folder\"\npath = \"{}\"\nlabels = \"none\"\n",
                photos.display()
            ));
            let sources: Vec<Option<String>> = files
                .iter()
                .map(|(relative, _)| Some(photos.join(relative).display().to_string()))
                .collect();
            let clusters: Vec<u32> = files.iter().map(|(_, c)| *c).collect();
            project.write_run(&clusters, &sources);
            project
        }

        fn path(&self, relative: &str) -> PathBuf {
            self.dir.path().join(relative)
        }

        fn write_pipeline(&self, prepare: &str) {
            std::fs::write(
                self.path("p.toml"),
                format!("[pipeline]\nseed = 0\n{prepare}"),
            )
            .unwrap();
        }

        /// The cluster stage's assignments.parquet and a manifest that lists it.
        fn write_run(&self, clusters: &[u32], sources: &[Option<String>]) {
            let stage = self.path("runs/p/cluster");
            std::fs::create_dir_all(&stage).unwrap();
            let file = stage.join("assignments.parquet");
            write_assignments(
                std::fs::File::create(&file).unwrap(),
                clusters,
                &[],
                sources,
            )
            .unwrap();
            let outputs = BTreeMap::from([(
                "assignments.parquet".to_string(),
                output_entry(&file).unwrap(),
            )]);
            Manifest {
                format: Manifest::new_format(),
                pipeline: "p".into(),
                stage: "cluster".into(),
                stage_version: 4,
                key: "cluster-key".into(),
                config: serde_json::json!({}),
                inputs: BTreeMap::new(),
                upstream: BTreeMap::new(),
                outputs,
                stats: serde_json::json!({}),
                provenance: Provenance::by_hand(),
            }
            .write(&stage.join(MANIFEST_FILE))
            .unwrap();
        }

        fn export(&self, target: &str, copy: bool) -> anyhow::Result<Exported> {
            export_clusters(&ExportRequest {
                pipeline: self.path("p.toml"),
                runs_dir: self.path("runs"),
                target: self.path(target),
                copy,
            })
        }

        /// Every entry under the project folder but the runs: (path, bytes or link target).
        fn snapshot(&self) -> Vec<(PathBuf, String)> {
            let mut entries = Vec::new();
            let mut pending = vec![self.dir.path().to_path_buf()];
            while let Some(folder) = pending.pop() {
                for entry in std::fs::read_dir(&folder).unwrap() {
                    let path = entry.unwrap().path();
                    let kind = std::fs::symlink_metadata(&path).unwrap().file_type();
                    let what = if kind.is_symlink() {
                        format!("-> {}", std::fs::read_link(&path).unwrap().display())
                    } else if kind.is_dir() {
                        pending.push(path.clone());
                        "folder".into()
                    } else {
                        std::fs::read_to_string(&path).unwrap_or_default()
                    };
                    entries.push((path, what));
                }
            }
            entries.sort();
            entries
        }
    }

    const FILES: [(&str, u32); 4] = [
        ("a.png", 1),
        ("b.png", 0),
        ("2024/a.png", 1),
        ("2024/march/c.jpg", 0),
    ];

    #[cfg(unix)]
    #[test]
    fn links_sort_the_originals_into_one_folder_per_cluster() {
        let p = Project::new(&FILES);
        let before = p.snapshot();
        let exported = p.export("out/sorted", false).unwrap();
        assert_eq!(
            exported.clusters,
            vec![("cluster-00".to_string(), 2), ("cluster-01".to_string(), 2)]
        );
        assert_eq!(
            summary(&exported),
            format!(
                "2 folders of links in {} (4 files): cluster-00 2, cluster-01 2",
                p.path("out/sorted").display()
            )
        );
        let photos = std::fs::canonicalize(p.path("photos")).unwrap();
        for (relative, cluster) in FILES {
            let link = p.path(&format!("out/sorted/cluster-{cluster:02}/{relative}"));
            let kind = std::fs::symlink_metadata(&link).unwrap().file_type();
            assert!(kind.is_symlink(), "{}", link.display());
            assert_eq!(std::fs::read_link(&link).unwrap(), photos.join(relative));
            assert_eq!(
                std::fs::read_to_string(&link).unwrap(),
                format!("bytes of {relative}")
            );
        }
        // The originals are as they were; only the target and its links are new, and no
        // building folder is left beside it.
        let after = p.snapshot();
        let new: Vec<_> = after.iter().filter(|e| !before.contains(e)).collect();
        assert!(
            new.iter()
                .all(|(path, _)| path.starts_with(p.path("out/sorted")) || path == &p.path("out")),
            "{new:?}"
        );
        assert!(before.iter().all(|e| after.contains(e)));
        assert_eq!(
            std::fs::read_dir(p.path("out")).unwrap().count(),
            1,
            "only out/sorted"
        );
    }

    #[test]
    fn copies_are_files_and_an_empty_folder_is_filled() {
        let p = Project::new(&FILES);
        std::fs::create_dir(p.path("empty")).unwrap();
        let exported = p.export("empty", true).unwrap();
        assert!(exported.copied);
        assert!(summary(&exported).starts_with("2 folders of copies in"));
        let copy = p.path("empty/cluster-00/2024/march/c.jpg");
        assert!(std::fs::symlink_metadata(&copy).unwrap().is_file());
        assert_eq!(
            std::fs::read_to_string(copy).unwrap(),
            "bytes of 2024/march/c.jpg"
        );
        assert!(p.path("photos/2024/march/c.jpg").is_file());
    }

    #[test]
    fn a_non_empty_target_or_one_inside_the_image_folder_is_refused() {
        let p = Project::new(&FILES);
        std::fs::create_dir(p.path("busy")).unwrap();
        std::fs::write(p.path("busy/keep.txt"), "mine").unwrap();
        let before = p.snapshot();
        let error = p.export("busy", false).unwrap_err().to_string();
        assert_eq!(
            error,
            format!(
                "{}: exists and is not empty; give a new or empty folder (nothing was written)",
                p.path("busy").display()
            )
        );
        let error = p.export("photos/clusters", false).unwrap_err().to_string();
        assert!(error.contains("inside the image folder"), "{error}");
        std::fs::write(p.path("file"), "x").unwrap();
        let error = p.export("file", false).unwrap_err().to_string();
        assert!(error.contains("exists and is not a folder"), "{error}");
        std::fs::remove_file(p.path("file")).unwrap();
        assert_eq!(p.snapshot(), before, "nothing was written");
    }

    #[test]
    fn other_sources_and_runs_that_cannot_say_are_named() {
        let p = Project::new(&FILES);
        // A table: the assignments are the answer.
        p.write_pipeline("[prepare]\nsource = \"table\"\npath = \"t.csv\"\n");
        let error = p.export("out", false).unwrap_err().to_string();
        assert!(
            error.contains("[prepare] source = \"table\" is not an image folder"),
            "{error}"
        );
        assert!(
            error.contains(&format!(
                "each sample's cluster is in {} (columns index, cluster, label, source)",
                p.path("runs/p/cluster/assignments.parquet").display()
            )),
            "{error}"
        );
        // No cluster run.
        let fresh = Project::new(&FILES);
        std::fs::remove_file(fresh.path("runs/p/cluster/manifest.json")).unwrap();
        let error = fresh.export("out", false).unwrap_err().to_string();
        assert!(
            error.ends_with("the cluster stage of p has not completed; run `just run p` first"),
            "{error}"
        );
        // Assignments changed after the run.
        let changed = Project::new(&FILES);
        changed.write_run(&[0, 0, 0, 0], &[]);
        std::fs::write(
            changed.path("runs/p/cluster/assignments.parquet"),
            b"not the file the manifest lists",
        )
        .unwrap();
        let error = changed.export("out", false).unwrap_err().to_string();
        assert!(error.contains("run `just run p` again"), "{error}");
        // Assignments from before the source column: the way to rewrite them.
        let old = Project::new(&FILES);
        let file = old.path("runs/p/cluster/assignments.parquet");
        let schema = std::sync::Arc::new(arrow_schema::Schema::new(
            ebsc_io::assignments::assignments_schema().fields()[..3].to_vec(),
        ));
        let columns: Vec<arrow_array::ArrayRef> = vec![
            std::sync::Arc::new(arrow_array::UInt32Array::from(vec![0, 1, 2, 3])),
            std::sync::Arc::new(arrow_array::UInt32Array::from(vec![0, 1, 0, 1])),
            std::sync::Arc::new(arrow_array::Int32Array::new_null(4)),
        ];
        let batch = arrow_array::RecordBatch::try_new(schema.clone(), columns).unwrap();
        let mut writer = parquet::arrow::ArrowWriter::try_new(
            std::fs::File::create(&file).unwrap(),
            schema,
            None,
        )
        .unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        let mut manifest = Manifest::read(&old.path("runs/p/cluster/manifest.json")).unwrap();
        manifest
            .outputs
            .insert("assignments.parquet".into(), output_entry(&file).unwrap());
        manifest
            .write(&old.path("runs/p/cluster/manifest.json"))
            .unwrap();
        let error = old.export("out", false).unwrap_err().to_string();
        assert!(
            error.ends_with(
                "assignments.parquet: no `source` column (written by an older cluster stage); run `just run p` to write it again"
            ),
            "{error}"
        );
        // Assignments without sources (a standalone labels file without them).
        let bare = Project::new(&FILES);
        bare.write_run(&[0, 1, 0, 1], &[]);
        let error = bare.export("out", false).unwrap_err().to_string();
        assert!(error.contains("row 0 has no source"), "{error}");
        // A file gone since the run: named, nothing written.
        let gone = Project::new(&FILES);
        std::fs::remove_file(gone.path("photos/b.png")).unwrap();
        let error = gone.export("out", false).unwrap_err().to_string();
        assert!(
            error.starts_with(&format!(
                "{}: not found",
                gone.path("photos/b.png").display()
            )),
            "{error}"
        );
        assert!(!gone.path("out").exists());
        // A source outside the image folder (or climbing out of it) is refused.
        let outside = Project::new(&FILES);
        let photos = outside.path("photos");
        outside.write_run(
            &[0, 1],
            &[
                Some(photos.join("a.png").display().to_string()),
                Some(photos.join("../p.toml").display().to_string()),
            ],
        );
        let error = outside.export("out", false).unwrap_err().to_string();
        assert!(
            error.contains("row 1: source") && error.contains("is not a file inside"),
            "{error}"
        );
    }
}
