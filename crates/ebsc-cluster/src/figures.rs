//! The report's figures, drawn pixel by pixel with the `image` crate (no fonts: the
//! captions in `report.md` say what the axes are).
//!
//! - `affinity.png`: `W` with samples reordered by class, summed into at most 1000×1000
//!   bins, log-scaled grey (white = no weight, black = the heaviest bin).
//! - `confusion.png`: classes in rows, clusters in columns ordered by their Hungarian
//!   match, white → dark blue by the row-normalised count.
//! - `embedding.png`: the first two row-normalised spectral coordinates, one dot per
//!   sample (a seeded subsample of at most 20,000), coloured by cluster.
//! - `spectrum.png`: the top eigenvalues as bars, the first k in blue, a red line at k.

use std::io::Cursor;

use anyhow::Context;
use ebsc_spectral::SparseGraph;
use image::{ImageFormat, Rgb, RgbImage};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::outputs::Confusion;

/// Largest side of the affinity picture, in bins.
pub const MAX_AFFINITY_BINS: usize = 1000;
/// Dots drawn at most in the embedding scatter.
pub const MAX_EMBEDDING_POINTS: usize = 20_000;
/// Smallest confusion matrix cell, in pixels.
pub const MIN_CELL: u32 = 24;

const WHITE: Rgb<u8> = Rgb([255, 255, 255]);
const LIGHT_GREY: Rgb<u8> = Rgb([220, 220, 220]);
const GREY: Rgb<u8> = Rgb([150, 150, 150]);
const BLACK: Rgb<u8> = Rgb([0, 0, 0]);
const RED: Rgb<u8> = Rgb([214, 39, 40]);
const BLUE: Rgb<u8> = Rgb([31, 119, 180]);

/// matplotlib's `tab20`, dark shades first: cluster `c` gets `PALETTE[c % 20]`.
pub const PALETTE: [[u8; 3]; 20] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
    [188, 189, 34],
    [23, 190, 207],
    [174, 199, 232],
    [255, 187, 120],
    [152, 223, 138],
    [255, 152, 150],
    [197, 176, 213],
    [196, 156, 148],
    [247, 182, 210],
    [199, 199, 199],
    [219, 219, 141],
    [158, 218, 229],
];

pub fn encode_png(image: &RgbImage) -> anyhow::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
        .context("encoding PNG")?;
    Ok(bytes)
}

/// Each sample's position when samples are sorted by `group` (stable; ties keep index
/// order), and where each group starts.
pub fn grouped_positions(group: &[i64]) -> Vec<u32> {
    let mut order: Vec<u32> = (0..group.len() as u32).collect();
    order.sort_by_key(|&i| group[i as usize]);
    let mut position = vec![0u32; group.len()];
    for (rank, &node) in order.iter().enumerate() {
        position[node as usize] = rank as u32;
    }
    position
}

/// The affinity reordered by `group` (class, or cluster without labels), binned by
/// summing weights; side `bins × scale` pixels with `bins ≤ MAX_AFFINITY_BINS`.
pub fn affinity_image(graph: &SparseGraph, group: &[i64]) -> RgbImage {
    let n = graph.n_nodes().max(1);
    let bins = n.min(MAX_AFFINITY_BINS);
    let position = grouped_positions(group);
    let bin = |node: usize| position[node] as usize * bins / n;
    let mut sums = vec![0f64; bins * bins];
    for node in 0..graph.n_nodes() {
        let row = bin(node) * bins;
        let (cols, weights) = graph.row(node);
        for (&col, &weight) in cols.iter().zip(weights) {
            sums[row + bin(col as usize)] += f64::from(weight);
        }
    }
    let positive = sums.iter().copied().filter(|&v| v > 0.0);
    let low = positive.clone().fold(f64::INFINITY, f64::min);
    let high = positive.fold(0.0, f64::max);
    let span = (high.ln() - low.ln()).max(f64::MIN_POSITIVE);
    // Small graphs get whole-pixel blocks so the picture is at least ~500 px wide.
    let scale = (500 / bins).max(1);
    let side = (bins * scale) as u32;
    RgbImage::from_fn(side, side, |x, y| {
        let value = sums[(y as usize / scale) * bins + x as usize / scale];
        if value <= 0.0 {
            return WHITE;
        }
        let t = if high > low {
            (value.ln() - low.ln()) / span
        } else {
            1.0
        };
        // The lightest non-zero bin is still visibly grey (215), the heaviest black.
        let grey = (215.0 - 215.0 * t).round().clamp(0.0, 215.0) as u8;
        Rgb([grey, grey, grey])
    })
}

/// Columns of the confusion matrix in drawing order: the cluster matched to each
/// class in class order, then unmatched clusters. `matched[c]` is cluster `c`'s class.
pub fn matched_column_order(confusion: &Confusion, matched: &[Option<i32>]) -> Vec<usize> {
    let mut order: Vec<usize> = Vec::with_capacity(confusion.clusters.len());
    for class in &confusion.classes {
        if let Some(c) = matched.iter().position(|m| m.as_ref() == Some(class)) {
            order.push(c);
        }
    }
    for c in 0..confusion.clusters.len() {
        if !order.contains(&c) {
            order.push(c);
        }
    }
    order
}

/// The confusion matrix: classes in rows, clusters in `column_order`, cells of at
/// least [`MIN_CELL`] px, white → dark blue by the fraction of the class's samples.
pub fn confusion_image(confusion: &Confusion, column_order: &[usize]) -> RgbImage {
    let n_rows = confusion.classes.len().max(1) as u32;
    let n_cols = column_order.len().max(1) as u32;
    let cell = (720 / n_rows.max(n_cols)).clamp(MIN_CELL, 48);
    let (width, height) = (n_cols * cell + 1, n_rows * cell + 1);
    let mut image = RgbImage::from_pixel(width, height, WHITE);
    for (r, row) in confusion.counts.iter().enumerate() {
        let total: u64 = row.iter().sum();
        for (drawn, &c) in column_order.iter().enumerate() {
            let fraction = if total > 0 {
                row[c] as f64 / total as f64
            } else {
                0.0
            };
            let colour = blend(WHITE, Rgb([8, 48, 107]), fraction);
            let (x0, y0) = (drawn as u32 * cell, r as u32 * cell);
            for y in y0 + 1..y0 + cell {
                for x in x0 + 1..x0 + cell {
                    image.put_pixel(x, y, colour);
                }
            }
        }
    }
    for i in 0..=n_cols {
        for y in 0..height {
            image.put_pixel(i * cell, y, LIGHT_GREY);
        }
    }
    for i in 0..=n_rows {
        for x in 0..width {
            image.put_pixel(x, i * cell, LIGHT_GREY);
        }
    }
    image
}

fn blend(from: Rgb<u8>, to: Rgb<u8>, t: f64) -> Rgb<u8> {
    let t = t.clamp(0.0, 1.0);
    Rgb(std::array::from_fn(|i| {
        (f64::from(from[i]) + (f64::from(to[i]) - f64::from(from[i])) * t).round() as u8
    }))
}

pub const EMBEDDING_SIDE: u32 = 800;
const EMBEDDING_MARGIN: u32 = 20;

/// Scatter of embedding coordinates 0 (x, right) and 1 (y, up), both spanning [−1, 1],
/// coloured by cluster; at most [`MAX_EMBEDDING_POINTS`] samples, drawn in a seeded
/// random order so that no cluster always lies on top.
pub fn embedding_image(embedding: &[f64], dims: usize, clusters: &[u32], seed: u64) -> RgbImage {
    let side = EMBEDDING_SIDE;
    let mut image = RgbImage::from_pixel(side, side, WHITE);
    let inner = f64::from(side - 2 * EMBEDDING_MARGIN - 1);
    let to_pixel = |v: f64| {
        (f64::from(EMBEDDING_MARGIN) + (v.clamp(-1.0, 1.0) + 1.0) / 2.0 * inner).round() as u32
    };
    let centre = to_pixel(0.0);
    let (low, high) = (to_pixel(-1.0), to_pixel(1.0));
    for t in low..=high {
        for (x, y) in [
            (t, centre),
            (centre, t),
            (t, low),
            (t, high),
            (low, t),
            (high, t),
        ] {
            image.put_pixel(x, y, LIGHT_GREY);
        }
    }
    let n = clusters.len();
    if dims == 0 || n == 0 {
        return image;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let drawn = rand::seq::index::sample(&mut rng, n, n.min(MAX_EMBEDDING_POINTS));
    let radius: i64 = if drawn.len() > 5000 { 1 } else { 2 };
    for i in drawn.iter() {
        let x = embedding[i * dims];
        let y = if dims > 1 {
            embedding[i * dims + 1]
        } else {
            0.0
        };
        let (px, py) = (to_pixel(x) as i64, (side - 1 - to_pixel(y)) as i64);
        let colour = Rgb(PALETTE[clusters[i] as usize % PALETTE.len()]);
        for dy in -radius..=radius {
            for dx in -radius..=radius {
                let (x, y) = (px + dx, py + dy);
                if (0..side as i64).contains(&x) && (0..side as i64).contains(&y) {
                    image.put_pixel(x as u32, y as u32, colour);
                }
            }
        }
    }
    image
}

const BAR: u32 = 16;
const BAR_GAP: u32 = 8;
const SPECTRUM_HEIGHT: u32 = 320;
const SPECTRUM_MARGIN: u32 = 20;

/// Bars of the eigenvalues in order (x: 1, 2, …), height from the lower of 0 and the
/// smallest eigenvalue up to 1 (top); the first `k` blue, a red line between `k` and
/// `k + 1`, grey lines at every 0.25.
pub fn spectrum_image(eigenvalues: &[f64], k: usize) -> RgbImage {
    let n = eigenvalues.len() as u32;
    let width = (2 * SPECTRUM_MARGIN + n * (BAR + BAR_GAP)).max(400);
    let height = SPECTRUM_HEIGHT;
    let mut image = RgbImage::from_pixel(width, height, WHITE);
    let bottom_value = eigenvalues.iter().copied().fold(0.0f64, f64::min);
    let top_value = eigenvalues.iter().copied().fold(1.0f64, f64::max);
    let plot = f64::from(height - 2 * SPECTRUM_MARGIN);
    let to_y = |v: f64| {
        let t = (v - bottom_value) / (top_value - bottom_value).max(f64::MIN_POSITIVE);
        (f64::from(height - SPECTRUM_MARGIN) - t * plot).round() as u32
    };
    let mut grid = (bottom_value / 0.25).ceil() * 0.25;
    while grid <= top_value + 1e-12 {
        let y = to_y(grid);
        let colour = if grid.abs() < 1e-12 {
            BLACK
        } else {
            LIGHT_GREY
        };
        for x in SPECTRUM_MARGIN..width - SPECTRUM_MARGIN {
            image.put_pixel(x, y, colour);
        }
        grid += 0.25;
    }
    let zero = to_y(0.0);
    for (i, &value) in eigenvalues.iter().enumerate() {
        let x0 = SPECTRUM_MARGIN + BAR_GAP / 2 + i as u32 * (BAR + BAR_GAP);
        let y = to_y(value);
        let (top, bottom) = (y.min(zero), y.max(zero));
        let colour = if i < k { BLUE } else { GREY };
        for yy in top..=bottom {
            for x in x0..x0 + BAR {
                image.put_pixel(x, yy, colour);
            }
        }
    }
    if k > 0 && (k as u32) <= n {
        let x = SPECTRUM_MARGIN + k as u32 * (BAR + BAR_GAP);
        for y in SPECTRUM_MARGIN / 2..height - SPECTRUM_MARGIN / 2 {
            image.put_pixel(x, y, RED);
            image.put_pixel(x + 1, y, RED);
        }
    }
    image
}

#[cfg(test)]
mod tests {
    use ebsc_spectral::Symmetry;

    use super::*;

    fn count(image: &RgbImage, colour: Rgb<u8>) -> usize {
        image.pixels().filter(|&&p| p == colour).count()
    }

    /// Two blocks {0,2} and {1,3}, interleaved in index order.
    fn two_blocks() -> SparseGraph {
        let (rows, cols) = (vec![0, 2, 1, 3], vec![2, 0, 3, 1]);
        SparseGraph::from_triplets(4, &rows, &cols, &[1.0; 4], Symmetry::Require)
            .unwrap()
            .0
    }

    #[test]
    fn affinity_is_block_diagonal_after_reordering() {
        let image = affinity_image(&two_blocks(), &[0, 1, 0, 1]);
        // 4 bins scaled by 125 to 500 px.
        assert_eq!(image.dimensions(), (500, 500));
        // Sorted by class: positions 0,1 = class 0 and 2,3 = class 1; the edges fall in
        // bins (0,1), (1,0), (2,3), (3,2): the diagonal blocks, 4 of 16 bins.
        assert_eq!(image.get_pixel(125 + 10, 10), &BLACK);
        assert_eq!(image.get_pixel(375 + 10, 250 + 10), &BLACK);
        assert_eq!(image.get_pixel(250 + 10, 10), &WHITE);
        assert_eq!(count(&image, BLACK), 4 * 125 * 125);
    }

    #[test]
    fn affinity_bins_are_capped() {
        let n = 2500u32;
        let rows: Vec<u32> = (0..n).collect();
        let cols: Vec<u32> = (0..n).map(|i| i ^ 1).collect();
        let graph = SparseGraph::from_triplets(
            n as usize,
            &rows,
            &cols,
            &vec![1.0; n as usize],
            Symmetry::Require,
        )
        .unwrap()
        .0;
        let image = affinity_image(&graph, &vec![0; n as usize]);
        assert_eq!(image.dimensions(), (1000, 1000));
        assert!(count(&image, WHITE) < 1000 * 1000);
    }

    #[test]
    fn confusion_cells_and_order() {
        let confusion = Confusion {
            classes: vec![0, 1],
            clusters: vec![0, 1, 2],
            counts: vec![vec![0, 10, 0], vec![5, 0, 5]],
        };
        let order = matched_column_order(&confusion, &[Some(1), Some(0), None]);
        assert_eq!(order, vec![1, 0, 2]);
        let image = confusion_image(&confusion, &order);
        let cell = 720 / 3;
        assert!(cell >= MIN_CELL);
        let cell = cell.min(48);
        assert_eq!(image.dimensions(), (3 * cell + 1, 2 * cell + 1));
        // Class 0 is all in its matched cluster: the darkest blue on the diagonal.
        assert_eq!(image.get_pixel(cell / 2, cell / 2), &Rgb([8, 48, 107]));
        assert_eq!(image.get_pixel(cell + cell / 2, cell / 2), &WHITE);
    }

    #[test]
    fn embedding_draws_each_cluster_colour() {
        let embedding = vec![1.0, 0.0, 0.0, 1.0, -1.0, 0.0];
        let image = embedding_image(&embedding, 2, &[0, 1, 2], 7);
        assert_eq!(image.dimensions(), (EMBEDDING_SIDE, EMBEDDING_SIDE));
        for (c, colour) in PALETTE.iter().take(3).enumerate() {
            assert!(count(&image, Rgb(*colour)) > 0, "cluster {c}");
        }
    }

    #[test]
    fn spectrum_marks_k() {
        let image = spectrum_image(&[1.0, 0.95, 0.9, 0.2, 0.1], 3);
        assert_eq!(image.height(), SPECTRUM_HEIGHT);
        assert!(count(&image, BLUE) > 0 && count(&image, GREY) > 0 && count(&image, RED) > 0);
        let bytes = encode_png(&image).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
    }
}
