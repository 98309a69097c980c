//! Diagnostics for the manifest: the subspace-preserving error (SENet's definition) when
//! labels exist.

use ebsc_io::Triplets;

use crate::graph::row_ranges;

/// Mean over rows of the share of `|c|` mass outside the row's own class. Rows with an
/// unknown label or no mass are left out; `None` when no row is left.
pub fn subspace_preserving_error(c: &Triplets, labels: &[Option<i32>]) -> Option<f64> {
    let (mut total, mut rows) = (0.0, 0usize);
    for range in row_ranges(&c.rows) {
        let row = c.rows[range.start] as usize;
        let Some(own) = labels.get(row).copied().flatten() else {
            continue;
        };
        let (mut all, mut outside) = (0.0f64, 0.0f64);
        for (&col, &v) in c.cols[range.clone()].iter().zip(&c.values[range]) {
            let mass = f64::from(v.abs());
            all += mass;
            if labels.get(col as usize).copied().flatten() != Some(own) {
                outside += mass;
            }
        }
        if all > 0.0 {
            total += outside / all;
            rows += 1;
        }
    }
    (rows > 0).then(|| total / rows as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_hand() {
        // Labels [0, 0, 1, 1, unknown].
        // Row 0 (class 0): |c| 0.2 on class 0, 0.6 on class 1 → 0.75 outside.
        // Row 2 (class 1): all on class 1 → 0. Row 4: unknown label, left out. Mean 0.375.
        let mut c = Triplets::default();
        c.push(0, 1, -0.2);
        c.push(0, 2, 0.6);
        c.push(2, 3, 1.0);
        c.push(4, 0, 1.0);
        let labels = [Some(0), Some(0), Some(1), Some(1), None];
        let err = subspace_preserving_error(&c, &labels).unwrap();
        assert!((err - 0.375).abs() < 1e-7, "{err}");
        assert_eq!(subspace_preserving_error(&c, &[None; 5]), None);
    }
}
