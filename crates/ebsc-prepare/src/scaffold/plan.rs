//! Which template fits a data set, and the values it is filled with: batch sizes, step
//! counts and eigenvectors follow from the data's size and class count.

use std::collections::BTreeMap;

use anyhow::bail;
use ebsc_core::config::AUTO_EIGENVALUES;

use crate::config::SourceConfig;
use crate::dataset::{Dataset, Inputs};
use crate::scaffold::geometry;

/// Image sets up to this many images may get the small-images template (pixels as the
/// dictionary); larger ones a pretrained convnet.
pub const SMALL_IMAGE_SET: usize = 5_000;
/// Image sets under this many images keep their pixels as the dictionary whatever their
/// geometry: 400 is the smallest set a pretrained convnet was measured on (400 MNIST digits:
/// the 10-NN graph of its features 0.950 against the pixels' 0.653). Below it, on 200 ORL
/// faces of 20 people, the pixels' recipe scored 0.955 and the convnet's 0.895 (seed 0,
/// RESULTS.md, "A face set under 400 images").
pub const MIN_PRETRAIN_IMAGES: usize = 400;
/// Largest batch of the identity templates (digits: 3 batches of 599 scored 0.957, 2 of
/// 899 0.942).
const MAX_IDENTITY_BATCH: usize = 600;
/// Training steps of the identity templates (digits: 600 steps of 599).
const IDENTITY_STEPS: usize = 600;
/// The images template's batch.
const IMAGE_BATCH: usize = 256;
/// Pretraining's step floor (6 epochs of 10,000 in batches of 256): it decides on small sets.
const PRETRAIN_MIN_STEPS: usize = 234;
/// Pretraining runs this many epochs, within the sample budget below. On Fashion-MNIST's
/// 10,000 test images 20 epochs against 6: the recipe's ACC 0.692 → 0.698, NMI 0.644 →
/// 0.655, its dictionary's 10-NN graph 0.603 → 0.637 (means of seeds 0–2; RESULTS.md,
/// "Longer pretraining"). Small sets keep their pretraining: the step floor decides there.
const PRETRAIN_EPOCHS: usize = 20;
/// At most this many samples (20 epochs of 10,000), and at least 4 epochs: large sets.
const PRETRAIN_SAMPLES: usize = 200_000;
/// Joint training visits at most this many samples an epoch.
const TRAIN_EPOCH_SAMPLES: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Template {
    SmallImages,
    Images,
    Features,
}

impl Template {
    pub const ALL: [Template; 3] = [Template::SmallImages, Template::Images, Template::Features];

    pub fn name(self) -> &'static str {
        match self {
            Template::SmallImages => "small-images",
            Template::Images => "images",
            Template::Features => "features",
        }
    }

    /// What the template is for, in a few words.
    pub fn purpose(self) -> &'static str {
        match self {
            Template::SmallImages => "pixels as the dictionary, no deep pretraining",
            Template::Images => "a convnet pretrained on the images, then trained jointly",
            Template::Features => "the features as the dictionary, as they are",
        }
    }

    fn text(self) -> &'static str {
        match self {
            Template::SmallImages => include_str!("../../templates/small-images.toml"),
            Template::Images => include_str!("../../templates/images.toml"),
            Template::Features => include_str!("../../templates/features.toml"),
        }
    }

    pub fn parse(value: &toml::Value) -> anyhow::Result<Template> {
        let names = Template::ALL.map(Template::name);
        match Template::ALL
            .into_iter()
            .find(|t| value.as_str() == Some(t.name()))
        {
            Some(template) => Ok(template),
            None => bail!("template = {value}: expected one of {}", names.join(", ")),
        }
    }

    /// The template for a data set: features for feature tables; for images, the pixels as
    /// the dictionary where their linear geometry is the structure (samples near linear
    /// subspaces: faces under changing light) or the set is too small to pretrain on, and a
    /// convnet pretrained on the images otherwise (their classes are curved in pixel space:
    /// 400 MNIST digits score 0.653 on the pixels' 10-NN graph and 0.950 on the pretrained
    /// features'). Crowded pixels alone are no reason to keep them: 400 images of 40 classes
    /// that crowd as faces do and change in pose score 0.47 on the pixels' recipe and 0.79
    /// on the pretrained convnet's (RESULTS.md, "Crowded images that change in pose").
    pub fn fits(summary: &DataSummary) -> Template {
        match summary.shape {
            Shape::Features { .. } => Template::Features,
            Shape::Images { .. } if summary.n_samples > SMALL_IMAGE_SET => Template::Images,
            Shape::Images { .. }
                if near_subspaces(summary) || summary.n_samples < MIN_PRETRAIN_IMAGES =>
            {
                Template::SmallImages
            }
            Shape::Images { .. } => Template::Images,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Images {
        channels: usize,
        height: usize,
        width: usize,
    },
    Features {
        dim: usize,
    },
}

/// What `new` learned about the data.
#[derive(Debug, Clone)]
pub struct DataSummary {
    /// e.g. "image folder data/faces".
    pub source: String,
    pub n_samples: usize,
    pub shape: Shape,
    pub n_labelled: usize,
    /// Distinct labels among the labelled samples.
    pub n_classes: usize,
    /// The smallest and the largest class's sample count, with two classes or more.
    pub class_sizes: Option<(usize, usize)>,
    /// Mean cosine similarity between samples ([`geometry::mean_cosine`]).
    pub mean_cosine: f64,
    /// How much more of a sample its neighbours' span explains than its nearest neighbour
    /// ([`geometry::NeighbourSpans::ratio`]): small on linear subspaces.
    pub span_ratio: Option<f64>,
    /// The same against random samples of the set
    /// ([`geometry::NeighbourSpans::over_chance`]): small on linear subspaces of more
    /// dimensions than the ratio looks at.
    pub span_over_chance: Option<f64>,
    /// The same against a Gaussian cloud with the set's second moments
    /// ([`geometry::NeighbourSpans::over_gaussian`]): near 1 for structureless clouds.
    pub span_over_gaussian: Option<f64>,
    /// How far the samples come in opposite pairs, x and −x
    /// ([`geometry::NeighbourSpans::sign_symmetry`]): near 1 on linear subspaces.
    pub sign_symmetry: Option<f64>,
    /// How close a mirrored image comes to the set ([`geometry::mirror_ratio`]): near 1
    /// when the set holds its images' mirror images; `None` for feature tables.
    pub mirror_ratio: Option<f64>,
    /// The share of a gray set's lit pixels one erosion removes
    /// ([`geometry::stroke_share`]): high when the images are drawn in strokes.
    pub stroke_share: Option<f64>,
}
/// From this mean cosine on, the Gibbs coefficients' softmax sees nearly equal energies
/// and self-expression drifts; the shrinkage map, which ranks by |cos|, is used instead.
pub const CROWDED_COSINE: f64 = 0.75;
/// Under this neighbour-span ratio the samples lie near linear subspaces (synthetic
/// subspaces up to 20 dimensions: 0.09–0.39; generated faces under changing light 0.44–0.46;
/// digits, MNIST and Fashion-MNIST: 0.55–0.79), the case classic self-expression is built
/// for: a joint solve and the symmetric graph of its coefficients (overlapping
/// 6-dimensional subspaces: 0.948 → 1.000 ACC; on 8×8 digits the same settings lost, 0.958
/// → 0.848), now the ridge solve over every other sample.
pub const SUBSPACE_SPAN_RATIO: f64 = 0.5;
/// The same line for images that hold their mirror images (mirror ratio ≥
/// [`MIRROR_RATIO`]: faces lit from either side), higher: image sets of 400 to 5,000 read
/// 0.66–0.80 (28×28 digits, clothing, letters and silhouettes, face photos, glyph renders),
/// generated faces under changing light 0.37–0.59 (mirror ratio 0.94–1.00), where
/// everything but the ridge solve scores near chance (38 people, ratio 0.52: the images
/// template 0.032, the pixels' energy graph 0.050, the ridge solve 1.000; at 0.57 and 0.59
/// the ridge solve 0.951 and 0.648 against 0.060 and 0.039). The line sits midway between
/// 0.59 and 0.66. Other images and feature tables keep 0.5: 8×8 digits read 0.55 (mirror
/// ratio 0.70), and as images scored 0.882 on the images template, 0.590 on the ridge
/// solve (RESULTS.md, "Faces under changing light").
pub const IMAGE_SUBSPACE_SPAN_RATIO: f64 = 0.62;
/// ... or under this neighbour-span ratio against chance and [`SUBSPACE_OVER_GAUSSIAN`]
/// against a Gaussian cloud, for subspaces of more dimensions than the ratio looks at.
/// Against chance, synthetic subspaces read 0.03–0.61 (5 random 10-dimensional subspaces
/// of R^20: 0.55, where the ratio reads 0.60 and the k-NN graph on C scored 0.900 against
/// the ridge solve's 0.996); digits, image sets and face photos 0.96–1.07; standardised
/// 8×8 digits 0.72 (the ridge solve 0.547 against the k-NN graph on C's 0.850); blurred
/// clusters and structureless clouds 0.52–0.95 (RESULTS.md, "Subspaces of many
/// dimensions"). The line sits midway between 0.61 and 0.72.
pub const SUBSPACE_OVER_CHANCE: f64 = 0.66;
/// Against a Gaussian cloud: synthetic subspaces 0.04–0.83 where they leave most of their
/// space empty, up to 0.94 where their dimensions add up to more than the columns (12
/// subspaces of 10 dimensions in R^30: 0.89–0.93), where the k-NN graph on C scored
/// 0.42–0.99 and the subspace recipe 0.992–1.000 on eight; Gaussian clouds and blurred
/// clusters whose neighbours beat chance (under [`SUBSPACE_OVER_CHANCE`]: 84 of 166
/// generated) 0.95–1.02 (on clusters of R^10 the ridge solve lost to the k-NN graph on C,
/// 0.391 against 0.623), where digits read 0.74, hence both lines. The line sits midway
/// between 0.94 and 0.95: subspaces that fill their space as evenly as a cloud (13
/// subspaces of 13 dimensions in R^15: 1.00) are read as a cloud (RESULTS.md, "Subspaces
/// that fill their space").
pub const SUBSPACE_OVER_GAUSSIAN: f64 = 0.945;
/// ... or from this sign symmetry on: samples that come in opposite pairs, x and −x, as
/// samples drawn on linear subspaces do, whatever their neighbours say. The measures above
/// miss subspaces of one or two dimensions, whose nearest neighbour alone rebuilds a sample
/// (lines through the origin in R^10: ratio 0.96 and 1.15 against chance), and subspaces
/// that overlap so densely that a sample's nearest neighbours come from other subspaces as
/// often as from its own (5 subspaces of 6 dimensions in R^9: ratio 0.80–0.83, 0.68–0.76
/// against chance, 0.94–1.01 against a Gaussian, where the k-NN graph on C scored
/// 0.29–0.42 and the subspace recipe 0.51–0.86).
/// Samples drawn on linear subspaces read 0.96–1.04 (150 generated tables; 0.98–1.00 on
/// those of one to four dimensions and on the dense ones); standardised and PCA-reduced
/// real tables 0.41–0.96 (iris 0.96, breast cancer 0.94, Fashion-MNIST to 10 components
/// 0.82), clusters 0.38–0.81, non-negative data (images, counts) below 0; Gaussian clouds
/// 1.00, which hold no classes to lose (RESULTS.md, "Subspaces of one or two dimensions",
/// "Subspaces that overlap densely").
pub const SIGN_SYMMETRY: f64 = 0.975;
/// λ of the elastic-net solve over the ridge solve's candidates, for samples near subspaces
/// whose neighbours beat chance. On 37 generated tables of subspaces λ 0.2 and 0.3 scored
/// 1.000 on every one; 0.5 lost on ten subspaces of 20 to 300 points (0.924), 0.1 on two
/// (0.992, 0.994), and EnSC's 0.9 as 0.5 (RESULTS.md, "The elastic-net solve over the
/// ridge solve's candidates").
pub const SUBSPACE_REFINE_LAMBDA: f64 = 0.2;
/// λ of the two elastic-net solves over the ridge solve's candidates whose coefficients are
/// averaged, for samples that only the sign symmetry tells near subspaces. λ 0.2 alone
/// reaches past a row's subspace where subspaces overlap densely or lie close (5 subspaces
/// of 6 dimensions in R^9: 0.51–0.86), λ 0.9 alone is too sparse where a class has few
/// points for its dimensions; their mean scored 0.937 → 0.947 on 36 generated tables of
/// subspaces of one to four dimensions (21 up, 3 down) and 0.708 → 0.831 on the 5 dense
/// ones (EnSC 0.870), where λ 0.5 alone lost lines in R^20 (0.929 → 0.775) (RESULTS.md,
/// "Two elastic-net solves averaged").
pub const SYMMETRY_REFINE_LAMBDAS: [f64; 2] = [0.2, 0.9];
/// Coefficients a row kept from that solve (`top_k`; every other recipe keeps
/// [`TEMPLATE_TOP_K`]). Twenty let a small class of many dimensions (48 points of a
/// 9-dimensional subspace, 26 of a 7-dimensional one) keep links to a larger class that
/// shares its directions, and the cut split the larger one: 0.882 and 0.943 on two random
/// tables whose EnSC and LSR score 0.885 and 1.000. Twelve scored 1.000 and 0.997 there,
/// and 1.000 on the 62 other generated tables of subspaces and the 30 generated faces
/// measured. Fewer lose where classes are few points of many dimensions: ten on 40 points a
/// class of 8 dimensions in R^16 (0.992 → 0.967), eight and five on ten subspaces of 20 to
/// 300 points (0.964, 0.966); fifteen lost on the 7-dimensional class (0.948). The ridge
/// solve alone keeps twenty: ten lost there (0.998 → 0.984, faces under changing light
/// 0.951 → 0.921) (RESULTS.md, "Twelve coefficients a row from the elastic-net solve").
pub const SUBSPACE_TOP_K: usize = 12;
/// `top_k` of the images template, and of the features and small-images templates' other
/// recipes.
pub const TEMPLATE_TOP_K: usize = 20;
/// From this mirror ratio on, a gray image set holds its images' mirror images (animal
/// silhouettes facing either way 0.98; clothing 0.84, letters 0.74, digits 0.73) and the
/// joint stage trains on mirrored views too: on the silhouettes 0.60 → 0.71 ACC (3 seeds),
/// where flips in both stages gave 0.69 and in pretraining alone 0.66; on clothing, below
/// the line, they cost 0.003 and 0.033 on 400 images (RESULTS.md, "Mirrored views").
pub const MIRROR_RATIO: f64 = 0.9;
/// From this stroke share on, a gray image set is drawn in strokes (handwritten digits 0.87,
/// printed letters and digits 0.69–0.78) rather than in filled shapes or texture (animal
/// silhouettes 0.54, clothing 0.57, shaded glyph renders 0.45), and both stages' views are
/// drawn thicker or thinner too: printed letters A–J 0.787 → 0.869 ACC, printed digits
/// 0.765 → 0.853 (3 seeds), where the silhouettes lost 0.05 and clothing 0.04 (RESULTS.md,
/// "Stroke width"). The line sits midway between the two groups.
pub const STROKE_SHARE: f64 = 0.63;
/// Images drawn in strokes whose views change stroke width ([`stroke_views`]) are trained
/// as two members (`[pipeline] members = 2`, docs/method.md, "Members") from this many
/// images: one run's partition of printed letters or digits falls, by seed, into the right
/// one or one that merges two classes and splits another (letters A–J 0.807 / 0.901 /
/// 0.901), and the mean of two members' graphs keeps the right one: pairs of the suite's
/// runs, letters 0.869 → 0.901, printed digits 0.853 → 0.921, capitals 0.840 → 0.858,
/// lowercase 0.902 → 0.904, MNIST's test split 0.9747 → 0.9755 (RESULTS.md, "Members").
/// Not on a few hundred images, where one member's partition moves with any change of its
/// graph and the mean's as much (lowercase-400 0.793 → 0.740).
pub const MEMBERS_MIN_SAMPLES: usize = 5_000;
/// ... and up to this many: a member costs a whole pipeline, and all 70,000 MNIST images
/// take 8 min 40 s a member on 2 cores against their 15-minute budget.
pub const MEMBERS_MAX_SAMPLES: usize = 20_000;

/// Below this many images the images template scores pairs by the energy's cosine term
/// alone (`[affinity] residual = false`): trained on a few hundred images, the towers'
/// residual learns which views are one image, not which images are one class (a row's 5
/// best atoms by the residual alone share its label for 12–14 % of the ORL photos, by the
/// cosine for 88–91 %), and the whole stage without it scored, seeds 0–2, ORL faces
/// 0.859 → 0.870, 40 fonts × 10 glyphs 0.768 → 0.832, 400 printed letters 0.731 → 0.733,
/// 400 MNIST images 0.977 → 0.981 (RESULTS.md, "The energy's residual on a few hundred
/// images"). From here on are the sets of thousands the suite measured with the residual.
pub const RESIDUAL_MIN_SAMPLES: usize = 5_000;

impl DataSummary {
    pub fn of(dataset: &Dataset, source: &SourceConfig) -> DataSummary {
        let shape = match &dataset.inputs {
            Inputs::Images {
                channels,
                height,
                width,
                ..
            } => Shape::Images {
                channels: *channels,
                height: *height,
                width: *width,
            },
            Inputs::Features { dim, .. } => Shape::Features { dim: *dim },
        };
        let labels: Vec<i32> = dataset.samples.iter().filter_map(|s| s.label).collect();
        let mut counts = BTreeMap::<i32, usize>::new();
        labels
            .iter()
            .for_each(|&l| *counts.entry(l).or_default() += 1);
        let n_classes = counts.len();
        let class_sizes = (n_classes >= 2).then(|| {
            let sizes = counts.values().copied();
            (sizes.clone().min().unwrap_or(0), sizes.max().unwrap_or(0))
        });
        let spans = geometry::neighbour_spans(&dataset.inputs);
        let kind = match source {
            SourceConfig::Idx(_) => "IDX files",
            SourceConfig::Cifar(_) => "CIFAR folder",
            SourceConfig::ImageFolder(_) => "image folder",
            SourceConfig::Table(table) if table.image_shape.is_some() => "pixel table",
            SourceConfig::Table(_) if matches!(dataset.inputs, Inputs::Images { .. }) => {
                "image array"
            }
            SourceConfig::Table(_) => "feature table",
            SourceConfig::SyntheticSubspaces(_) => "synthetic subspaces",
        };
        let paths: Vec<String> = match source {
            // One file a class: the folder that holds them.
            SourceConfig::Table(table) if table.class_files.is_some() => {
                vec![table.path.display().to_string()]
            }
            _ => source
                .input_paths()
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
        };
        DataSummary {
            source: format!("{kind} {}", paths.join(", ")),
            n_samples: dataset.len(),
            shape,
            n_labelled: labels.len(),
            n_classes,
            class_sizes,
            mean_cosine: geometry::mean_cosine(&dataset.inputs),
            span_ratio: spans.and_then(|s| s.ratio),
            span_over_chance: spans.and_then(|s| s.over_chance),
            span_over_gaussian: spans.and_then(|s| s.over_gaussian),
            sign_symmetry: spans.map(|s| s.sign_symmetry),
            mirror_ratio: geometry::mirror_ratio(&dataset.inputs),
            stroke_share: geometry::stroke_share(&dataset.inputs),
        }
    }

    /// One line: "400 images 1×112×92, 40 classes".
    pub fn describe(&self) -> String {
        let what = match self.shape {
            Shape::Images {
                channels,
                height,
                width,
            } => format!("{} images {channels}×{height}×{width}", self.n_samples),
            Shape::Features { dim } => format!("{} rows of {dim} features", self.n_samples),
        };
        match (self.n_labelled, self.n_classes) {
            (0, _) => format!("{what}, no labels"),
            (n, k) if n == self.n_samples => format!("{what}, {k} classes"),
            (n, k) => format!("{what}, {n} labelled in {k} classes"),
        }
    }

    /// The neighbour-span measures in words: "neighbour-span ratio 0.60; against chance
    /// 0.54, against a Gaussian 0.76".
    pub fn span_words(&self) -> String {
        match (
            self.span_ratio,
            self.span_over_chance,
            self.span_over_gaussian,
        ) {
            (None, ..) => "neighbour-span ratio not measurable".into(),
            (Some(r), Some(c), Some(g)) => format!(
                "neighbour-span ratio {r:.2}; against chance {c:.2}, against a Gaussian {g:.2}"
            ),
            (Some(r), ..) => format!("neighbour-span ratio {r:.2}"),
        }
    }

    fn input_dim(&self) -> usize {
        match self.shape {
            Shape::Images {
                channels,
                height,
                width,
            } => channels * height * width,
            Shape::Features { dim } => dim,
        }
    }
}

/// `coefficients`, `beta` and the comment explaining them, from how crowded the data's
/// cosines are.
fn coefficient_values(mean_cosine: f64) -> [(&'static str, String); 3] {
    if mean_cosine >= CROWDED_COSINE {
        [
            ("coefficients", "\"shrink\"".into()),
            ("beta", "1.0".into()),
            (
                "coefficients_note",
                format!(
                    "The samples' mean cosine is {mean_cosine:.2} (≥ {CROWDED_COSINE}): a common component\n\
                     # dominates them, Gibbs weights see nearly equal energies and self-expression\n\
                     # drifts. So the shrinkage map (it ranks by |cos|), with L_ebm on (β = 1)."
                ),
            ),
        ]
    } else {
        [
            ("coefficients", "\"gibbs\"".into()),
            ("beta", "0.0".into()),
            (
                "coefficients_note",
                format!(
                    "The samples' mean cosine is {mean_cosine:.2} (under {CROWDED_COSINE}): Gibbs\n\
                     # coefficients, learned by self-expression alone (β = 0; L_ebm sharpens each\n\
                     # sample onto its own noisy view when the views are this close)."
                ),
            ),
        ]
    }
}

/// Whether the samples lie near linear subspaces ([`span_line`], or both
/// [`SUBSPACE_OVER_CHANCE`] and [`SUBSPACE_OVER_GAUSSIAN`], or
/// [`subspaces_by_symmetry`]).
fn near_subspaces(summary: &DataSummary) -> bool {
    subspaces_by_spans(summary) || subspaces_by_symmetry(summary)
}

/// Whether the neighbour-span measures say subspaces ([`span_line`], or both
/// [`SUBSPACE_OVER_CHANCE`] and [`SUBSPACE_OVER_GAUSSIAN`]).
fn subspaces_by_spans(summary: &DataSummary) -> bool {
    let under = |value: Option<f64>, line: f64| value.is_some_and(|v| v < line);
    under(summary.span_ratio, span_line(summary))
        || (under(summary.span_over_chance, SUBSPACE_OVER_CHANCE)
            && under(summary.span_over_gaussian, SUBSPACE_OVER_GAUSSIAN))
}

/// Whether the samples come in opposite pairs ([`SIGN_SYMMETRY`]): linear subspaces, of
/// one or two dimensions, or overlapping densely, too.
fn subspaces_by_symmetry(summary: &DataSummary) -> bool {
    summary.sign_symmetry.is_some_and(|s| s >= SIGN_SYMMETRY)
}

/// The neighbour-span ratio against chance where the samples' nearest neighbours span them
/// better than random samples do (under [`SUBSPACE_OVER_CHANCE`]): then the elastic-net
/// solve over the ridge solve's candidates, else (`None`) the ridge solve alone.
fn neighbours_beat_chance(summary: &DataSummary) -> Option<f64> {
    summary
        .span_over_chance
        .filter(|&c| c < SUBSPACE_OVER_CHANCE)
}

/// The neighbour-span ratio under which the samples lie near linear subspaces:
/// [`IMAGE_SUBSPACE_SPAN_RATIO`] for images that hold their mirror images,
/// [`SUBSPACE_SPAN_RATIO`] otherwise.
fn span_line(summary: &DataSummary) -> f64 {
    if summary.mirror_ratio.is_some_and(|m| m >= MIRROR_RATIO) {
        IMAGE_SUBSPACE_SPAN_RATIO
    } else {
        SUBSPACE_SPAN_RATIO
    }
}

/// The `[affinity]` keys of the elastic-net solve over the ridge solve's candidates, for
/// samples near subspaces, at `refine_lambda` as written (one λ or two).
fn ridge_candidates_solve(refine_lambda: &str) -> String {
    format!(
        "refine = \"elastic-net\"\n\
         refine_candidates_by = \"ridge\"\n\
         refine_lambda = {refine_lambda}\n"
    )
}

/// The affinity stage's `refine_candidates` when the template leaves it out.
const DEFAULT_REFINE_CANDIDATES: usize = 400;

/// The `[affinity]` lines that follow the data's geometry: `graph` (the choice of graph;
/// only the features template has a place for it, small-images is always symmetric) and
/// `refine` (for samples near linear subspaces the elastic-net solve over the ridge
/// solve's candidates where their neighbours beat chance, the ridge solve alone where
/// not; the elastic-net solve over the energy's candidates for other crowded samples).
fn affinity_values(summary: &DataSummary) -> [(&'static str, String); 3] {
    let subspaces = near_subspaces(summary);
    // Subspaces that only the sign symmetry tells: of one or two dimensions, or overlapping
    // densely.
    let by_symmetry = (subspaces && !subspaces_by_spans(summary))
        .then_some(summary.sign_symmetry)
        .flatten();
    let spans = summary.span_words();
    let line = span_line(summary);
    let graph = if let Some(symmetry) = by_symmetry {
        format!(
            "# The rows lie near linear subspaces: (|C| + |C|ᵀ)/2, classic self-expression's\n\
             # graph. They come in opposite pairs, x and −x, as samples of linear subspaces do\n\
             # (sign symmetry {symmetry:.2}, from {SIGN_SYMMETRY}). Their neighbours do not tell: the nearest one\n\
             # alone rebuilds a sample of a line or plane, and where subspaces overlap densely\n\
             # the nearest come from other subspaces as often as from its own ({spans};\n\
             # docs/method.md, \"What `new` measures\").\n\
             affinity = \"symmetric\"\n"
        )
    } else if subspaces {
        format!(
            "# The rows lie near linear subspaces: (|C| + |C|ᵀ)/2, classic self-expression's\n\
             # graph ({spans};\n\
             # subspaces under {line}, or under {SUBSPACE_OVER_CHANCE} and {SUBSPACE_OVER_GAUSSIAN}: docs/method.md, \"What `new` measures\").\n\
             affinity = \"symmetric\"\n"
        )
    } else {
        format!(
            "# A cosine 10-NN graph on the rows of C: the rows are not near linear subspaces\n\
             # ({spans}).\n\
             # Classes under 2 × top_k samples get the symmetric graph of half a class's worth\n\
             # of coefficients instead (fit_class_size).\n\
             affinity = \"knn\"\n\
             knn_k = 10\n"
        )
    };
    // Near subspaces, neighbours that beat chance: the elastic-net solve over the ridge
    // solve's candidates.
    let beats_chance = subspaces.then(|| neighbours_beat_chance(summary)).flatten();
    let top_k = if beats_chance.is_some() || by_symmetry.is_some() {
        SUBSPACE_TOP_K
    } else {
        TEMPLATE_TOP_K
    };
    let refine = if let Some(chance) = beats_chance {
        format!(
            "# Samples near linear subspaces whose nearest neighbours span them better than\n\
             # random samples do (against chance {chance:.2}, under {SUBSPACE_OVER_CHANCE}): the least-squares\n\
             # self-expression over every other sample (ridge, in closed form) picks each row's\n\
             # {DEFAULT_REFINE_CANDIDATES} candidates, an elastic-net solve over them (λ {SUBSPACE_REFINE_LAMBDA}) weighs them, and each\n\
             # row keeps its {SUBSPACE_TOP_K} largest (top_k above; docs/method.md, \"Inference\"): on 64\n\
             # generated tables of subspaces 1.000 on all but one (0.997), where the ridge\n\
             # solve alone scored 0.940–0.996 on eight (RESULTS.md, \"The elastic-net solve over\n\
             # the ridge solve's candidates\", \"Twelve coefficients a row from the elastic-net solve\").\n\
             {}",
            ridge_candidates_solve(&SUBSPACE_REFINE_LAMBDA.to_string())
        )
    } else if by_symmetry.is_some() {
        let [lo, hi] = SYMMETRY_REFINE_LAMBDAS;
        format!(
            "# Samples in opposite pairs: the least-squares self-expression over every other\n\
             # sample (ridge, in closed form) picks each row's {DEFAULT_REFINE_CANDIDATES} candidates, two elastic-net\n\
             # solves over them (λ {lo} and {hi}) weigh them, and each row keeps its {SUBSPACE_TOP_K} largest\n\
             # coefficients of their mean (top_k above; docs/method.md, \"Inference\"): on 36\n\
             # generated tables of lines, planes and subspaces of up to four dimensions 0.947 on\n\
             # average (λ {lo} alone 0.937), 5 subspaces of 6 dimensions in R^9 0.55–0.96 (λ {lo}\n\
             # alone 0.51–0.86; the k-NN graph on C 0.29–0.42) (RESULTS.md, \"Subspaces of one or\n\
             # two dimensions\", \"Two elastic-net solves averaged\").\n\
             {}",
            ridge_candidates_solve(&format!("[{lo}, {hi}]"))
        )
    } else if subspaces {
        "# Samples near linear subspaces: each row's coefficients are the least-squares\n\
         # self-expression over every other sample (ridge, in closed form; docs/method.md,\n\
         # \"Inference\"), which keeps a class that spans its subspace in one block: on 38\n\
         # generated faces under 64 lights 0.53 → 1.000 ACC. Their nearest neighbours span\n\
         # them no better than random samples, and a sparse solve picks other faces under\n\
         # the same light (RESULTS.md, \"Faces under changing light\").\n\
         refine = \"ridge\"\n"
            .to_string()
    } else if summary.mean_cosine >= CROWDED_COSINE {
        format!(
            "# Crowded samples: the energy picks each row's {DEFAULT_REFINE_CANDIDATES} best candidates and an\n\
             # elastic-net self-expression solve over them weighs them (docs/method.md,\n\
             # \"Inference\"); 30 generated classes of 12, seed 0: 0.869 → 1.000 ACC.\n\
             refine = \"elastic-net\"\n"
        )
    } else {
        // The joint solve lost to the energy's own coefficients on curved classes (400
        // MNIST images: 0.715 → 0.650–0.693 over γ 3–200; 8×8 digits 0.958 → 0.942).
        String::new()
    };
    [
        ("graph", graph),
        ("top_k", top_k.to_string()),
        ("refine", refine),
    ]
}

/// Settings given on the command line that the template's values depend on.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub n_clusters: Option<ClusterCount>,
    pub seed: Option<u64>,
    pub description: Option<String>,
}

/// `[cluster] n_clusters` as `new` writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterCount {
    Fixed(usize),
    /// `"auto"`: the cluster stage takes the largest eigengap.
    Auto,
}

impl ClusterCount {
    /// The value as a pipeline file holds it.
    pub fn toml(self) -> String {
        match self {
            ClusterCount::Fixed(k) => k.to_string(),
            ClusterCount::Auto => "\"auto\"".to_string(),
        }
    }
}

/// The cluster count to write and the comment above it: given on the command line, the
/// labels' class count, or `"auto"` when the labels cannot say (none, or one class).
pub fn cluster_count(settings: &Settings, summary: &DataSummary) -> (ClusterCount, String) {
    let auto_note = |why: &str| {
        format!(
            "{why}, so the count is \"auto\": the cluster stage takes the largest gap\n\
             # among the top {AUTO_EIGENVALUES} eigenvalues of the affinity (at least 2 clusters; \
             metrics.json\n\
             # says how many). Set a number when you know it (`just new … n_clusters=K`),\n\
             # or n_eigenvectors = M to look further than {AUTO_EIGENVALUES}."
        )
    };
    match (settings.n_clusters, summary.n_classes) {
        (Some(ClusterCount::Auto), _) => (ClusterCount::Auto, auto_note("Given to `just new`")),
        (None, 0) => (ClusterCount::Auto, auto_note("The data has no labels")),
        (None, 1) => (
            ClusterCount::Auto,
            auto_note("The labels hold one class, which says nothing of the count"),
        ),
        (None, k) => (
            ClusterCount::Fixed(k),
            format!("{k} classes in the labels."),
        ),
        (Some(count), 0) => (
            count,
            "Given to `just new`: the data has no labels.".to_string(),
        ),
        (Some(count), classes) => (
            count,
            format!("Given to `just new` (the labels have {classes} classes)."),
        ),
    }
}

/// The images template clusters with exactly `n_clusters` eigenvectors and no referee where
/// a cluster averages from this many images to under [`REFEREE_MIN_CLUSTER_SIZE`]
/// ([`exact_eigenvector_count`]): 2 × the template's `top_k`, the size under which
/// `fit_class_size` calls classes small.
pub const EXACT_COUNT_MIN_CLUSTER_SIZE: usize = 2 * TEMPLATE_TOP_K;

/// Whether the images template clusters with exactly `n_clusters` eigenvectors, neither
/// spare ones nor a referee: from [`EXACT_COUNT_MIN_CLUSTER_SIZE`] images a cluster to under
/// [`REFEREE_MIN_CLUSTER_SIZE`], where the only referee is the dictionary's neighbour graph.
/// Over seven 400-image sets of 10 classes (40 a class; seeds 0–2) that count scored above
/// the graph referee's on five (letters 0.733 → 0.769, numerals 0.775 → 0.877, fashion
/// 0.629 → 0.670; capitals 0.757 → 0.719 and MNIST 0.981 → 0.978 lost), and on a held-out
/// alphabet (lowercase a–j, seed 0) 0.760 → 0.823; at 80 a class +0.027 on the mean of ten
/// runs of four sets (behind on five by up to 0.026, ahead on four by up to 0.116). Not for
/// classes of 10 (ORL faces at 40 eigenvectors lost 0.870 → 0.852), nor where k-means on
/// the dictionary referees: at 200 a class its count scored 0.000–0.084 above `n_clusters`
/// (RESULTS.md, "The eigenvector count on the 400-image sets", "… on 800 and 2,000 images").
pub fn exact_eigenvector_count(count: ClusterCount, n_samples: usize) -> bool {
    match count {
        ClusterCount::Fixed(k) => {
            k > 0
                && n_samples >= EXACT_COUNT_MIN_CLUSTER_SIZE * k
                && n_samples < REFEREE_MIN_CLUSTER_SIZE * k
        }
        ClusterCount::Auto => false,
    }
}

/// How many eigenvectors the cluster stage embeds on, for a fixed count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EigenvectorRule {
    /// Two spare ones beyond `n_clusters`.
    Spare,
    /// Exactly `n_clusters` ([`exact_eigenvector_count`]).
    Exact,
    /// Two spare ones, and the graph's lowest normalised cut chooses among `n_clusters` to
    /// `n_clusters + 6` (samples near linear subspaces, [`near_subspaces`]).
    LowestCut,
}

/// The eigenvector rule of a template for a data set: exactly `n_clusters` for the images
/// template's small sets of large classes, the lowest cut where the pixels or features
/// are the dictionary and lie near linear subspaces (their graph is near block-diagonal:
/// on generated subspaces of unequal size or dimension two spare eigenvectors split a large
/// class while two small ones merge; RESULTS.md, "Subspaces of unequal size and dimension").
fn eigenvector_rule(
    template: Template,
    summary: &DataSummary,
    count: ClusterCount,
) -> EigenvectorRule {
    match template {
        Template::Images if exact_eigenvector_count(count, summary.n_samples) => {
            EigenvectorRule::Exact
        }
        Template::SmallImages | Template::Features if near_subspaces(summary) => {
            EigenvectorRule::LowestCut
        }
        _ => EigenvectorRule::Spare,
    }
}

/// The `[cluster]` lines after `n_clusters` for `rule`; nothing with `"auto"` (which scans
/// its own 20).
fn eigenvector_lines(count: ClusterCount, rule: EigenvectorRule, summary: &DataSummary) -> String {
    match count {
        ClusterCount::Fixed(_) if rule == EigenvectorRule::LowestCut => format!(
            "# Two spare eigenvectors beyond n_clusters, and the graph's own normalised cut chooses\n\
             # among n_clusters to n_clusters + 6: the samples lie near linear subspaces\n\
             # ({}),\n\
             # so their graph is near block-diagonal, and a spare eigenvector can split a\n\
             # large class while two small ones merge (docs/method.md, \"The eigenvector count on\n\
             # samples near subspaces\").\n\
             extra_eigenvectors = 2\n\
             eigenvector_cut = {{ max_extra = 6 }}\n",
            summary.span_words()
        ),
        ClusterCount::Fixed(_) if rule == EigenvectorRule::Exact => format!(
            "# Exactly n_clusters eigenvectors, no spare ones and no referee: {EXACT_COUNT_MIN_CLUSTER_SIZE} to {} images a\n\
             # cluster, too few for k-means to referee (docs/method.md, \"The eigenvector count on small sets\").\n\
             extra_eigenvectors = 0\n",
            REFEREE_MIN_CLUSTER_SIZE - 1
        ),
        ClusterCount::Fixed(_) => "# Two spare eigenvectors beyond n_clusters: with exactly n_clusters, one is often spent\n\
             # splitting a class with two modes while two other classes merge.\n\
             extra_eigenvectors = 2\n"
            .to_string(),
        ClusterCount::Auto => String::new(),
    }
}

/// Samples a cluster from which the images template consults k-means on the trained
/// dictionary for the eigenvector count: k-means, and the NMI it is judged by, need many
/// samples a cluster. With 10 a cluster (40 fonts × 10 renders) its agreement stayed near
/// 0.9 whatever the partition, and following it cost 0.013 over three seeds.
pub const REFEREE_MIN_CLUSTER_SIZE: usize = 100;

/// Neighbours per row of the trained dictionary's graph whose partition referees the
/// eigenvector count where k-means on it does not.
pub const REFEREE_KNN: usize = 10;

/// The `[cluster] eigenvector_referee` lines of the images template, for a fixed count: a
/// partition of the trained dictionary picks among the graph's partitions with
/// `n_clusters` to `n_clusters + 6` eigenvectors. k-means on it is asked first, with at
/// least [`REFEREE_MIN_CLUSTER_SIZE`] samples a cluster and only where it already agrees
/// with the recipe's partition; else the partition of its [`REFEREE_KNN`]-NN graph. None
/// where the count is exact ([`exact_eigenvector_count`]).
fn referee_lines(count: ClusterCount, n_samples: usize) -> String {
    let ClusterCount::Fixed(k) = count else {
        return String::new();
    };
    if exact_eigenvector_count(count, n_samples) {
        return String::new();
    }
    // The neighbour graph needs more samples than neighbours (a template asked for by
    // name can meet a handful of images).
    if n_samples <= REFEREE_KNN {
        return String::new();
    }
    let head = "# Another count of eigenvectors (n_clusters to n_clusters + 6) when its partition agrees\n\
                # better with a partition of the trained dictionary (docs/method.md, \"The eigenvector\n\
                # count the trained dictionary agrees with\"):\n";
    if n_samples >= REFEREE_MIN_CLUSTER_SIZE * k {
        format!(
            "{head}\
             # k-means on it where that already agrees with the recipe's partition (NMI ≥ 0.75),\n\
             # else spectral clustering of its cosine {REFEREE_KNN}-NN graph.\n\
             eigenvector_referee = {{ max_extra = 6, min_agreement = 0.75, knn_graph = {REFEREE_KNN} }}\n"
        )
    } else {
        format!(
            "{head}\
             # spectral clustering of its cosine {REFEREE_KNN}-NN graph (k-means on it, tried first on larger\n\
             # sets, needs {REFEREE_MIN_CLUSTER_SIZE} samples a cluster).\n\
             eigenvector_referee = {{ max_extra = 6, knn_graph = {REFEREE_KNN} }}\n"
        )
    }
}

/// Classes whose sizes differ by at most this share of the smallest count the labels
/// call equal: Fashion-MNIST's 1,000 a class, a face set's 10 a person (the 8×8 digits,
/// 174–183 a class, and MNIST's test split, 892–1,135, are not).
pub const EQUAL_CLASS_SIZES: f64 = 0.02;

/// The `[cluster] sizes` line and its comment: `"equal"` when the count is the labels' and
/// their classes are the same size (held equal, k-means on the spectral embedding stops
/// spending a cluster on a class's second mode while two others merge); else `"free"`.
fn sizes_lines(count: ClusterCount, summary: &DataSummary) -> String {
    let free = "sizes = \"free\"\n";
    match (count, summary.class_sizes) {
        (ClusterCount::Fixed(k), Some((smallest, largest)))
            if k == summary.n_classes
                && (largest - smallest) as f64 <= EQUAL_CLASS_SIZES * smallest as f64 =>
        {
            let each = if smallest == largest {
                format!("{smallest} each")
            } else {
                format!("{smallest}–{largest}")
            };
            format!(
                "# The labels' {k} classes are the same size ({each}), so the clusters are held to\n\
                 # equal sizes after k-means (docs/method.md, \"Equal sizes\"); \"free\" lets them differ.\n\
                 sizes = \"equal\"\n"
            )
        }
        (ClusterCount::Fixed(k), Some((smallest, largest))) if k == summary.n_classes => format!(
            "# Cluster sizes are free: the labels' classes differ in size ({smallest}–{largest}).\n{free}"
        ),
        _ => format!(
            "# Cluster sizes are free; \"equal\" holds them equal, for groups known to be the same size.\n{free}"
        ),
    }
}

/// The template filled in for this data.
pub fn render(
    name: &str,
    template: Template,
    summary: &DataSummary,
    source: &SourceConfig,
    settings: &Settings,
) -> anyhow::Result<String> {
    if template != Template::Features && matches!(summary.shape, Shape::Features { .. }) {
        bail!(
            "template={} needs images, but {} holds feature vectors; use template=features",
            template.name(),
            summary.source
        );
    }
    let (n_clusters, n_clusters_note) = cluster_count(settings, summary);
    let n = summary.n_samples;
    let eigenvector_rule = eigenvector_rule(template, summary, n_clusters);
    let mut values: Vec<(&str, String)> = vec![
        ("name", name.to_string()),
        (
            "source_summary",
            format!("{}: {}", summary.source, summary.describe()),
        ),
        ("seed", settings.seed.unwrap_or(0).to_string()),
        (
            "description",
            settings
                .description
                .clone()
                .unwrap_or_else(|| format!("{}: {}", summary.source, summary.describe()))
                .replace('\\', "/")
                .replace('"', "'"),
        ),
        ("prepare", prepare_section(source)?),
        ("n_clusters", n_clusters.toml()),
        ("n_clusters_note", n_clusters_note),
        (
            "eigenvectors",
            eigenvector_lines(n_clusters, eigenvector_rule, summary),
        ),
        ("sizes", sizes_lines(n_clusters, summary)),
        ("n_samples", n.to_string()),
        ("monitor_samples", n.min(2_000).to_string()),
        ("input_dim", summary.input_dim().to_string()),
    ];
    match template {
        Template::SmallImages | Template::Features => {
            let batches = n.div_ceil(MAX_IDENTITY_BATCH);
            let batch = n.div_ceil(batches);
            values.extend([
                ("batch_size", batch.to_string()),
                ("train_epochs", IDENTITY_STEPS.div_ceil(batches).to_string()),
                ("train_steps", IDENTITY_STEPS.to_string()),
            ]);
            values.extend(coefficient_values(summary.mean_cosine));
            values.extend(affinity_values(summary));
        }
        Template::Images => {
            let batch = IMAGE_BATCH.min(n);
            let pretrain_epochs = PRETRAIN_SAMPLES.div_ceil(n).clamp(4, PRETRAIN_EPOCHS);
            let (train_epochs, samples_per_epoch) = if n > TRAIN_EPOCH_SAMPLES {
                (20, format!("samples_per_epoch = {TRAIN_EPOCH_SAMPLES}\n"))
            } else {
                (12, String::new())
            };
            let epoch_samples = n.min(TRAIN_EPOCH_SAMPLES);
            let train_note = format!(
                "{train_epochs} epochs × {} steps of {batch}{} (at least 468 steps).",
                epoch_samples.div_ceil(batch),
                if n > TRAIN_EPOCH_SAMPLES {
                    format!(", each epoch {TRAIN_EPOCH_SAMPLES} of the {n} samples")
                } else {
                    String::new()
                }
            );
            let rgb = matches!(summary.shape, Shape::Images { channels: 3, .. });
            values.extend([
                ("batch_size", batch.to_string()),
                ("pretrain_epochs", pretrain_epochs.to_string()),
                ("pretrain_min_steps", PRETRAIN_MIN_STEPS.to_string()),
                ("train_epochs", train_epochs.to_string()),
                ("samples_per_epoch", samples_per_epoch),
                ("train_note", train_note),
                ("augment", augment(rgb, summary)),
                ("train_augment", train_augment(rgb, summary)),
                ("referee", referee_lines(n_clusters, n)),
                ("members", members_lines(summary)),
                ("residual", residual_lines(n)),
                ("top_k", TEMPLATE_TOP_K.to_string()),
            ]);
        }
    }
    fill(template.text(), &values)
}

/// SimCLR's augmentations: mnist-demo's for one channel; for RGB, flips and colour too;
/// stroke width where [`stroke_views`].
fn augment(rgb: bool, summary: &DataSummary) -> String {
    let mut text = if rgb {
        "crop = { p = 1.0, scale = [0.2, 1.0] }\n\
         # Drop the flip for text, digits or anything else a mirror changes.\n\
         flip = { p = 0.5 }\n\
         jitter = { p = 0.8, brightness = 0.4, contrast = 0.4, saturation = 0.4, hue = 0.1 }\n\
         grayscale = { p = 0.2 }\n\
         blur = { p = 0.3, sigma = [0.1, 1.5] }"
    } else {
        "crop = { p = 1.0, scale = [0.4, 1.0] }\n\
         affine = { p = 0.5, degrees = 15, shear = 10 }\n\
         jitter = { p = 0.8, brightness = 0.4, contrast = 0.4 }\n\
         blur = { p = 0.3, sigma = [0.1, 1.5] }\n\
         noise = { p = 0.5, std = 0.05 }"
    }
    .to_string();
    if let Some(share) = stroke_views(summary) {
        text.push_str(&format!(
            "\n# The images are drawn in strokes (stroke share {share:.2} ≥ {STROKE_SHARE}): views are\n\
             # drawn thicker or thinner too (docs/method.md, \"Stroke width\").\n\
             morph = {{ p = 0.5 }}"
        ));
    }
    text
}

/// How many members the images template trains: two for images whose views change stroke
/// width, from [`MEMBERS_MIN_SAMPLES`] to [`MEMBERS_MAX_SAMPLES`] of them; one otherwise.
pub fn members(summary: &DataSummary) -> usize {
    let sized = (MEMBERS_MIN_SAMPLES..=MEMBERS_MAX_SAMPLES).contains(&summary.n_samples);
    if sized && stroke_views(summary).is_some() {
        2
    } else {
        1
    }
}

/// `[pipeline] members` as the images template writes it: nothing for one member.
fn members_lines(summary: &DataSummary) -> String {
    match members(summary) {
        1 => String::new(),
        count => format!(
            "# Drawn in strokes, {} images: {count} members, each pretrained and trained from its\n\
             # own seed (seed + 0, seed + 1), clustered on the mean of their graphs, which keeps\n\
             # the partition a single run finds only at some seeds (docs/method.md, \"Members\").\n\
             # Each member costs a whole pipeline; members = 1 runs one.\n\
             members = {count}\n",
            summary.n_samples
        ),
    }
}

/// `[affinity] residual` as the images template writes it: nothing from
/// [`RESIDUAL_MIN_SAMPLES`] images on.
fn residual_lines(n_samples: usize) -> String {
    if n_samples >= RESIDUAL_MIN_SAMPLES {
        return String::new();
    }
    format!(
        "# {n_samples} images, under {RESIDUAL_MIN_SAMPLES}: pairs are scored by the energy's cosine term\n\
         # alone. On a few hundred images the towers' learned residual tells views of one image\n\
         # from the rest, not one class from another, and only blurs the trained dictionary's\n\
         # geometry (docs/method.md, \"Inference\").\n\
         residual = false\n"
    )
}

/// The stroke share of gray images drawn in strokes ([`STROKE_SHARE`]); `None` otherwise.
pub fn drawn_in_strokes(summary: &DataSummary) -> Option<f64> {
    let gray = matches!(summary.shape, Shape::Images { channels: 1, .. });
    summary.stroke_share.filter(|&s| gray && s >= STROKE_SHARE)
}

/// The stroke share of images [`drawn_in_strokes`] whose views in both stages change stroke
/// width; `None` otherwise, and where the joint stage is mirrored ([`mirrored_views`]): with
/// both, the half-mirrored MNIST test images fell 0.910 → 0.802 ACC (3 seeds), the trained
/// dictionary's 10-NN graph 0.834 → 0.737.
pub fn stroke_views(summary: &DataSummary) -> Option<f64> {
    drawn_in_strokes(summary).filter(|_| mirrored_views(summary).is_none())
}

/// The mirror ratio of gray images that hold their mirror images ([`MIRROR_RATIO`]), whose
/// joint stage learns from mirrored views; `None` otherwise (RGB images are mirrored in
/// both stages whatever the ratio).
pub fn mirrored_views(summary: &DataSummary) -> Option<f64> {
    let gray = matches!(summary.shape, Shape::Images { channels: 1, .. });
    summary.mirror_ratio.filter(|&r| gray && r >= MIRROR_RATIO)
}

/// The joint stage's augmentations: pretraining's, with flips where [`mirrored_views`].
fn train_augment(rgb: bool, summary: &DataSummary) -> String {
    let mut text = augment(rgb, summary);
    if let Some(ratio) = mirrored_views(summary) {
        text.push_str(&format!(
            "\n# The set holds its images' mirror images (mirror ratio {ratio:.2} ≥ {MIRROR_RATIO}): the\n\
             # joint stage learns from mirrored views too, while pretraining keeps its views\n\
             # unmirrored (docs/method.md, \"Mirrored views\").\n\
             flip = {{ p = 0.5 }}"
        ));
    }
    text
}

/// The `[prepare]` keys of a source, one per line.
fn prepare_section(source: &SourceConfig) -> anyhow::Result<String> {
    let text = toml::to_string(source)?;
    Ok(text.trim_end().to_string())
}

/// Replaces every `{{key}}`; a placeholder without a value is a bug in the template.
fn fill(template: &str, values: &[(&str, String)]) -> anyhow::Result<String> {
    let mut text = template.to_string();
    for (key, value) in values {
        text = text.replace(&format!("{{{{{key}}}}}"), value);
    }
    if let Some(start) = text.find("{{") {
        let rest = &text[start..];
        let end = rest.find("}}").map_or(rest.len(), |e| e + 2);
        bail!("template placeholder {} has no value", &rest[..end]);
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::table::TableConfig;
    use ebsc_core::Pipeline;
    use std::path::Path;

    fn summary(n: usize, shape: Shape, n_classes: usize) -> DataSummary {
        DataSummary {
            source: "feature table x.csv".into(),
            n_samples: n,
            shape,
            n_labelled: if n_classes > 0 { n } else { 0 },
            n_classes,
            // Equal classes of n / n_classes.
            class_sizes: (n_classes >= 2).then(|| (n / n_classes, n / n_classes)),
            mean_cosine: 0.5,
            span_ratio: Some(0.7),
            span_over_chance: Some(0.95),
            span_over_gaussian: Some(1.0),
            sign_symmetry: Some(0.5),
            mirror_ratio: None,
            stroke_share: None,
        }
    }

    fn table_source() -> SourceConfig {
        SourceConfig::Table(TableConfig {
            label_column: Some("label".into()),
            ..TableConfig::at("x.csv")
        })
    }

    fn images(channels: usize) -> Shape {
        Shape::Images {
            channels,
            height: 28,
            width: 28,
        }
    }

    /// The images template filled for `n` 28×28 images of `channels` channels in
    /// `n_classes` equal classes, with default settings.
    fn images_recipe(n: usize, channels: usize, n_classes: usize) -> String {
        render(
            "x",
            Template::Images,
            &summary(n, images(channels), n_classes),
            &table_source(),
            &Settings::default(),
        )
        .unwrap()
    }

    #[test]
    fn templates_follow_the_data() {
        let features = Shape::Features { dim: 64 };
        assert_eq!(
            Template::fits(&summary(100, features, 3)),
            Template::Features
        );
        // Curved classes (the test summary's span ratio 0.7, mean cosine 0.5): pretraining
        // from 400 images on, pixels below.
        assert_eq!(
            Template::fits(&summary(399, images(1), 3)),
            Template::SmallImages
        );
        assert_eq!(
            Template::fits(&summary(400, images(1), 3)),
            Template::Images
        );
        // Crowded pixels on curved classes (pose changes): pretraining too.
        let mut crowded = summary(5_000, images(1), 3);
        crowded.mean_cosine = 0.9;
        assert_eq!(Template::fits(&crowded), Template::Images);
        // Pixels near linear subspaces are the structure: kept up to 5,000 images.
        let mut subspaces = summary(5_000, images(1), 3);
        subspaces.span_ratio = Some(0.2);
        assert_eq!(Template::fits(&subspaces), Template::SmallImages);
        subspaces.n_samples = 5_001;
        assert_eq!(Template::fits(&subspaces), Template::Images);
    }

    #[test]
    fn every_template_fills_every_placeholder_and_parses() {
        for template in Template::ALL {
            for (n, shape) in [
                (300, images(1)),
                (20_000, images(3)),
                (1_797, Shape::Features { dim: 64 }),
            ] {
                if template != Template::Features && matches!(shape, Shape::Features { .. }) {
                    continue;
                }
                let text = render(
                    "x",
                    template,
                    &summary(n, shape, 10),
                    &table_source(),
                    &Settings::default(),
                )
                .unwrap();
                let table: toml::Table = text.parse().unwrap_or_else(|e| panic!("{text}\n{e}"));
                assert_eq!(table["cluster"]["n_clusters"].as_integer(), Some(10));
                assert_eq!(table["prepare"]["source"].as_str(), Some("table"));
            }
        }
    }

    #[test]
    fn sizes_are_held_equal_only_for_labelled_classes_of_one_size() {
        let sizes = |count, n_classes, class_sizes| {
            let mut data = summary(10_000, images(1), n_classes);
            data.class_sizes = class_sizes;
            let text = sizes_lines(count, &data);
            let table: toml::Table = text.parse().unwrap_or_else(|e| panic!("{text}\n{e}"));
            (table["sizes"].as_str().unwrap().to_string(), text)
        };
        let (value, text) = sizes(ClusterCount::Fixed(10), 10, Some((1000, 1000)));
        assert_eq!(value, "equal");
        assert!(text.contains("(1000 each)"), "{text}");
        // Within 2 % of the smallest class: 980–999 is equal, 174–183 (digits) is not.
        assert_eq!(
            sizes(ClusterCount::Fixed(10), 10, Some((980, 999))).0,
            "equal"
        );
        let (value, text) = sizes(ClusterCount::Fixed(10), 10, Some((174, 183)));
        assert_eq!(value, "free");
        assert!(text.contains("(174–183)"), "{text}");
        // A count that is not the labels', "auto", or no labels: free.
        assert_eq!(
            sizes(ClusterCount::Fixed(5), 10, Some((1000, 1000))).0,
            "free"
        );
        assert_eq!(sizes(ClusterCount::Auto, 10, Some((1000, 1000))).0, "free");
        assert_eq!(sizes(ClusterCount::Fixed(10), 0, None).0, "free");
        // The filled template carries the key.
        let text = images_recipe(10_000, 1, 10);
        let table: toml::Table = text.parse().unwrap();
        assert_eq!(table["cluster"]["sizes"].as_str(), Some("equal"));
    }

    /// The filled `[train]` coefficients and `[affinity]` section for 360 samples.
    fn coefficients_and_affinity(
        template: Template,
        mean_cosine: f64,
        span_ratio: Option<f64>,
    ) -> (toml::Value, toml::Table) {
        let shape = match template {
            Template::Features => Shape::Features { dim: 40 },
            _ => images(1),
        };
        let mut data = summary(360, shape, 30);
        data.mean_cosine = mean_cosine;
        data.span_ratio = span_ratio;
        let text = render("x", template, &data, &table_source(), &Settings::default()).unwrap();
        let table: toml::Table = text.parse().unwrap();
        let section = table["affinity"].as_table().unwrap().clone();
        (table["train"]["coefficients"].clone(), section)
    }

    #[test]
    fn crowded_samples_get_the_joint_solve_over_candidates() {
        let (coefficients, section) =
            coefficients_and_affinity(Template::SmallImages, 0.9, Some(0.7));
        assert_eq!(coefficients.as_str(), Some("shrink"));
        assert_eq!(section["refine"].as_str(), Some("elastic-net"));
        let (coefficients, section) =
            coefficients_and_affinity(Template::SmallImages, 0.5, Some(0.7));
        assert_eq!(coefficients.as_str(), Some("gibbs"));
        assert!(!section.contains_key("refine"), "{section:?}");
    }

    #[test]
    fn samples_near_subspaces_get_the_ridge_solve_and_its_symmetric_graph() {
        let (_, section) = coefficients_and_affinity(Template::Features, 0.0, Some(0.1));
        assert_eq!(section["refine"].as_str(), Some("ridge"));
        assert_eq!(section["affinity"].as_str(), Some("symmetric"));
        assert!(!section.contains_key("knn_k"), "{section:?}");
        assert!(!section.contains_key("refine_candidates"), "{section:?}");
        // Crowded or not, samples near subspaces take the ridge solve.
        for cosine in [0.5, 0.9] {
            let (_, section) = coefficients_and_affinity(Template::SmallImages, cosine, Some(0.1));
            assert_eq!(section["refine"].as_str(), Some("ridge"), "{cosine}");
            assert_eq!(section["affinity"].as_str(), Some("symmetric"));
        }
        // Curved classes, or a ratio that could not be measured: the k-NN graph on C's
        // rows, no joint solve.
        for ratio in [Some(0.7), None] {
            let (_, section) = coefficients_and_affinity(Template::Features, 0.0, ratio);
            assert!(!section.contains_key("refine"), "{section:?}");
            assert_eq!(section["affinity"].as_str(), Some("knn"));
            assert_eq!(section["knn_k"].as_integer(), Some(10));
        }
    }

    #[test]
    fn near_subspaces_the_solve_follows_the_ratio_against_chance() {
        // Under the ratio's line with neighbours no better than chance (0.95, as faces under
        // changing light; the other tests' default), or chance not measured: the ridge solve
        // alone.
        let mut data = summary(360, Shape::Features { dim: 40 }, 30);
        data.span_ratio = Some(0.1);
        for chance in [Some(0.95), None] {
            data.span_over_chance = chance;
            let table = template_table(Template::Features, &data);
            assert_eq!(table["affinity"]["refine"].as_str(), Some("ridge"));
            assert!(
                table["affinity"].get("refine_candidates_by").is_none(),
                "{table:?}"
            );
            assert_eq!(
                table["affinity"]["top_k"].as_integer(),
                Some(TEMPLATE_TOP_K as i64)
            );
        }
        // Neighbours that beat chance under the ratio's line too: the elastic-net solve
        // over the ridge solve's candidates, of which each row keeps fewer, in both
        // templates that solve.
        data.span_over_chance = Some(0.3);
        let table = template_table(Template::Features, &data);
        assert_eq!(table["affinity"]["refine"].as_str(), Some("elastic-net"));
        assert_eq!(
            table["affinity"]["top_k"].as_integer(),
            Some(SUBSPACE_TOP_K as i64)
        );
        let mut faces = summary(360, images(1), 30);
        faces.span_ratio = Some(0.1);
        faces.span_over_chance = Some(0.3);
        let table = template_table(Template::SmallImages, &faces);
        assert_eq!(
            table["affinity"]["refine_candidates_by"].as_str(),
            Some("ridge")
        );
        assert_eq!(
            table["affinity"]["top_k"].as_integer(),
            Some(SUBSPACE_TOP_K as i64)
        );
        // Curved rows keep the template's count.
        data.span_ratio = Some(0.7);
        data.span_over_chance = Some(0.95);
        let table = template_table(Template::Features, &data);
        assert_eq!(
            table["affinity"]["top_k"].as_integer(),
            Some(TEMPLATE_TOP_K as i64)
        );
    }

    #[test]
    fn subspaces_the_neighbours_miss_are_told_by_opposite_pairs() {
        // Lines through the origin: the ratios read them as curved (the nearest neighbour
        // alone rebuilds a point), the sign symmetry as subspaces.
        let mut data = summary(300, Shape::Features { dim: 10 }, 5);
        data.span_ratio = Some(0.96);
        data.span_over_chance = Some(1.15);
        data.span_over_gaussian = Some(1.16);
        data.sign_symmetry = Some(1.0);
        let table = template_table(Template::Features, &data);
        let affinity = &table["affinity"];
        assert_eq!(affinity["affinity"].as_str(), Some("symmetric"));
        assert_eq!(affinity["refine"].as_str(), Some("elastic-net"));
        assert_eq!(affinity["refine_candidates_by"].as_str(), Some("ridge"));
        // Two solves, averaged: the array the affinity stage reads.
        let lambdas: Vec<f64> = affinity["refine_lambda"]
            .as_array()
            .expect("refine_lambda is a list")
            .iter()
            .map(|v| v.as_float().unwrap())
            .collect();
        assert_eq!(lambdas, SYMMETRY_REFINE_LAMBDAS);
        assert_eq!(affinity["top_k"].as_integer(), Some(SUBSPACE_TOP_K as i64));
        assert_eq!(
            table["cluster"]["eigenvector_cut"]["max_extra"].as_integer(),
            Some(6)
        );
        // Too few columns for the ratios, or subspaces overlapping so densely that the
        // neighbours look like a Gaussian cloud's (5 of 6 dimensions in R^9): the same.
        for (ratio, chance, gaussian) in [(None, None, None), (Some(0.81), Some(0.74), Some(1.0))] {
            data.span_ratio = ratio;
            data.span_over_chance = chance;
            data.span_over_gaussian = gaussian;
            let table = template_table(Template::Features, &data);
            assert_eq!(table["affinity"]["affinity"].as_str(), Some("symmetric"));
        }
        // Under the line (standardised tables, clusters, non-negative data): the k-NN graph
        // on C.
        for symmetry in [0.96, 0.6, -0.5] {
            data.sign_symmetry = Some(symmetry);
            let table = template_table(Template::Features, &data);
            assert_eq!(
                table["affinity"]["affinity"].as_str(),
                Some("knn"),
                "{symmetry}"
            );
        }
    }

    #[test]
    fn subspaces_the_ratio_misses_are_told_by_the_ratio_against_chance() {
        // Subspaces of more dimensions than the ratio's neighbours: the ratio reads them as
        // curved, the ratio against chance as subspaces.
        let mut data = summary(500, Shape::Features { dim: 20 }, 5);
        data.span_ratio = Some(0.6);
        data.span_over_chance = Some(0.54);
        data.span_over_gaussian = Some(0.76);
        let table = template_table(Template::Features, &data);
        // Neighbours that beat chance: the elastic-net solve over the ridge solve's candidates.
        let affinity = &table["affinity"];
        assert_eq!(affinity["refine"].as_str(), Some("elastic-net"));
        assert_eq!(affinity["refine_candidates_by"].as_str(), Some("ridge"));
        assert_eq!(
            affinity["refine_lambda"].as_float(),
            Some(SUBSPACE_REFINE_LAMBDA)
        );
        assert_eq!(affinity["affinity"].as_str(), Some("symmetric"));
        assert_eq!(
            table["cluster"]["eigenvector_cut"]["max_extra"].as_integer(),
            Some(6)
        );
        // Subspaces whose dimensions add up to more than the columns read nearer a cloud,
        // still under the line.
        data.span_over_chance = Some(0.63);
        data.span_over_gaussian = Some(0.93);
        let table = template_table(Template::Features, &data);
        assert_eq!(table["affinity"]["affinity"].as_str(), Some("symmetric"));
        assert_eq!(
            table["affinity"]["refine_candidates_by"].as_str(),
            Some("ridge")
        );
        // Either over its line (curved classes; clouds and blurred clusters): the k-NN graph
        // on C.
        for (chance, gaussian) in [(0.9, 0.76), (0.54, 1.0), (0.6, 0.95)] {
            data.span_over_chance = Some(chance);
            data.span_over_gaussian = Some(gaussian);
            let table = template_table(Template::Features, &data);
            assert_eq!(table["affinity"]["affinity"].as_str(), Some("knn"));
        }
        // Images whose neighbours explain them far better than chance take the pixels.
        let mut images = summary(640, images(1), 10);
        images.span_ratio = Some(0.7);
        images.span_over_chance = Some(0.5);
        images.span_over_gaussian = Some(0.7);
        assert_eq!(Template::fits(&images), Template::SmallImages);
        images.span_over_chance = Some(0.95);
        assert_eq!(Template::fits(&images), Template::Images);
    }

    #[test]
    fn images_that_hold_their_mirror_images_take_a_higher_span_ratio_line() {
        // Faces under changing light read up to 0.59 (mirror ratio 0.94–1.00), image sets
        // from 0.66 on; 8×8 digits read 0.55 (mirror ratio 0.70) and keep the 0.5 line as
        // images, as a feature table at 0.57 does.
        let mut faces = summary(2_432, images(1), 38);
        faces.span_ratio = Some(0.57);
        faces.mirror_ratio = Some(0.98);
        assert_eq!(Template::fits(&faces), Template::SmallImages);
        let table = template_table(Template::SmallImages, &faces);
        assert_eq!(table["affinity"]["refine"].as_str(), Some("ridge"));
        faces.span_ratio = Some(0.66);
        assert_eq!(Template::fits(&faces), Template::Images);
        let mut digits = summary(1_797, images(1), 10);
        digits.span_ratio = Some(0.55);
        digits.mirror_ratio = Some(0.7);
        assert_eq!(Template::fits(&digits), Template::Images);
        let mut features = summary(1_797, Shape::Features { dim: 64 }, 10);
        features.span_ratio = Some(0.57);
        let table = template_table(Template::Features, &features);
        assert_eq!(table["affinity"]["affinity"].as_str(), Some("knn"));
    }

    #[test]
    fn sizes_follow_the_data() {
        let get = |text: &str, section: &str, key: &str| {
            let table: toml::Table = text.parse().unwrap();
            table[section][key].clone()
        };
        // 1,797 rows: three batches of 599, 200 epochs for 600 steps.
        let text = render(
            "x",
            Template::Features,
            &summary(1_797, Shape::Features { dim: 64 }, 10),
            &table_source(),
            &Settings::default(),
        )
        .unwrap();
        assert_eq!(get(&text, "train", "batch_size").as_integer(), Some(599));
        assert_eq!(get(&text, "train", "epochs").as_integer(), Some(200));
        // 360 images: one batch of all of them.
        let text = render(
            "x",
            Template::SmallImages,
            &summary(360, images(1), 30),
            &table_source(),
            &Settings::default(),
        )
        .unwrap();
        assert_eq!(get(&text, "train", "batch_size").as_integer(), Some(360));
        assert_eq!(get(&text, "cluster", "n_clusters").as_integer(), Some(30));
        // 70,000 RGB images: 10,000 a training epoch, flips in the augmentations.
        let text = images_recipe(70_000, 3, 10);
        assert_eq!(
            get(&text, "train", "samples_per_epoch").as_integer(),
            Some(10_000)
        );
        assert_eq!(get(&text, "pretrain", "epochs").as_integer(), Some(4));
        assert!(get(&text, "train", "augment").get("flip").is_some());
    }

    /// The images template filled for `data` with default settings, parsed.
    fn images_table(data: &DataSummary) -> toml::Table {
        template_table(Template::Images, data)
    }

    fn template_table(template: Template, data: &DataSummary) -> toml::Table {
        render("x", template, data, &table_source(), &Settings::default())
            .unwrap()
            .parse()
            .unwrap()
    }

    #[test]
    fn gray_images_that_stay_themselves_in_a_mirror_are_mirrored_in_the_joint_stage_only() {
        let flips = |channels: usize, mirror_ratio: Option<f64>| {
            let mut data = summary(10_000, images(channels), 10);
            data.mirror_ratio = mirror_ratio;
            let table = images_table(&data);
            let has_flip = |stage: &str| table[stage]["augment"].get("flip").is_some();
            (has_flip("pretrain"), has_flip("train"))
        };
        assert_eq!(flips(1, Some(0.97)), (false, true));
        assert_eq!(flips(1, Some(MIRROR_RATIO)), (false, true));
        assert_eq!(flips(1, Some(0.8)), (false, false));
        assert_eq!(flips(1, None), (false, false));
        // RGB images are mirrored in both stages whatever the ratio.
        assert_eq!(flips(3, Some(0.5)), (true, true));
    }

    #[test]
    fn gray_unmirrored_images_drawn_in_strokes_change_stroke_width_in_both_stages() {
        let morphs = |channels: usize, stroke_share: Option<f64>, mirror_ratio: Option<f64>| {
            let mut data = summary(10_000, images(channels), 10);
            data.stroke_share = stroke_share;
            data.mirror_ratio = mirror_ratio;
            let table = images_table(&data);
            let morph = |stage: &str| table[stage]["augment"].get("morph").cloned();
            let (pretrain, train) = (morph("pretrain"), morph("train"));
            assert_eq!(pretrain, train, "both stages or neither");
            pretrain.map(|m| m["p"].as_float().unwrap())
        };
        let unmirrored = Some(0.73);
        assert_eq!(morphs(1, Some(0.87), unmirrored), Some(0.5));
        assert_eq!(morphs(1, Some(STROKE_SHARE), unmirrored), Some(0.5));
        assert_eq!(morphs(1, Some(0.57), unmirrored), None);
        assert_eq!(morphs(1, None, unmirrored), None);
        assert_eq!(morphs(3, Some(0.9), unmirrored), None);
        // Strokes whose joint stage is mirrored keep their width.
        assert_eq!(morphs(1, Some(0.87), Some(MIRROR_RATIO)), None);
    }

    #[test]
    fn a_few_hundred_images_are_scored_without_the_energy_residual() {
        let residual = |n: usize| {
            let table = images_table(&summary(n, images(1), 10));
            table["affinity"]
                .get("residual")
                .map(|r| r.as_bool().unwrap())
        };
        assert_eq!(residual(400), Some(false));
        assert_eq!(residual(RESIDUAL_MIN_SAMPLES - 1), Some(false));
        assert_eq!(residual(RESIDUAL_MIN_SAMPLES), None);
        assert_eq!(residual(70_000), None);
    }

    #[test]
    fn small_sets_of_large_classes_are_clustered_with_exactly_n_clusters_eigenvectors() {
        let cluster = |n: usize, n_classes: usize| {
            let table = images_table(&summary(n, images(1), n_classes));
            table["cluster"].as_table().unwrap().clone()
        };
        // (images, classes, exact): 40 to 99 a class get no spare eigenvectors and no
        // referee, whatever the class count; 400 faces of 40 people (10 a class) keep both,
        // as do sets where k-means on the dictionary can referee (100 a class and more).
        for (n, n_classes, exact) in [
            (400, 10, true),
            (REFEREE_MIN_CLUSTER_SIZE * 10 - 1, 10, true),
            (4_000, 100, true),
            (400, 40, false),
            (399, 10, false),
            (REFEREE_MIN_CLUSTER_SIZE * 10, 10, false),
            (2_000, 10, false),
            (10_000, 10, false),
        ] {
            let table = cluster(n, n_classes);
            let spare = if exact { 0 } else { 2 };
            let what = format!("{n}/{n_classes}");
            assert_eq!(
                table["extra_eigenvectors"].as_integer(),
                Some(spare),
                "{what}"
            );
            assert_eq!(table.contains_key("eigenvector_referee"), !exact, "{what}");
        }
        // The other templates keep their two spare eigenvectors on any set.
        let table = template_table(Template::SmallImages, &summary(400, images(1), 10));
        assert_eq!(table["cluster"]["extra_eigenvectors"].as_integer(), Some(2));
        assert!(!exact_eigenvector_count(ClusterCount::Auto, 400));
    }

    #[test]
    fn thousands_of_images_drawn_in_strokes_are_trained_as_two_members() {
        let members = |n: usize, stroke_share: Option<f64>, mirror_ratio: Option<f64>| {
            let mut data = summary(n, images(1), 10);
            data.stroke_share = stroke_share;
            data.mirror_ratio = mirror_ratio;
            let table = images_table(&data);
            let written = table["pipeline"]
                .get("members")
                .map(|m| m.as_integer().unwrap());
            // The file loads, and says what it asks for.
            let text = render(
                "x",
                Template::Images,
                &data,
                &table_source(),
                &Settings::default(),
            )
            .unwrap();
            let pipeline = Pipeline::parse(Path::new("x.toml"), &text).unwrap();
            assert_eq!(pipeline.settings.members as i64, written.unwrap_or(1));
            written
        };
        let unmirrored = Some(0.73);
        assert_eq!(members(16_270, Some(0.74), unmirrored), Some(2));
        assert_eq!(
            members(MEMBERS_MIN_SAMPLES, Some(0.87), unmirrored),
            Some(2)
        );
        assert_eq!(
            members(MEMBERS_MAX_SAMPLES, Some(0.87), unmirrored),
            Some(2)
        );
        // A few hundred images, or all of MNIST: one member.
        assert_eq!(members(400, Some(0.87), unmirrored), None);
        assert_eq!(members(70_000, Some(0.87), unmirrored), None);
        // Filled shapes, and strokes whose joint stage is mirrored: one member.
        assert_eq!(members(10_000, Some(0.57), unmirrored), None);
        assert_eq!(members(10_000, Some(0.87), Some(MIRROR_RATIO)), None);
    }

    #[test]
    fn pretraining_runs_twenty_epochs_within_its_sample_budget_and_step_floor() {
        let pretrain = |n: usize| {
            let text = images_recipe(n, 1, 10);
            let table: toml::Table = text.parse().unwrap();
            let value = |key: &str| table["pretrain"][key].as_integer().unwrap();
            (value("epochs"), value("min_steps"))
        };
        // 10,000 images: 20 epochs of 39 steps of 256.
        assert_eq!(pretrain(10_000), (20, 234));
        // 400 images: one step an epoch, so the floor of 234 steps decides, as before.
        assert_eq!(pretrain(400), (20, 234));
        // 25,000 and 70,000: the budget of 200,000 samples, then at least 4 epochs.
        assert_eq!(pretrain(25_000), (8, 234));
        assert_eq!(pretrain(70_000), (4, 234));
    }

    #[test]
    fn samples_near_subspaces_let_the_graphs_cut_choose_the_eigenvector_count() {
        for template in [Template::Features, Template::SmallImages] {
            let shape = match template {
                Template::Features => Shape::Features { dim: 40 },
                _ => images(1),
            };
            let mut data = summary(600, shape, 6);
            data.span_ratio = Some(0.2);
            let table = template_table(template, &data);
            let cluster = table["cluster"].as_table().unwrap();
            let what = template.name();
            assert_eq!(
                cluster["extra_eigenvectors"].as_integer(),
                Some(2),
                "{what}"
            );
            assert_eq!(
                cluster["eigenvector_cut"]["max_extra"].as_integer(),
                Some(6),
                "{what}"
            );
            assert!(!cluster.contains_key("eigenvector_referee"), "{what}");
            // Curved classes (and samples whose geometry was not measurable) keep the plain
            // spare eigenvectors.
            for span_ratio in [Some(0.7), None] {
                data.span_ratio = span_ratio;
                let table = template_table(template, &data);
                assert!(
                    !table["cluster"]
                        .as_table()
                        .unwrap()
                        .contains_key("eigenvector_cut")
                );
            }
        }
        // The images template never: its graph is the energy's, on a trained dictionary.
        let mut data = summary(6_000, images(1), 6);
        data.span_ratio = Some(0.2);
        assert!(
            !images_table(&data)["cluster"]
                .as_table()
                .unwrap()
                .contains_key("eigenvector_cut")
        );
        // "auto" scans its own eigenvalues.
        let auto = Settings {
            n_clusters: Some(ClusterCount::Auto),
            ..Settings::default()
        };
        data.n_samples = 600;
        let text = render("x", Template::Features, &data, &table_source(), &auto);
        assert!(!text.unwrap().contains("eigenvector_cut"));
    }

    #[test]
    fn only_the_images_template_consults_the_dictionary_for_the_eigenvector_count() {
        // 400 images of 40 classes: 10 a cluster, too few for k-means; the graph referees.
        let small = images_recipe(400, 1, 40);
        let table: toml::Table = small.parse().unwrap_or_else(|e| panic!("{small}\n{e}"));
        let referee = table["cluster"]["eigenvector_referee"].as_table().unwrap();
        assert!(!referee.contains_key("min_agreement"), "{small}");
        assert_eq!(referee["knn_graph"].as_integer(), Some(10), "{small}");
        // Ten images: no more samples than the graph's neighbours, no referee.
        let tiny = images_recipe(10, 1, 2);
        assert!(!tiny.contains("eigenvector_referee"), "{tiny}");
        for template in Template::ALL {
            let shape = match template {
                Template::Features => Shape::Features { dim: 8 },
                _ => images(1),
            };
            let text = render(
                "x",
                template,
                &summary(5_000, shape, 10),
                &table_source(),
                &Settings::default(),
            )
            .unwrap();
            let table: toml::Table = text.parse().unwrap_or_else(|e| panic!("{text}\n{e}"));
            let referee = table["cluster"].get("eigenvector_referee");
            if template == Template::Images {
                let referee = referee.and_then(|r| r.as_table()).expect("a referee table");
                assert_eq!(referee["max_extra"].as_integer(), Some(6), "{text}");
                assert_eq!(referee["min_agreement"].as_float(), Some(0.75), "{text}");
                assert_eq!(referee["knn_graph"].as_integer(), Some(10), "{text}");
            } else {
                assert!(referee.is_none(), "{}: {text}", template.name());
            }
        }
    }

    #[test]
    fn cluster_count_comes_from_labels_or_the_user() {
        let shape = Shape::Features { dim: 8 };
        let cluster_section = |n_classes: usize, settings: &Settings| {
            let text = render(
                "x",
                Template::Features,
                &summary(50, shape, n_classes),
                &table_source(),
                settings,
            )
            .unwrap();
            let section = text.split("[cluster]").nth(1).unwrap().to_string();
            let table: toml::Table = text.parse().unwrap_or_else(|e| panic!("{text}\n{e}"));
            (table["cluster"].as_table().unwrap().clone(), section)
        };
        // No labels, or one class: "auto", said in the comment, without extra eigenvectors
        // (the cluster stage refuses them with "auto").
        for n_classes in [0, 1] {
            let (table, text) = cluster_section(n_classes, &Settings::default());
            assert_eq!(table["n_clusters"].as_str(), Some("auto"), "{text}");
            assert!(!table.contains_key("extra_eigenvectors"), "{text}");
            assert!(text.contains("the largest gap"), "{text}");
        }
        // Every template takes "auto" and parses.
        for template in Template::ALL {
            let shape = match template {
                Template::Features => shape,
                _ => images(1),
            };
            let text = render(
                "x",
                template,
                &summary(50, shape, 0),
                &table_source(),
                &Settings::default(),
            )
            .unwrap();
            let table: toml::Table = text.parse().unwrap_or_else(|e| panic!("{text}\n{e}"));
            assert_eq!(table["cluster"]["n_clusters"].as_str(), Some("auto"));
            let cluster = table["cluster"].as_table().unwrap();
            assert!(!cluster.contains_key("extra_eigenvectors"));
            // The referee needs a fixed count (the cluster stage refuses it with "auto").
            assert!(!cluster.contains_key("eigenvector_referee"));
        }
        let (_, text) = cluster_section(0, &Settings::default());
        assert!(
            text.starts_with("\n# The data has no labels, so the count is \"auto\""),
            "{text}"
        );
        let settings = Settings {
            n_clusters: Some(ClusterCount::Fixed(4)),
            ..Settings::default()
        };
        let (table_fixed, text) = cluster_section(0, &settings);
        assert_eq!(table_fixed["n_clusters"].as_integer(), Some(4), "{text}");
        assert_eq!(table_fixed["extra_eigenvectors"].as_integer(), Some(2));
        assert!(text.contains("the data has no labels"), "{text}");
        let (table_labels, _) = cluster_section(7, &Settings::default());
        assert_eq!(table_labels["n_clusters"].as_integer(), Some(7));
        let auto = Settings {
            n_clusters: Some(ClusterCount::Auto),
            ..Settings::default()
        };
        let (table_auto, text) = cluster_section(7, &auto);
        assert_eq!(table_auto["n_clusters"].as_str(), Some("auto"), "{text}");
        assert!(text.contains("Given to `just new`"), "{text}");
        let err = render(
            "x",
            Template::Images,
            &summary(50, shape, 2),
            &table_source(),
            &Settings::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("use template=features"), "{err}");
    }
}
