//! `report/gallery`: one row per cluster with its most representative samples and, at
//! the end of the row, its least representative ones ([`crate::quality`] ranks them: the
//! nearest the cluster's centre, and the smallest share of weight inside it), drawn
//! from prepare's `images` tensor `[N, C, H, W]` u8 (image data only). At most
//! [`MAX_GALLERY_CLUSTERS`] rows, the largest clusters, so the figure stays readable.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use ebsc_io::TensorFile;
use ebsc_io::artifacts::prepare::IMAGES_TENSOR;
use ebsc_plot::{Gallery, GalleryRow, Pixels, Thumbnail};

use crate::quality::Quality;

/// Clusters drawn at most (the largest ones); the report's table lists every cluster.
pub const MAX_GALLERY_CLUSTERS: usize = 30;

/// Prepare's images, memory-mapped: thumbnails are read one by one.
pub struct Images {
    file: TensorFile,
    path: String,
    /// `[N, C, H, W]`.
    shape: [usize; 4],
}

impl Images {
    /// The `images` tensor of `path`; `None` when the file does not exist or holds no
    /// images (feature tables). A tensor of the wrong type, rank or sample count is an
    /// error naming the file.
    pub fn open(path: &Path, n_samples: usize) -> anyhow::Result<Option<Images>> {
        if !path.exists() {
            return Ok(None);
        }
        let file = TensorFile::open(path)?;
        let shown = path.display().to_string();
        let shape = {
            let tensors = file.tensors();
            let Ok(view) = tensors.tensor(IMAGES_TENSOR) else {
                return Ok(None);
            };
            anyhow::ensure!(
                view.dtype() == safetensors::Dtype::U8,
                "{shown}: tensor `{IMAGES_TENSOR}` is {:?}, expected U8",
                view.dtype()
            );
            let shape: [usize; 4] = view.shape().try_into().map_err(|_| {
                anyhow::anyhow!(
                    "{shown}: tensor `{IMAGES_TENSOR}` has shape {:?}, expected [N, C, H, W]",
                    view.shape()
                )
            })?;
            anyhow::ensure!(
                shape[0] == n_samples,
                "{shown}: tensor `{IMAGES_TENSOR}` holds {} images, but there are {n_samples} samples",
                shape[0]
            );
            anyhow::ensure!(
                shape[1..].iter().all(|&d| d > 0),
                "{shown}: tensor `{IMAGES_TENSOR}` has an empty image shape {shape:?}"
            );
            shape
        };
        Ok(Some(Images {
            file,
            path: shown,
            shape,
        }))
    }

    /// Sample `i` as a grey (one channel) or RGB (three) picture; of another channel
    /// count, the first channel in grey.
    pub fn thumbnail(&self, i: usize) -> anyhow::Result<Pixels> {
        let [_, c, h, w] = self.shape;
        let tensors = self.file.tensors();
        let view = tensors
            .tensor(IMAGES_TENSOR)
            .with_context(|| format!("{}: tensor `{IMAGES_TENSOR}`", self.path))?;
        let image = &view.data()[i * c * h * w..][..c * h * w];
        let (channels, data) = if c == 3 {
            // CHW → HWC.
            let data = (0..h * w)
                .flat_map(|p| [image[p], image[h * w + p], image[2 * h * w + p]])
                .collect();
            (3, data)
        } else {
            (1, image[..h * w].to_vec())
        };
        Pixels::new(w as u32, h as u32, channels, data)
    }
}

/// What the gallery is drawn from.
pub struct GalleryData<'a> {
    pub name: &'a str,
    pub quality: &'a Quality,
    pub images: &'a Images,
    /// Class id → name (may be empty).
    pub class_names: &'a BTreeMap<i32, String>,
}

/// The clusters to draw, in drawing order: the [`MAX_GALLERY_CLUSTERS`] largest, then
/// ordered by majority class (labelled runs, so that clusters of one class sit together)
/// and cluster id.
pub fn drawn_clusters(quality: &Quality) -> Vec<usize> {
    let mut by_size: Vec<usize> = (0..quality.clusters.len()).collect();
    by_size.sort_by_key(|&c| (std::cmp::Reverse(quality.clusters[c].size), c));
    by_size.truncate(MAX_GALLERY_CLUSTERS);
    by_size.sort_by_key(|&c| (quality.clusters[c].majority_class.unwrap_or(i32::MAX), c));
    by_size
}

pub fn chart(data: &GalleryData) -> anyhow::Result<Gallery> {
    let quality = data.quality;
    let drawn = drawn_clusters(quality);
    let thumbnails = |samples: &[u32]| -> anyhow::Result<Vec<Thumbnail>> {
        samples
            .iter()
            .map(|&i| {
                Ok(Thumbnail {
                    pixels: data.images.thumbnail(i as usize)?,
                    caption: format!("#{i}"),
                })
            })
            .collect()
    };
    let mut rows = Vec::with_capacity(drawn.len());
    for &c in &drawn {
        let cluster = &quality.clusters[c];
        let mut lines = vec![
            format!("cluster {c}"),
            format!(
                "{} sample{} · cohesion {}",
                cluster.size,
                if cluster.size == 1 { "" } else { "s" },
                cluster.cohesion.map_or("–".into(), |v| format!("{v:.3}"))
            ),
            format!(
                "silhouette {}",
                cluster.silhouette.map_or("–".into(), |v| format!("{v:.3}"))
            ),
        ];
        if let (Some(class), Some(purity)) = (cluster.majority_class, cluster.purity) {
            lines.push(format!(
                "mostly {}: {:.1}%",
                crate::figures::class_name(data.class_names, class),
                purity * 100.0
            ));
        }
        rows.push(GalleryRow {
            lines,
            representative: thumbnails(&cluster.representatives)?,
            least: thumbnails(&cluster.least_representative)?,
        });
    }
    let total = quality.clusters.len();
    let shown = if drawn.len() < total {
        format!(
            "The {} largest of {total} clusters (report.md lists them all). ",
            drawn.len()
        )
    } else {
        String::new()
    };
    Ok(Gallery {
        title: format!("{}: samples of each cluster", data.name),
        representative_heading: "most representative (nearest the cluster's centre)".into(),
        least_heading: "least representative".into(),
        rows,
        note: Some(format!(
            "{shown}Most representative: nearest the cluster's centre in the spectral \
             embedding. Least: the smallest share of affinity weight inside the cluster. \
             Captions are sample indices."
        )),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use ebsc_io::tensors::{TensorData, write_tensors};

    use super::*;
    use crate::quality::ClusterQuality;

    fn write_images(path: &Path, shape: [usize; 4], data: Vec<u8>) {
        let file = std::fs::File::create(path).unwrap();
        let data = TensorData::U8(data);
        write_tensors(
            file,
            &[(IMAGES_TENSOR, shape.to_vec(), &data)],
            &HashMap::new(),
        )
        .unwrap();
    }

    #[test]
    fn thumbnails_come_from_the_images_tensor() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inputs.safetensors");
        // Two RGB 1×2 images: channel planes R, G, B of each.
        write_images(
            &path,
            [2, 3, 1, 2],
            vec![1, 2, 3, 4, 5, 6, 10, 20, 30, 40, 50, 60],
        );
        let images = Images::open(&path, 2).unwrap().unwrap();
        let second = images.thumbnail(1).unwrap();
        assert_eq!(
            second,
            Pixels::new(2, 1, 3, vec![10, 30, 50, 20, 40, 60]).unwrap()
        );
        let error = Images::open(&path, 3).err().unwrap().to_string();
        assert!(
            error.contains("inputs.safetensors") && error.contains("holds 2 images"),
            "{error}"
        );
        assert!(
            Images::open(&dir.path().join("none.safetensors"), 2)
                .unwrap()
                .is_none()
        );
        // A feature table's inputs: no images, no gallery.
        let features = dir.path().join("features.safetensors");
        let data = TensorData::F32(vec![0.0; 4]);
        write_tensors(
            std::fs::File::create(&features).unwrap(),
            &[("features", vec![2, 2], &data)],
            &HashMap::new(),
        )
        .unwrap();
        assert!(Images::open(&features, 2).unwrap().is_none());
    }

    #[test]
    fn rows_without_labels_have_no_class_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inputs.safetensors");
        write_images(&path, [3, 1, 2, 2], (0..12).collect());
        let images = Images::open(&path, 3).unwrap().unwrap();
        let quality = Quality {
            clusters: vec![
                ClusterQuality {
                    size: 2,
                    cohesion: Some(1.0),
                    representatives: vec![0, 2],
                    ..ClusterQuality::default()
                },
                ClusterQuality {
                    size: 1,
                    representatives: vec![1],
                    ..ClusterQuality::default()
                },
            ],
            ..Quality::default()
        };
        let names = BTreeMap::new();
        let gallery = chart(&GalleryData {
            name: "run",
            quality: &quality,
            images: &images,
            class_names: &names,
        })
        .unwrap();
        assert_eq!(
            gallery.rows[0].lines,
            ["cluster 0", "2 samples · cohesion 1.000", "silhouette –"]
        );
        assert_eq!(gallery.rows[1].lines[1], "1 sample · cohesion –");
        assert_eq!(gallery.rows[0].representative[1].caption, "#2");
        assert_eq!(
            gallery.rows[0].representative[1].pixels,
            Pixels::new(2, 2, 1, vec![8, 9, 10, 11]).unwrap()
        );
        assert!(gallery.note.unwrap().starts_with("Most representative"));
    }

    #[test]
    fn the_largest_clusters_are_drawn_grouped_by_class() {
        let cluster = |size: usize, class: Option<i32>| ClusterQuality {
            size,
            majority_class: class,
            ..ClusterQuality::default()
        };
        let mut quality = Quality {
            clusters: vec![
                cluster(5, Some(2)),
                cluster(9, Some(1)),
                cluster(7, Some(2)),
                cluster(1, None),
            ],
            ..Quality::default()
        };
        assert_eq!(drawn_clusters(&quality), [1, 0, 2, 3]);
        quality.clusters = (0..40).map(|c| cluster(100 - c, None)).collect();
        let drawn = drawn_clusters(&quality);
        assert_eq!(drawn.len(), MAX_GALLERY_CLUSTERS);
        assert_eq!(drawn, (0..30).collect::<Vec<_>>());
    }
}
