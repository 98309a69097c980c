//! MATLAB level-5 `.mat` files as `save -v6` writes them (uncompressed), for the readers' tests.

/// A `.mat` file of `double` matrices: each `(name, rows, columns, values)` with `values`
/// row-major (they are written column-major, as MATLAB keeps them).
pub fn mat_v5(variables: &[(&str, usize, usize, &[f64])]) -> Vec<u8> {
    let mut header =
        format!("{:<116}", "MATLAB 5.0 MAT-file, written by ebsc's tests").into_bytes();
    header.extend_from_slice(&[0; 8]);
    header.extend_from_slice(&0x0100u16.to_le_bytes());
    header.extend_from_slice(b"IM");
    let mut bytes = header;
    for &(name, rows, columns, values) in variables {
        assert_eq!(
            values.len(),
            rows * columns,
            "{name}: values for {rows}×{columns}"
        );
        let mut body = Vec::new();
        // Array flags: class double (6).
        element(&mut body, 6, &[6, 0, 0, 0, 0, 0, 0, 0]);
        let dims: Vec<u8> = [rows as i32, columns as i32]
            .iter()
            .flat_map(|d| d.to_le_bytes())
            .collect();
        element(&mut body, 5, &dims);
        element(&mut body, 1, name.as_bytes());
        let column_major: Vec<u8> = (0..columns)
            .flat_map(|j| (0..rows).map(move |i| values[i * columns + j]))
            .flat_map(f64::to_le_bytes)
            .collect();
        element(&mut body, 9, &column_major);
        element(&mut bytes, 14, &body);
    }
    bytes
}

/// One data element: its 8-byte tag, the data, padding to 8 bytes.
fn element(out: &mut Vec<u8>, kind: u32, data: &[u8]) {
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(8) * 8, 0);
}
