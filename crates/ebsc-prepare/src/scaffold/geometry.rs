//! Label-free measures of a data set's geometry that `new` fills its templates from: how
//! crowded the samples' cosines are, how linear their neighbourhoods are, whether
//! images' mirror images belong to the set, and whether gray images are drawn in strokes.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use crate::dataset::Inputs;

/// Rows the measures are taken over, evenly spaced through the data.
pub const PROBE_ROWS: usize = 200;
/// Rows the neighbours of [`neighbour_spans`] are searched among, evenly spaced.
const NEIGHBOUR_POOL: usize = 4_000;
/// Neighbours whose span [`NeighbourSpans::ratio`] projects on (fewer below 60 columns).
const SPAN_NEIGHBOURS: usize = 15;
/// Images [`stroke_share`] averages over, evenly spaced: a per-pixel count is cheap, and
/// the share varies from image to image (its spread is about half its mean on clothing).
const STROKE_PROBE: usize = 2_000;

/// The mean cosine similarity over all pairs of up to [`PROBE_ROWS`] evenly spaced rows:
/// near 1 when a common component (a bright background, a mean face) dominates every row.
pub fn mean_cosine(inputs: &Inputs) -> f64 {
    let rows = unit_rows(inputs, inputs.n_rows().min(PROBE_ROWS));
    let picked = rows.len();
    if picked < 2 {
        return 0.0;
    }
    let mut sum = 0.0;
    for i in 0..picked {
        for j in i + 1..picked {
            sum += dot(&rows[i], &rows[j]);
        }
    }
    sum / (picked * (picked - 1) / 2) as f64
}

/// From this quotient of the widest column's range over the narrowest's, a feature table's
/// columns are in different units (wine's proline spans 1,400, its hue 1.2; breast cancer's
/// areas 2,400, its fractal dimensions 0.045), and the widest decide every cosine; pixels
/// and embeddings share one range (the 8×8 digits: 16 over 1).
pub const COLUMN_RANGE_SPREAD: f64 = 100.0;

/// The widest and the narrowest column of a feature table by range (max − min), columns
/// that hold one value left out: `(column, range)` of each, 0-based, when the first's range
/// is [`COLUMN_RANGE_SPREAD`] times the second's or more. `None` for images.
pub fn column_units_differ(inputs: &Inputs) -> Option<((usize, f64), (usize, f64))> {
    let Inputs::Features { data, dim } = inputs else {
        return None;
    };
    let dim = *dim;
    if dim < 2 {
        return None;
    }
    let mut low = vec![f32::INFINITY; dim];
    let mut high = vec![f32::NEG_INFINITY; dim];
    for row in data.chunks_exact(dim) {
        for (c, &v) in row.iter().enumerate() {
            low[c] = low[c].min(v);
            high[c] = high[c].max(v);
        }
    }
    let ranges: Vec<(usize, f64)> = (0..dim)
        .map(|c| (c, f64::from(high[c]) - f64::from(low[c])))
        .filter(|&(_, r)| r > 0.0)
        .collect();
    let widest = ranges
        .iter()
        .copied()
        .reduce(|a, b| if b.1 > a.1 { b } else { a })?;
    let narrowest = ranges
        .iter()
        .copied()
        .reduce(|a, b| if b.1 < a.1 { b } else { a })?;
    (widest.1 >= COLUMN_RANGE_SPREAD * narrowest.1).then_some((widest, narrowest))
}

/// The neighbour-span measures of [`neighbour_spans`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NeighbourSpans {
    /// How much more of a sample the span of its `m` nearest neighbours (by cosine)
    /// explains than its nearest one: the mean residual of the least-squares projection
    /// onto that span over the mean residual of the projection onto the nearest neighbour
    /// alone, rows scaled to unit norm. `m` is 15, or a quarter of the columns when there
    /// are fewer than 60 (m neighbours span any m-dimensional space, so an `m` near the
    /// column count would call any data linear).
    ///
    /// Samples on low-dimensional linear subspaces are rebuilt by a few neighbours almost
    /// exactly (overlapping 6-dimensional subspaces of R^40: 0.09; 15-dimensional ones of
    /// R^100: 0.37); samples on curved class manifolds are not (8×8 digits 0.55, 400 MNIST
    /// digits 0.74, 400 Fashion-MNIST images 0.79). `None` under 8 columns.
    pub ratio: Option<f64>,
    /// The same ratio measured against chance, for subspaces of more dimensions than the
    /// ratio's `m`: for `m` from 2 to [`CHANCE_SPAN_NEIGHBOURS`] (at most half the
    /// columns), how far the residual falls from one nearest neighbour to `m` of them,
    /// over how far it falls from one random sample of the set to `m` random samples;
    /// the smallest over `m`. Near 1 when neighbours explain no more than any samples do
    /// (curved class manifolds, data of few global dimensions: 8×8 digits 0.99, 400 MNIST
    /// digits 0.96, face photos 1.07); small when `m` neighbours from one subspace explain
    /// what `m` random samples from all of them cannot (5 random 10-dimensional subspaces
    /// of R^20: 0.55, where the ratio reads 0.60). Blurred clusters and structureless
    /// clouds read 0.5–0.95 too: neighbours near a sample share its direction.
    /// `None` when `m` cannot reach 2.
    pub over_chance: Option<f64>,
    /// The neighbour-span curve against the same curve on a Gaussian cloud with the set's
    /// second moments (each point a random combination of [`GAUSSIAN_TERMS`] rows), the
    /// smallest over `m` as for `over_chance`: near 1 for structureless clouds and blurred
    /// clusters (0.94–1.04), below where the set's neighbours are a subspace's (5 random
    /// 10-dimensional subspaces of R^20: 0.76). `None` when `m` cannot reach 2.
    pub over_gaussian: Option<f64>,
    /// How far the samples come in opposite pairs: the mean over the probed samples of the
    /// most negative cosine with another sample, over the mean of the largest. A linear
    /// subspace holds −x with x, and samples drawn on one (any symmetric combination of its
    /// basis) read 0.96–1.04; sets of non-negative values (images, counts) read below 0,
    /// standardised and PCA-reduced tables 0.41–0.96 (iris 0.96), Gaussian clouds 1.00.
    pub sign_symmetry: f64,
}

/// Most neighbours [`NeighbourSpans::over_chance`] adds.
pub const CHANCE_SPAN_NEIGHBOURS: usize = 32;
/// Rows each point of the Gaussian cloud of [`NeighbourSpans::over_gaussian`] combines.
pub const GAUSSIAN_TERMS: usize = 50;
/// Seed of the random samples and the Gaussian cloud the spans are compared with.
const CHANCE_SEED: u64 = 0;

/// The neighbour-span measures over up to [`PROBE_ROWS`] samples, their neighbours
/// searched among up to [`NEIGHBOUR_POOL`] rows. `None` when they cannot be told: fewer
/// than three rows or three columns, or rows that all repeat their nearest neighbour; the
/// ratio and the two measures of how far the residual falls need eight columns.
pub fn neighbour_spans(inputs: &Inputs) -> Option<NeighbourSpans> {
    let n = inputs.n_rows();
    let dim = inputs.row_len();
    if n < 3 || dim < 3 {
        return None;
    }
    let wide = dim >= 8;
    let pool = unit_rows(inputs, n.min(NEIGHBOUR_POOL));
    let m = SPAN_NEIGHBOURS.min(dim / 4).min(pool.len() - 1);
    // At least m: dim / 2 ≥ dim / 4 and 32 ≥ 15.
    let m_chance = CHANCE_SPAN_NEIGHBOURS.min(dim / 2).min(pool.len() - 1);
    let probes = pool.len().min(PROBE_ROWS);
    let mut rng = ChaCha8Rng::seed_from_u64(CHANCE_SEED);
    let cloud = gaussian_cloud(&pool, &mut rng);
    let mut nearest = vec![0.0; m_chance];
    let mut random = vec![0.0; m_chance];
    let mut gaussian = vec![0.0; m_chance];
    let (mut most_negative, mut largest) = (0.0, 0.0);
    for p in 0..probes {
        let i = p * pool.len() / probes;
        let (curve, extremes) = nearest_curve(&pool, i, m_chance);
        add(&mut nearest, &curve);
        most_negative -= extremes.0;
        largest += extremes.1;
        add(&mut gaussian, &nearest_curve(&cloud, i, m_chance).0);
        // m_chance distinct rows other than i.
        let drawn: Vec<&[f64]> = rand::seq::index::sample(&mut rng, pool.len() - 1, m_chance)
            .into_iter()
            .map(|j| pool[if j >= i { j + 1 } else { j }].as_slice())
            .collect();
        add(&mut random, &residual_curve(&pool[i], &drawn));
    }
    if nearest[0] <= 1e-9 {
        return None;
    }
    // How much further the neighbours' curve falls than `other`, at its lowest; only at
    // counts where `other` still leaves a residual (beyond them the set has no dimensions
    // left for neighbours to do better in).
    let against = |other: &[f64]| {
        (1..m_chance)
            .filter(|&k| other[k] > 1e-3 * other[0])
            .map(|k| (nearest[k] / nearest[0]) / (other[k] / other[0]))
            .reduce(f64::min)
    };
    Some(NeighbourSpans {
        ratio: wide.then(|| nearest[m - 1] / nearest[0]),
        over_chance: against(&random).filter(|_| wide),
        over_gaussian: against(&gaussian).filter(|_| wide),
        sign_symmetry: most_negative / largest.max(1e-12),
    })
}

/// The residual curve ([`residual_curve`]) of row `i` of `rows` on its `count` nearest
/// other rows by cosine (rows of unit norm), nearest first; and the smallest and the
/// largest cosine of row `i` with another row.
fn nearest_curve(rows: &[Vec<f64>], i: usize, count: usize) -> (Vec<f64>, (f64, f64)) {
    let row = &rows[i];
    let mut ranked: Vec<(f64, usize)> = rows
        .iter()
        .enumerate()
        .filter(|&(j, _)| j != i)
        .map(|(j, other)| (dot(row, other), j))
        .collect();
    let smallest = ranked.iter().map(|&(c, _)| c).fold(f64::INFINITY, f64::min);
    ranked.select_nth_unstable_by(count - 1, |a, b| b.0.total_cmp(&a.0));
    ranked.truncate(count);
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
    let span: Vec<&[f64]> = ranked.iter().map(|&(_, j)| rows[j].as_slice()).collect();
    (residual_curve(row, &span), (smallest, ranked[0].0))
}

/// As many unit rows as `rows`, each a Gaussian-weighted sum of [`GAUSSIAN_TERMS`]
/// distinct rows: a cloud with the rows' second moments and none of their structure.
fn gaussian_cloud(rows: &[Vec<f64>], rng: &mut ChaCha8Rng) -> Vec<Vec<f64>> {
    let terms = GAUSSIAN_TERMS.min(rows.len());
    (0..rows.len())
        .map(|_| {
            let mut point = vec![0.0; rows[0].len()];
            for j in rand::seq::index::sample(rng, rows.len(), terms) {
                let weight: f64 = rng.sample(StandardNormal);
                point
                    .iter_mut()
                    .zip(&rows[j])
                    .for_each(|(p, r)| *p += weight * r);
            }
            let norm = dot(&point, &point).sqrt();
            point.iter_mut().for_each(|p| *p /= norm.max(1e-12));
            point
        })
        .collect()
}

/// Whether an image set holds the mirror images of its images: over up to [`PROBE_ROWS`]
/// images, the cosine between a left–right mirrored image and its nearest other image in
/// the set, over the cosine between the image and its nearest other image, averaged with
/// weights 1 − cos(image, its mirror) (pixels centred on the set's mean image, up to
/// [`NEIGHBOUR_POOL`] images searched). The weights leave out what a mirror does not
/// change: a symmetric shirt says nothing, a shoe pointing left says whether shoes point
/// right too. Near 1 when mirrored images belong to the set (animal silhouettes facing
/// either way 0.98); lower when they do not (clothing, whose shoes all point one way,
/// 0.84; letters 0.74; handwritten digits 0.73). The image itself is left out of both
/// searches. `None` for feature tables, fewer than three images, or symmetric images.
pub fn mirror_ratio(inputs: &Inputs) -> Option<f64> {
    let Inputs::Images {
        channels,
        height,
        width,
        ..
    } = *inputs
    else {
        return None;
    };
    let n = inputs.n_rows();
    if n < 3 {
        return None;
    }
    let pool = raw_rows(inputs, n.min(NEIGHBOUR_POOL));
    let mean = mean_row(&pool);
    // The mirrored image is centred on the set's mean, not on the mirrored mean: a set
    // whose mean is lopsided (text starting at the left) should not look symmetric.
    let unit_centred = |row: &[f64]| {
        let centred: Vec<f64> = row.iter().zip(&mean).map(|(v, m)| v - m).collect();
        let norm = dot(&centred, &centred).sqrt();
        (norm > 1e-9).then(|| centred.into_iter().map(|v| v / norm).collect::<Vec<f64>>())
    };
    let units: Vec<Option<Vec<f64>>> = pool.iter().map(|row| unit_centred(row)).collect();
    let nearest = |row: &[f64], skip: usize| {
        units
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != skip)
            .filter_map(|(_, other)| other.as_deref().map(|o| dot(row, o)))
            .fold(f64::NEG_INFINITY, f64::max)
    };
    let probes = pool.len().min(PROBE_ROWS);
    let (mut own_sum, mut mirrored_sum) = (0.0, 0.0);
    for p in 0..probes {
        let i = p * pool.len() / probes;
        let (Some(row), Some(mirrored)) = (
            &units[i],
            unit_centred(&mirror(&pool[i], channels, height, width)),
        ) else {
            continue;
        };
        let weight = (1.0 - dot(row, &mirrored)).max(0.0);
        let (own, mirrored) = (nearest(row, i), nearest(&mirrored, i));
        if own.is_finite() && mirrored.is_finite() {
            own_sum += weight * own;
            mirrored_sum += weight * mirrored;
        }
    }
    (own_sum > 1e-9).then(|| mirrored_sum / own_sum)
}

/// Whether a gray image set is drawn in strokes: the share of its lit pixels (≥ 128, after
/// turning dark-on-light sets around by their border's mean) that one 3×3 erosion removes,
/// i.e. that have an unlit pixel among their in-image neighbours, averaged over up to
/// [`STROKE_PROBE`] evenly spaced images that have a lit pixel. Strokes a few pixels wide
/// are mostly edge (handwritten digits 0.87, printed letters and digits 0.69–0.78); filled
/// shapes and textures are not (animal silhouettes 0.54, clothing 0.57, shaded renders of
/// glyphs 0.45). `None` for feature tables, colour images, or images with nothing lit.
pub fn stroke_share(inputs: &Inputs) -> Option<f64> {
    let Inputs::Images {
        data,
        channels: 1,
        height,
        width,
    } = inputs
    else {
        return None;
    };
    let (h, w) = (*height, *width);
    let n = inputs.n_rows();
    let count = n.min(STROKE_PROBE);
    let images: Vec<&[u8]> = (0..count)
        .map(|k| {
            let r = k * n / count;
            &data[r * h * w..(r + 1) * h * w]
        })
        .collect();
    let on_border = |p: usize| {
        let (y, x) = (p / w, p % w);
        y == 0 || y + 1 == h || x == 0 || x + 1 == w
    };
    let (border_sum, border_len) = images
        .iter()
        .flat_map(|image| image.iter().enumerate().filter(|&(p, _)| on_border(p)))
        .fold((0.0, 0usize), |(sum, len), (_, &v)| {
            (sum + f64::from(v), len + 1)
        });
    let dark_on_light = border_sum / border_len.max(1) as f64 > 127.5;
    let lit = |v: u8| (v >= 128) != dark_on_light;
    let (mut sum, mut counted) = (0.0, 0usize);
    for image in &images {
        let (mut lit_pixels, mut edge_pixels) = (0usize, 0usize);
        for y in 0..h {
            for x in 0..w {
                if !lit(image[y * w + x]) {
                    continue;
                }
                lit_pixels += 1;
                let ys = y.saturating_sub(1)..=(y + 1).min(h - 1);
                let on_edge = ys.into_iter().any(|ny| {
                    (x.saturating_sub(1)..=(x + 1).min(w - 1)).any(|nx| !lit(image[ny * w + nx]))
                });
                edge_pixels += usize::from(on_edge);
            }
        }
        if lit_pixels > 0 {
            sum += edge_pixels as f64 / lit_pixels as f64;
            counted += 1;
        }
    }
    (counted > 0).then(|| sum / counted as f64)
}

/// An image row (`[channels, height, width]`) mirrored left to right.
fn mirror(row: &[f64], channels: usize, height: usize, width: usize) -> Vec<f64> {
    let mut out = vec![0.0; row.len()];
    for line in 0..channels * height {
        let at = line * width;
        for x in 0..width {
            out[at + x] = row[at + width - 1 - x];
        }
    }
    out
}

/// ‖x − P_k x‖ for k = 1, 2, …: P_k the orthogonal projection onto the span of the first k
/// `vectors` (modified Gram–Schmidt; a vector already in the span of the earlier ones adds
/// nothing).
fn residual_curve(x: &[f64], vectors: &[&[f64]]) -> Vec<f64> {
    let mut basis: Vec<Vec<f64>> = Vec::with_capacity(vectors.len());
    let mut r = x.to_vec();
    let mut curve = Vec::with_capacity(vectors.len());
    for v in vectors {
        let mut u = v.to_vec();
        for b in &basis {
            let along = dot(&u, b);
            u.iter_mut().zip(b).for_each(|(ui, bi)| *ui -= along * bi);
        }
        let norm = dot(&u, &u).sqrt();
        if norm > 1e-8 {
            u.iter_mut().for_each(|ui| *ui /= norm);
            let along = dot(&r, &u);
            r.iter_mut().zip(&u).for_each(|(ri, ui)| *ri -= along * ui);
            basis.push(u);
        }
        curve.push(dot(&r, &r).sqrt());
    }
    curve
}

/// `sum[k] += curve[k]` for every k.
fn add(sum: &mut [f64], curve: &[f64]) {
    sum.iter_mut().zip(curve).for_each(|(s, c)| *s += c);
}

/// `count` rows evenly spaced through the data, scaled to unit norm (zero rows stay zero).
fn unit_rows(inputs: &Inputs, count: usize) -> Vec<Vec<f64>> {
    raw_rows(inputs, count)
        .into_iter()
        .map(|row| {
            let norm = dot(&row, &row).sqrt();
            row.into_iter()
                .map(|v| if norm > 0.0 { v / norm } else { 0.0 })
                .collect()
        })
        .collect()
}

/// `count` rows evenly spaced through the data, as they are.
fn raw_rows(inputs: &Inputs, count: usize) -> Vec<Vec<f64>> {
    let n = inputs.n_rows();
    let dim = inputs.row_len();
    let value = |i: usize| match inputs {
        Inputs::Images { data, .. } => f64::from(data[i]),
        Inputs::Features { data, .. } => f64::from(data[i]),
    };
    (0..count)
        .map(|k| {
            let r = k * n / count;
            (r * dim..(r + 1) * dim).map(value).collect()
        })
        .collect()
}

/// The mean of `rows`.
fn mean_row(rows: &[Vec<f64>]) -> Vec<f64> {
    let mut mean = vec![0.0; rows.first().map_or(0, Vec::len)];
    for row in rows {
        mean.iter_mut().zip(row).for_each(|(m, v)| *m += v);
    }
    mean.iter_mut().for_each(|m| *m /= rows.len().max(1) as f64);
    mean
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows as a feature table.
    fn table(rows: &[Vec<f32>]) -> Inputs {
        Inputs::Features {
            dim: rows[0].len(),
            data: rows.concat(),
        }
    }

    /// A deterministic pseudo-random value in [-1, 1) (SplitMix64).
    fn noise(state: &mut u64) -> f32 {
        *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        ((z >> 11) as f64 / (1u64 << 52) as f64 - 1.0) as f32
    }

    #[test]
    fn the_residual_on_a_span_matches_a_hand_worked_case() {
        // x = (1, 1, 1); the span of (1, 0, 0) and (1, 1, 0) is the first two axes, so the
        // residual is the third coordinate; (2, 2, 0) adds nothing and is skipped.
        let x = [1.0, 1.0, 1.0];
        // The first vector alone leaves (0, 1, 1).
        let curve = residual_curve(&x, &[&[1.0, 0.0, 0.0], &[1.0, 1.0, 0.0], &[2.0, 2.0, 0.0]]);
        let expected = [2f64.sqrt(), 1.0, 1.0];
        assert!(
            curve
                .iter()
                .zip(expected)
                .all(|(r, e)| (r - e).abs() < 1e-12),
            "{curve:?}"
        );
    }

    #[test]
    fn the_mean_cosine_of_orthogonal_and_equal_rows() {
        let orthogonal = table(&[vec![1.0, 0.0], vec![0.0, 2.0], vec![0.0, 0.0]]);
        assert_eq!(mean_cosine(&orthogonal), 0.0);
        let equal = table(&[vec![1.0, 2.0], vec![2.0, 4.0]]);
        assert!((mean_cosine(&equal) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn points_on_planes_are_rebuilt_by_their_neighbours_and_scattered_points_are_not() {
        // Three planes of R^12 (spanned by axes 4k..4k+1), 100 points each: every point is
        // a combination of two neighbours, so the span leaves no residual.
        let mut state = 7;
        let planes: Vec<Vec<f32>> = (0..300)
            .map(|i| {
                let mut row = vec![0.0; 12];
                row[4 * (i / 100)] = noise(&mut state);
                row[4 * (i / 100) + 1] = noise(&mut state);
                row
            })
            .collect();
        let spans = neighbour_spans(&table(&planes)).unwrap();
        assert!(spans.ratio.unwrap() < 1e-6, "{spans:?}");
        assert!(spans.over_chance.unwrap() < 1e-6, "{spans:?}");
        // Points spread over all of R^12: three neighbours rebuild little more than one.
        let scattered: Vec<Vec<f32>> = (0..300)
            .map(|_| (0..12).map(|_| noise(&mut state)).collect())
            .collect();
        let spans = neighbour_spans(&table(&scattered)).unwrap();
        assert!(spans.ratio.unwrap() > 0.6, "{spans:?}");
        assert!(spans.over_gaussian.unwrap() > 0.9, "{spans:?}");
    }

    #[test]
    fn subspaces_of_more_dimensions_than_the_ratio_looks_at_are_told_against_chance() {
        // Four random 6-dimensional subspaces of R^16, 100 points each, a little noise: the
        // ratio's 4 neighbours cannot span a 6-dimensional subspace, but up to 8 of them
        // against 8 random points tell it.
        let mut state = 5;
        let mut rows = Vec::new();
        for _ in 0..4 {
            let basis: Vec<Vec<f32>> = (0..6)
                .map(|_| (0..16).map(|_| noise(&mut state)).collect())
                .collect();
            for _ in 0..100 {
                let weights: Vec<f32> = (0..6).map(|_| noise(&mut state)).collect();
                let row: Vec<f32> = (0..16)
                    .map(|c| {
                        let clean: f32 = basis.iter().zip(&weights).map(|(b, w)| b[c] * w).sum();
                        clean + 0.01 * noise(&mut state)
                    })
                    .collect();
                rows.push(row);
            }
        }
        let spans = neighbour_spans(&table(&rows)).unwrap();
        assert!(spans.ratio.unwrap() > 0.5, "{spans:?}");
        assert!(spans.over_chance.unwrap() < 0.5, "{spans:?}");
        assert!(spans.over_gaussian.unwrap() < 0.9, "{spans:?}");
        // Four clusters around random centres of R^16: neighbours beyond the nearest
        // explain no more than random points do, nor than in a Gaussian cloud.
        let centres: Vec<Vec<f32>> = (0..4)
            .map(|_| (0..16).map(|_| 3.0 * noise(&mut state)).collect())
            .collect();
        let clusters: Vec<Vec<f32>> = (0..400)
            .map(|i| {
                centres[i / 100]
                    .iter()
                    .map(|c| c + noise(&mut state))
                    .collect()
            })
            .collect();
        let spans = neighbour_spans(&table(&clusters)).unwrap();
        assert!(spans.over_chance.unwrap() > 0.8, "{spans:?}");
        assert!(spans.over_gaussian.unwrap() > 0.9, "{spans:?}");
    }

    /// `count` points on each of `lines` random lines through the origin of R^`dim`, on
    /// either side of it, with a little noise.
    fn lines(lines: usize, count: usize, dim: usize, state: &mut u64) -> Vec<Vec<f32>> {
        let mut rows = Vec::new();
        for _ in 0..lines {
            let direction: Vec<f32> = (0..dim).map(|_| noise(state)).collect();
            for _ in 0..count {
                let along = noise(state);
                rows.push(
                    direction
                        .iter()
                        .map(|d| along * d + 0.003 * noise(state))
                        .collect(),
                );
            }
        }
        rows
    }

    #[test]
    fn points_on_lines_come_in_opposite_pairs_and_their_nearest_neighbour_rebuilds_them() {
        // Five lines through the origin of R^10: one neighbour rebuilds a point, so the
        // residual does not fall with more (the ratio stays high); the points come in pairs
        // x and −x.
        let mut state = 11;
        let rows = lines(5, 60, 10, &mut state);
        let spans = neighbour_spans(&table(&rows)).unwrap();
        assert!(spans.ratio.unwrap() > 0.8, "{spans:?}");
        assert!(spans.sign_symmetry > 0.95, "{spans:?}");
        // Under 8 columns only the sign symmetry is told.
        let narrow = lines(3, 60, 5, &mut state);
        let spans = neighbour_spans(&table(&narrow)).unwrap();
        assert_eq!(
            (spans.ratio, spans.over_chance, spans.over_gaussian),
            (None, None, None)
        );
        assert!(spans.sign_symmetry > 0.95, "{spans:?}");
        // Non-negative values (the lines folded onto the positive orthant) have no
        // opposite pairs.
        let folded: Vec<Vec<f32>> = rows
            .iter()
            .map(|row| row.iter().map(|v| v.abs()).collect())
            .collect();
        assert!(neighbour_spans(&table(&folded)).unwrap().sign_symmetry < 0.0);
    }

    /// Gray 6×8 images: for each of three random patterns drawn on the left half, 60 noisy
    /// copies, every second one mirrored when `mirrored`.
    fn patterns(mirrored: bool) -> Inputs {
        let (height, width) = (6, 8);
        let mut state = 11;
        let mut data = Vec::new();
        for _ in 0..3 {
            let pattern: Vec<f32> = (0..height * width)
                .map(|p| {
                    let on_left = p % width < width / 2;
                    if on_left {
                        128.0 + 120.0 * noise(&mut state)
                    } else {
                        0.0
                    }
                })
                .collect();
            for copy in 0..60 {
                let flip = mirrored && copy % 2 == 1;
                for y in 0..height {
                    for x in 0..width {
                        let from = if flip { width - 1 - x } else { x };
                        let value = pattern[y * width + from] + 4.0 * noise(&mut state);
                        data.push(value.clamp(0.0, 255.0) as u8);
                    }
                }
            }
        }
        Inputs::Images {
            data,
            channels: 1,
            height,
            width,
        }
    }

    #[test]
    fn a_mirror_ratio_is_near_one_only_where_mirrored_images_belong_to_the_set() {
        let with_mirrors = mirror_ratio(&patterns(true)).unwrap();
        assert!(with_mirrors > 0.95, "{with_mirrors}");
        let without = mirror_ratio(&patterns(false)).unwrap();
        assert!(without < 0.5, "{without}");
        let features = table(&[vec![1.0, 2.0], vec![2.0, 1.0], vec![0.0, 1.0]]);
        assert_eq!(mirror_ratio(&features), None);
    }

    /// 7×7 gray images, 255 inside the square of side `side` at the centre, 0 elsewhere.
    fn square(side: usize) -> Vec<u8> {
        let lo = (7 - side) / 2;
        let inside = |i: usize| (lo..lo + side).contains(&i);
        (0..49)
            .map(|p| {
                if inside(p / 7) && inside(p % 7) {
                    255
                } else {
                    0
                }
            })
            .collect()
    }

    fn gray(images: &[Vec<u8>], height: usize, width: usize) -> Inputs {
        Inputs::Images {
            data: images.concat(),
            channels: 1,
            height,
            width,
        }
    }

    #[test]
    fn the_stroke_share_matches_hand_worked_squares_either_way_round() {
        // A 3×3 square keeps its centre under an erosion (8 of 9 removed), a 5×5 square its
        // inner 3×3 (16 of 25), a single pixel nothing; the mean is over the images.
        let images = [square(3), square(5), square(1)];
        let expected = (8.0 / 9.0 + 16.0 / 25.0 + 1.0) / 3.0;
        let share = stroke_share(&gray(&images, 7, 7)).unwrap();
        assert!((share - expected).abs() < 1e-12, "{share} vs {expected}");
        // Dark marks on a light ground are read as the same marks.
        let inverted: Vec<Vec<u8>> = images
            .iter()
            .map(|image| image.iter().map(|v| 255 - v).collect())
            .collect();
        let share = stroke_share(&gray(&inverted, 7, 7)).unwrap();
        assert!((share - expected).abs() < 1e-12, "{share} vs {expected}");
    }

    #[test]
    fn the_stroke_share_erodes_only_from_within_the_image() {
        // A shape cut by the frame is not thinned by it: a lit 3×7 band across a dark
        // 7×7 image loses its two long edges only (14 of 21), not its ends.
        let band: Vec<u8> = (0..49)
            .map(|p| if (2..5).contains(&(p / 7)) { 255 } else { 0 })
            .collect();
        let share = stroke_share(&gray(&[band], 7, 7)).unwrap();
        assert!((share - 14.0 / 21.0).abs() < 1e-12, "{share}");
    }

    #[test]
    fn the_stroke_share_needs_lit_gray_images() {
        assert_eq!(stroke_share(&gray(&[vec![0; 49]], 7, 7)), None);
        let colour = Inputs::Images {
            data: [square(3), square(3), square(3)].concat(),
            channels: 3,
            height: 7,
            width: 7,
        };
        assert_eq!(stroke_share(&colour), None);
        assert_eq!(stroke_share(&table(&[vec![1.0, 2.0]])), None);
    }

    #[test]
    fn a_mirror_reverses_each_line_of_each_channel() {
        // Two channels of 2×3: every line of three is reversed in place.
        let row: Vec<f64> = (0..12).map(f64::from).collect();
        let expected = [2, 1, 0, 5, 4, 3, 8, 7, 6, 11, 10, 9].map(f64::from);
        assert_eq!(mirror(&row, 2, 2, 3), expected);
    }

    #[test]
    fn columns_in_different_units_are_told_by_their_ranges() {
        // Areas in the thousands beside ratios under one: the widest and the narrowest.
        let rows = table(&[
            vec![1000.0, 0.10, 5.0, 7.0],
            vec![3400.0, 0.13, 6.0, 7.0],
            vec![2000.0, 0.11, 9.0, 7.0],
        ]);
        let (widest, narrowest) = column_units_differ(&rows).unwrap();
        assert_eq!(widest, (0, 2400.0));
        assert_eq!(narrowest.0, 1);
        assert!((narrowest.1 - 0.03).abs() < 1e-6, "{narrowest:?}");
        // Pixels of one range (a constant column aside), and images, are not.
        let pixels = table(&[
            vec![0.0, 16.0, 0.0],
            vec![3.0, 0.0, 0.0],
            vec![16.0, 1.0, 0.0],
        ]);
        assert_eq!(column_units_differ(&pixels), None);
        let images = Inputs::Images {
            data: vec![0, 255, 1, 2],
            channels: 1,
            height: 1,
            width: 2,
        };
        assert_eq!(column_units_differ(&images), None);
    }

    #[test]
    fn too_little_data_or_repeated_rows_cannot_be_told() {
        let two_rows = table(&[vec![1.0; 8], vec![2.0; 8]]);
        let two_columns = table(&[vec![1.0, 2.0], vec![3.0, 1.0], vec![0.5, 4.0]]);
        assert_eq!(neighbour_spans(&two_columns), None);
        assert_eq!(neighbour_spans(&two_rows), None);
        let mut e0 = vec![0.0; 8];
        e0[0] = 1.0;
        let mut e1 = vec![0.0; 8];
        e1[1] = 1.0;
        let pair = [e0, e1];
        let repeated = table(&[pair.clone(), pair.clone(), pair].concat());
        assert_eq!(neighbour_spans(&repeated), None);
    }
}
