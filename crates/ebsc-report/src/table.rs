//! The runs as one polars `DataFrame`, a row per run sorted by name; missing values are
//! nulls.

use polars::prelude::*;

use crate::collect::{Run, STAGES};

/// Decimals shown for a float column: seconds (`*_s`) with 1, scores with 4.
pub fn decimals(column: &str) -> usize {
    if column.ends_with("_s") { 1 } else { 4 }
}

pub fn frame(runs: &[Run]) -> PolarsResult<DataFrame> {
    let stage = |i: usize| -> Vec<Option<f64>> {
        runs.iter()
            .map(|r| r.pipeline.as_ref().and_then(|p| p.seconds[i]))
            .collect()
    };
    let scores = |f: fn(&Run) -> Option<f64>| runs.iter().map(f).collect::<Vec<_>>();
    let mut columns = vec![
        Column::new(
            "run".into(),
            runs.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        ),
        Column::new(
            "n_samples".into(),
            runs.iter().map(|r| r.n_samples).collect::<Vec<_>>(),
        ),
        Column::new(
            "n_clusters".into(),
            runs.iter().map(|r| r.n_clusters).collect::<Vec<_>>(),
        ),
        Column::new("acc".into(), scores(|r| r.acc)),
        Column::new("nmi".into(), scores(|r| r.nmi)),
        Column::new("nmi_geometric".into(), scores(|r| r.nmi_geometric)),
        Column::new("ari".into(), scores(|r| r.ari)),
        Column::new("cohesion".into(), scores(|r| r.quality.cohesion)),
        Column::new("ncut".into(), scores(|r| r.quality.normalized_cut)),
        Column::new("eigengap".into(), scores(|r| r.quality.eigengap)),
        Column::new(
            "gap_k".into(),
            runs.iter()
                .map(|r| r.quality.eigengap_k)
                .collect::<Vec<_>>(),
        ),
        Column::new("silhouette".into(), scores(|r| r.quality.silhouette)),
    ];
    for (i, name) in STAGES.iter().enumerate() {
        columns.push(Column::new(format!("{name}_s").into(), stage(i)));
    }
    columns.push(Column::new(
        "total_s".into(),
        runs.iter()
            .map(|r| r.pipeline.as_ref().and_then(|p| p.total()))
            .collect::<Vec<_>>(),
    ));
    columns.push(Column::new(
        "devices".into(),
        runs.iter()
            .map(|r| r.pipeline.as_ref().map(|p| p.devices.join(", ")))
            .collect::<Vec<_>>(),
    ));
    // Sorted component by component: `/` sorts before every other character, so
    // `p/ablations/*` and `p/cluster` stay together ahead of `p-senet/cluster`.
    columns.push(Column::new(
        SORT_KEY.into(),
        runs.iter()
            .map(|r| r.name.replace('/', "\u{1}"))
            .collect::<Vec<_>>(),
    ));
    let mut frame =
        DataFrame::new(runs.len(), columns)?.sort([SORT_KEY], SortMultipleOptions::default())?;
    frame.drop_in_place(SORT_KEY)?;
    Ok(frame)
}

const SORT_KEY: &str = "sort key";

#[cfg(test)]
mod tests {
    use super::*;

    fn run(name: &str) -> Run {
        Run {
            name: name.into(),
            n_samples: 1,
            n_clusters: 1,
            acc: None,
            nmi: None,
            nmi_geometric: None,
            ari: None,
            quality: Default::default(),
            pipeline: None,
        }
    }

    #[test]
    fn rows_sort_by_path_components() {
        let runs = [
            run("p-senet/cluster"),
            run("p/cluster"),
            run("p/ablations/a"),
        ];
        let frame = frame(&runs).unwrap();
        let names: Vec<Option<&str>> = frame.column("run").unwrap().str().unwrap().iter().collect();
        // Byte order would put `p-senet` first (`-` < `/`).
        assert_eq!(
            names,
            [
                Some("p/ablations/a"),
                Some("p/cluster"),
                Some("p-senet/cluster")
            ]
        );
        assert_eq!(frame.width(), 19, "the sort key is gone");
    }
}
