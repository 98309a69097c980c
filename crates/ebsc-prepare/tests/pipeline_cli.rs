//! The `ebsc-pipeline` binary as a user meets it: `new` on each kind of data, its errors,
//! and `show`.

use std::path::Path;

use ebsc_test_support::cli::{self, Output};

/// Runs `ebsc-pipeline args…` in `dir`.
fn run(dir: &Path, args: &[&str]) -> Output {
    cli::run(env!("CARGO_BIN_EXE_ebsc-pipeline"), dir, args)
}

/// The one error line of a failed run (and nothing else on stderr).
fn error(output: &Output) -> &str {
    let line = output.error_line(&[]);
    assert_eq!(output.stderr.lines().count(), 1, "{}", output.stderr);
    line
}

/// Asserts that the run printed `text` on stdout (showing what it printed otherwise).
fn assert_printed(output: &Output, text: &str) {
    assert!(output.stdout.contains(text), "{}", output.stdout);
}

fn read(dir: &Path, relative: &str) -> toml::Table {
    std::fs::read_to_string(dir.join(relative))
        .unwrap()
        .parse()
        .unwrap()
}

/// A CSV of `rows` samples of 3 features with a `species` label cycling through 3 classes.
fn write_csv(path: &Path, rows: usize, label: &str) {
    let mut text = format!("a,b,c,{label}\n");
    for i in 0..rows {
        text.push_str(&format!(
            "{},{},{},{}\n",
            i % 3,
            i % 5,
            i % 7 + 1,
            ["x", "y", "z"][i % 3]
        ));
    }
    std::fs::write(path, text).unwrap();
}

#[test]
fn a_labelled_table_gets_the_features_template() {
    let dir = tempfile::tempdir().unwrap();
    write_csv(&dir.path().join("iris.csv"), 30, "label");
    let out = run(
        dir.path(),
        &["new", "iris", "iris.csv", "seed=4", "train.epochs=7"],
    );
    assert!(out.ok, "{}", out.stderr);
    assert_printed(&out, "30 rows of 3 features, 3 classes");
    assert_printed(&out, "template features");
    assert!(
        out.stdout.ends_with("run it with: just run iris\n"),
        "{}",
        out.stdout
    );
    let pipeline = read(dir.path(), "pipelines/iris.toml");
    assert_eq!(pipeline["prepare"]["source"].as_str(), Some("table"));
    assert_eq!(pipeline["prepare"]["label_column"].as_str(), Some("label"));
    assert_eq!(pipeline["pipeline"]["seed"].as_integer(), Some(4));
    assert_eq!(pipeline["train"]["epochs"].as_integer(), Some(7));
    assert_eq!(pipeline["train"]["batch_size"].as_integer(), Some(30));
    assert_eq!(pipeline["cluster"]["n_clusters"].as_integer(), Some(3));

    // The file exists now: a second `new` refuses, --force replaces it.
    let again = run(dir.path(), &["new", "iris", "iris.csv"]);
    assert!(error(&again).contains("already exists"), "{}", again.stderr);
    assert!(run(dir.path(), &["new", "iris", "iris.csv", "--force"]).ok);
}

#[test]
fn columns_in_different_units_are_named_in_a_note() {
    let dir = tempfile::tempdir().unwrap();
    // Areas in the thousands beside ratios of a few hundredths, as in breast cancer data.
    let mut text = String::from("area,smoothness,texture,label\n");
    for i in 0..30 {
        text.push_str(&format!(
            "{},{},{},{}\n",
            500 + 97 * i,
            0.05 + 0.001 * (i % 7) as f64,
            10 + i % 5,
            i % 3
        ));
    }
    std::fs::write(dir.path().join("cells.csv"), text).unwrap();
    let out = run(dir.path(), &["new", "cells", "cells.csv"]);
    assert!(out.ok, "{}", out.stderr);
    assert_printed(
        &out,
        "new: the columns are in different units: \"area\" spans 2813 and \"smoothness\" 0.006 (468833×)",
    );
}

#[test]
fn a_header_less_table_finds_its_classes_at_either_end() {
    let dir = tempfile::tempdir().unwrap();
    // UCI's layouts: iris.data (four measures, then the class as text), wine.data (the class
    // 1–3 first), and np.savetxt's [X, y] (spaces, the class last as a float).
    let (mut iris, mut wine, mut savetxt) = (String::new(), String::new(), String::new());
    for i in 0..12 {
        let class = i % 3;
        let (a, b) = (5.0 + i as f64 * 0.1, 3.0 - class as f64 * 0.2);
        iris.push_str(&format!(
            "{a:.1},{b:.1},1.4,0.2,Iris-{}\n",
            ["setosa", "versicolor", "virginica"][class]
        ));
        wine.push_str(&format!("{},{a:.2},{b:.2},{}\n", class + 1, 500 + 37 * i));
        savetxt.push_str(&format!("{a:.18e} {b:.18e} {:.18e}\n", class as f64));
    }
    for (file, text, column, note) in [
        (
            "iris.data",
            &iris,
            "column_5",
            "the last column (column_5) holds text",
        ),
        (
            "wine.data",
            &wine,
            "column_1",
            "the first column (column_1) holds 3 consecutive integers (1 to 3)",
        ),
        (
            "points.txt",
            &savetxt,
            "column_3",
            "the last column (column_3) holds 3 consecutive integers (0 to 2)",
        ),
    ] {
        std::fs::write(dir.path().join(file), text).unwrap();
        let name = file.split('.').next().unwrap();
        let out = run(dir.path(), &["new", name, file]);
        assert!(out.ok, "{file}: {}", out.stderr);
        assert_printed(&out, "12 rows");
        assert_printed(&out, "3 classes");
        assert_printed(&out, note);
        let pipeline = read(dir.path(), &format!("pipelines/{name}.toml"));
        assert_eq!(
            pipeline["prepare"]["label_column"].as_str(),
            Some(column),
            "{file}"
        );
        assert_eq!(
            pipeline["prepare"]["header"].as_bool(),
            Some(false),
            "{file}"
        );
        assert_eq!(
            pipeline["cluster"]["n_clusters"].as_integer(),
            Some(3),
            "{file}"
        );
    }
    // Excel's byte-order mark before the first number: still no header.
    std::fs::write(dir.path().join("marked.data"), format!("\u{feff}{wine}")).unwrap();
    let out = run(dir.path(), &["new", "marked", "marked.data"]);
    assert!(out.ok, "{}", out.stderr);
    assert_printed(
        &out,
        "the first column (column_1) holds 3 consecutive integers (1 to 3)",
    );
    // labels=none keeps a number column a feature; a text column cannot be one.
    let out = run(dir.path(), &["new", "wine2", "wine.data", "labels=none"]);
    assert!(out.ok, "{}", out.stderr);
    assert_printed(&out, "12 rows of 4 features, no labels");
    let out = run(dir.path(), &["new", "iris2", "iris.data", "labels=none"]);
    assert!(
        error(&out).contains("column \"column_5\" holds text"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_headed_table_finds_labels_named_otherwise_by_their_values() {
    let dir = tempfile::tempdir().unwrap();
    // Generated subspaces saved with their membership under names new does not know, or
    // under `cluster`, one of the names it does.
    for (file, header, column, note) in [
        (
            "which.csv",
            "a,b,which",
            "which",
            Some(
                "no column is named like labels, and the last column (which) holds 3 consecutive integers (0 to 2)",
            ),
        ),
        ("cluster.csv", "a,b,cluster", "cluster", None),
    ] {
        let rows: Vec<String> = (0..12)
            .map(|i| format!("{}.5,{}.25,{}", i, 12 - i, i % 3))
            .collect();
        std::fs::write(
            dir.path().join(file),
            format!("{header}\n{}\n", rows.join("\n")),
        )
        .unwrap();
        let name = file.split('.').next().unwrap();
        let out = run(dir.path(), &["new", name, file]);
        assert!(out.ok, "{file}: {}", out.stderr);
        assert_printed(&out, "12 rows of 2 features, 3 classes");
        if let Some(note) = note {
            assert_printed(&out, note);
        }
        let pipeline = read(dir.path(), &format!("pipelines/{name}.toml"));
        assert_eq!(pipeline["prepare"]["label_column"].as_str(), Some(column));
    }
    // labels=none keeps the column a feature.
    let out = run(dir.path(), &["new", "bare", "which.csv", "labels=none"]);
    assert!(out.ok, "{}", out.stderr);
    assert_printed(&out, "12 rows of 3 features, no labels");
    // A column of text at either end is read as the labels whatever its name.
    let rows: Vec<String> = (0..12)
        .map(|i| format!("{},{}.5,{}.25", ["cat", "dog"][i % 2], i, 12 - i))
        .collect();
    std::fs::write(
        dir.path().join("animals.csv"),
        format!("animal,a,b\n{}\n", rows.join("\n")),
    )
    .unwrap();
    let out = run(dir.path(), &["new", "animals", "animals.csv"]);
    assert!(out.ok, "{}", out.stderr);
    assert_printed(
        &out,
        "no column is named like labels, and the first column (animal) holds text: read as the labels, 2 classes",
    );
    let pipeline = read(dir.path(), "pipelines/animals.toml");
    assert_eq!(pipeline["prepare"]["label_column"].as_str(), Some("animal"));
}

#[test]
fn id_columns_are_found_and_a_guess_that_repeats_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("ids.csv"),
        "id,a,b\nr1,1,2\nr2,3,4\nr3,5,7\n",
    )
    .unwrap();
    let out = run(dir.path(), &["new", "ids", "ids.csv", "n_clusters=2"]);
    assert!(out.ok, "{}", out.stderr);
    let pipeline = read(dir.path(), "pipelines/ids.toml");
    assert_eq!(pipeline["prepare"]["id_column"].as_str(), Some("id"));
    // pandas' `df.to_csv(path)`: the index, a first column without a name.
    std::fs::write(
        dir.path().join("pandas.csv"),
        ",a,b,label\n0,1.5,2,x\n1,3,4.5,y\n2,5,7,x\n3,1,1,y\n",
    )
    .unwrap();
    let out = run(dir.path(), &["new", "pandas", "pandas.csv"]);
    assert!(out.ok, "{}", out.stderr);
    assert_printed(&out, "4 rows of 2 features, 2 classes");
    let pipeline = read(dir.path(), "pipelines/pandas.toml");
    assert_eq!(pipeline["prepare"]["id_column"].as_str(), Some(""));
    // `df.reset_index().to_csv(path, index=False)`: the index named `index`.
    std::fs::write(
        dir.path().join("reset.csv"),
        "index,a,b,label\n0,1.5,2,x\n1,3,4.5,y\n2,5,7,x\n3,1,1,y\n",
    )
    .unwrap();
    let out = run(dir.path(), &["new", "reset", "reset.csv"]);
    assert!(out.ok, "{}", out.stderr);
    assert_printed(&out, "4 rows of 2 features, 2 classes");

    // A numeric `id` that repeats does not name the rows: `new` reads it as a feature and
    // says why; named by the user, the same column is an error that says where.
    std::fs::write(
        dir.path().join("groups.csv"),
        "id,a,b\n1,1,2\n1,3,4\n2,5,7\n",
    )
    .unwrap();
    let out = run(dir.path(), &["new", "groups", "groups.csv", "n_clusters=2"]);
    assert!(out.ok, "{}", out.stderr);
    assert_printed(
        &out,
        "column \"id\" looks like an id but does not name the rows",
    );
    assert_printed(&out, "3 rows of 3 features");
    let pipeline = read(dir.path(), "pipelines/groups.toml");
    assert!(
        !pipeline["prepare"]
            .as_table()
            .unwrap()
            .contains_key("id_column")
    );
    let out = run(
        dir.path(),
        &["new", "g2", "groups.csv", "n_clusters=2", "id_column=id"],
    );
    assert!(
        error(&out).contains("holds \"1\" at rows 0 and 1; ids must be distinct"),
        "{}",
        out.stderr
    );
}

#[test]
fn without_labels_the_cluster_count_is_auto_unless_given() {
    let dir = tempfile::tempdir().unwrap();
    write_csv(&dir.path().join("t.csv"), 12, "species");
    // `species` is not a label name it knows, but text is no feature: its last column of
    // text is read as the labels, and `new` says so; naming it does the same.
    let out = run(dir.path(), &["new", "t", "t.csv"]);
    assert!(out.ok, "{}", out.stderr);
    assert_printed(
        &out,
        "the last column (species) holds text: read as the labels",
    );
    let out = run(
        dir.path(),
        &["new", "t", "t.csv", "label_column=species", "--force"],
    );
    assert!(out.ok, "{}", out.stderr);
    // Text in a middle column is no feature and no label: the reader says so.
    std::fs::write(
        dir.path().join("mid.csv"),
        "a,kind,b\n1,x,2\n3,y,4\n5,x,6\n7,y,8\n",
    )
    .unwrap();
    let out = run(dir.path(), &["new", "mid", "mid.csv"]);
    assert!(error(&out).contains("label_column"), "{}", out.stderr);
    assert!(!dir.path().join("pipelines/mid.toml").exists());
    // Numbers only: no labels, so the count is left to the eigengap, and `new` says so.
    std::fs::write(dir.path().join("n.csv"), "1,2\n3,4\n5,7\n").unwrap();
    let out = run(dir.path(), &["new", "u", "n.csv"]);
    assert!(out.ok, "{}", out.stderr);
    assert_printed(&out, "3 rows of 2 features, no labels");
    assert_printed(
        &out,
        "new: n_clusters = \"auto\": the cluster stage picks the count at the largest eigengap",
    );
    let pipeline = read(dir.path(), "pipelines/u.toml");
    assert_eq!(pipeline["cluster"]["n_clusters"].as_str(), Some("auto"));
    assert!(pipeline["cluster"].get("extra_eigenvectors").is_none());
    assert_eq!(pipeline["prepare"]["header"].as_bool(), Some(false));
    let text = std::fs::read_to_string(dir.path().join("pipelines/u.toml")).unwrap();
    assert!(
        text.contains("# The data has no labels, so the count is \"auto\""),
        "{text}"
    );
    // A count given on the command line wins.
    let out = run(
        dir.path(),
        &["new", "u", "n.csv", "n_clusters=2", "--force"],
    );
    assert!(out.ok, "{}", out.stderr);
    let pipeline = read(dir.path(), "pipelines/u.toml");
    assert_eq!(pipeline["cluster"]["n_clusters"].as_integer(), Some(2));
    assert_eq!(
        pipeline["cluster"]["extra_eigenvectors"].as_integer(),
        Some(2)
    );
    // And "auto" may be asked for on labelled data.
    let out = run(
        dir.path(),
        &[
            "new",
            "t",
            "t.csv",
            "label_column=species",
            "n_clusters=auto",
            "--force",
        ],
    );
    assert!(out.ok, "{}", out.stderr);
    let pipeline = read(dir.path(), "pipelines/t.toml");
    assert_eq!(pipeline["cluster"]["n_clusters"].as_str(), Some("auto"));
}

/// A Kaggle-style pixel CSV: `label,pixel1,…,pixel256`, 40 rows of 16×16 gray images in two
/// classes (a bright left or right half on a dark ground, or, `crowded`, the same gray face
/// with a faint mark on either side).
fn write_pixel_csv(path: &Path, crowded: bool) {
    let mut text = String::from("label");
    (1..=256).for_each(|i| text.push_str(&format!(",pixel{i}")));
    text.push('\n');
    for row in 0..40 {
        let class = row % 2;
        text.push_str(&class.to_string());
        for pixel in 0..256 {
            let (y, x) = (pixel / 16, pixel % 16);
            let lit = (x < 8) == (class == 0);
            let value = match (crowded, lit) {
                (false, true) => 200 + (row + y) % 50,
                (false, false) => (row * 3 + x) % 20,
                (true, true) => 130 + (row + y) % 5,
                (true, false) => 120 + (row + x) % 5,
            };
            text.push_str(&format!(",{value}"));
        }
        text.push('\n');
    }
    std::fs::write(path, text).unwrap();
}

#[test]
fn a_table_of_pixels_is_read_as_images() {
    let dir = tempfile::tempdir().unwrap();
    write_pixel_csv(&dir.path().join("pixels.csv"), false);
    let out = run(dir.path(), &["new", "px", "pixels.csv"]);
    assert!(out.ok, "{}", out.stderr);
    assert_printed(&out, "pixel table pixels.csv: 40 images 1×16×16, 2 classes");
    assert_printed(
        &out,
        "new: the 256 columns hold 16×16 gray images: read as images, image_shape = [16, 16] (image_shape=none keeps them features)",
    );
    let pipeline = read(dir.path(), "pipelines/px.toml");
    let shape = pipeline["prepare"]["image_shape"].as_array().unwrap();
    assert_eq!(shape, &[toml::Value::Integer(16), toml::Value::Integer(16)]);
    assert_eq!(pipeline["prepare"]["label_column"].as_str(), Some("label"));
    // Under 400 images: the small-images template, as for the same images in a folder.
    assert_printed(&out, "new: template small-images");

    // image_shape=none keeps the columns features; image_shape=[H,W] must fit the columns.
    let out = run(dir.path(), &["new", "pf", "pixels.csv", "image_shape=none"]);
    assert!(out.ok, "{}", out.stderr);
    assert_printed(&out, "40 rows of 256 features, 2 classes");
    assert!(
        read(dir.path(), "pipelines/pf.toml")["prepare"]
            .get("image_shape")
            .is_none()
    );
    let out = run(
        dir.path(),
        &["new", "pw", "pixels.csv", "image_shape=[8,32]"],
    );
    assert!(out.ok, "{}", out.stderr);
    assert_printed(&out, "40 images 1×8×32");
    let out = run(
        dir.path(),
        &["new", "pe", "pixels.csv", "image_shape=[9,9]"],
    );
    assert!(
        error(&out)
            .contains("image_shape = [9, 9] reads 81 pixels a row, and the rows hold 256 features"),
        "{}",
        out.stderr
    );
    let out = run(dir.path(), &["new", "pe", "pixels.csv", "image_shape=28"]);
    assert!(
        error(&out).contains("\"image_shape=28\": expected [height, width]"),
        "{}",
        out.stderr
    );

    // Crowded pixels, as faces are, stay features, and `new` says why.
    write_pixel_csv(&dir.path().join("faces.csv"), true);
    let out = run(dir.path(), &["new", "faces", "faces.csv"]);
    assert!(out.ok, "{}", out.stderr);
    assert_printed(&out, "40 rows of 256 features, 2 classes");
    assert_printed(&out, "kept as features");
    assert!(
        read(dir.path(), "pipelines/faces.toml")["prepare"]
            .get("image_shape")
            .is_none()
    );
}

#[test]
fn matlab_files_find_their_samples_and_labels() {
    use ebsc_test_support::matlab::mat_v5;
    let dir = tempfile::tempdir().unwrap();
    // Deng Cai's layout: `fea`, one sample a row, and `gnd`, the labels; 12 samples of 3
    // features in 3 classes.
    let fea: Vec<f64> = (0..36).map(|i| ((i * 7) % 11) as f64 * 0.5 - 1.0).collect();
    let gnd: Vec<f64> = (0..12).map(|i| (i % 3 + 1) as f64).collect();
    let cai = mat_v5(&[("fea", 12, 3, &fea), ("gnd", 12, 1, &gnd)]);
    std::fs::write(dir.path().join("cai.mat"), cai).unwrap();
    let out = run(dir.path(), &["new", "cai", "cai.mat"]);
    assert!(out.ok, "{}", out.stderr);
    assert_printed(&out, "12 rows of 3 features, 3 classes");
    let pipeline = read(dir.path(), "pipelines/cai.toml");
    assert_eq!(pipeline["prepare"]["label_column"].as_str(), Some("gnd"));
    assert_eq!(pipeline["cluster"]["n_clusters"].as_integer(), Some(3));

    // SSC's layout: `Y`, one sample a column (3×12), and `s`, a row of labels: `Y` is no
    // vector, so no label by name; `s` is found as the one vector a value a sample, and the
    // samples are read as columns.
    let fea = &fea;
    let y: Vec<f64> = (0..3)
        .flat_map(|j| (0..12).map(move |i| fea[i * 3 + j]))
        .collect();
    let ssc = mat_v5(&[("Y", 3, 12, &y), ("s", 1, 12, &gnd)]);
    std::fs::write(dir.path().join("ssc.mat"), ssc).unwrap();
    let out = run(dir.path(), &["new", "ssc", "ssc.mat"]);
    assert!(out.ok, "{}", out.stderr);
    assert_printed(&out, "12 rows of 3 features, 3 classes");
    assert_printed(
        &out,
        "\"s\" holds one value a sample: read as the labels, 3 classes",
    );
    let pipeline = read(dir.path(), "pipelines/ssc.toml");
    assert_eq!(pipeline["prepare"]["label_column"].as_str(), Some("s"));
    // labels=none leaves the matrix one sample a row.
    let out = run(dir.path(), &["new", "ssc2", "ssc.mat", "labels=none"]);
    assert!(out.ok, "{}", out.stderr);
    assert_printed(&out, "3 rows of 12 features, no labels");
}

#[test]
fn labels_saved_apart_are_found_beside_the_samples() {
    use ebsc_test_support::numpy::npy;
    let dir = tempfile::tempdir().unwrap();
    // np.save("X.npy", X.T.T) (Fortran order, as a transposed array saves) and
    // np.save("y.npy", y): 12 samples of 2 features in 3 classes.
    let columns: Vec<u8> = (0..24)
        .flat_map(|i| ((i % 12) as f32 * 0.5 + (i / 12) as f32).to_le_bytes())
        .collect();
    let labels: Vec<u8> = (0..12)
        .flat_map(|i| ((i % 3) as i64).to_le_bytes())
        .collect();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("X.npy"), npy("<f4", true, "(12, 2)", &columns)).unwrap();
    std::fs::write(data.join("y.npy"), npy("<i8", false, "(12,)", &labels)).unwrap();
    // The folder, or the samples' file: the labels beside them either way.
    for (name, path) in [("folder", "data"), ("file", "data/X.npy")] {
        let out = run(dir.path(), &["new", name, path]);
        assert!(out.ok, "{}", out.stderr);
        assert_printed(&out, "12 rows of 2 features, 3 classes");
        assert_printed(&out, "new: labels: data/y.npy beside the samples");
        let pipeline = read(dir.path(), &format!("pipelines/{name}.toml"));
        assert_eq!(pipeline["prepare"]["path"].as_str(), Some("data/X.npy"));
        assert_eq!(
            pipeline["prepare"]["labels_path"].as_str(),
            Some("data/y.npy")
        );
    }
    let out = run(dir.path(), &["new", "bare", "data/X.npy", "labels=none"]);
    assert!(out.ok, "{}", out.stderr);
    assert_printed(&out, "12 rows of 2 features, no labels");
    // One .npy file a class (QuickDraw's layout): classes by file name.
    let drawings = dir.path().join("drawings");
    std::fs::create_dir_all(&drawings).unwrap();
    for (i, class) in ["cat", "dog", "fish"].iter().enumerate() {
        let rows: Vec<u8> = (0..8).map(|v| (v * 10 + i) as u8).collect();
        std::fs::write(
            drawings.join(format!("{class}.npy")),
            npy("|u1", false, "(4, 2)", &rows),
        )
        .unwrap();
    }
    let out = run(dir.path(), &["new", "drawings", "drawings"]);
    assert!(out.ok, "{}", out.stderr);
    assert_printed(
        &out,
        "feature table drawings: 12 rows of 2 features, 3 classes",
    );
    assert_printed(&out, "new: labels: 3 .npy files, one class each");
    let pipeline = read(dir.path(), "pipelines/drawings.toml");
    assert_eq!(
        pipeline["prepare"]["class_files"].as_array().map(Vec::len),
        Some(3)
    );
    // scikit-learn's Olivetti layout: faces as floats in [0, 1] beside `<name>_target.npy`.
    let faces = dir.path().join("faces");
    std::fs::create_dir_all(&faces).unwrap();
    let pixels: Vec<u8> = (0..12 * 16)
        .flat_map(|i| ((i % 251) as f32 / 255.0).to_le_bytes())
        .collect();
    std::fs::write(
        faces.join("olivetti_faces.npy"),
        npy("<f4", false, "(12, 4, 4)", &pixels),
    )
    .unwrap();
    std::fs::write(
        faces.join("olivetti_faces_target.npy"),
        npy("<i8", false, "(12,)", &labels),
    )
    .unwrap();
    let out = run(dir.path(), &["new", "faces", "faces"]);
    assert!(out.ok, "{}", out.stderr);
    assert_printed(&out, "12 images 1×4×4, 3 classes");
    assert_printed(
        &out,
        "new: labels: faces/olivetti_faces_target.npy beside the samples",
    );
    // Labels of another length are not these samples'.
    std::fs::write(data.join("y.npy"), npy("<i8", false, "(3,)", &labels[..24])).unwrap();
    let out = run(dir.path(), &["new", "other", "data/X.npy"]);
    assert!(out.ok, "{}", out.stderr);
    assert_printed(&out, "no labels");
}

#[test]
fn labels_saved_apart_as_text_are_found_beside_the_samples() {
    let dir = tempfile::tempdir().unwrap();
    // np.savetxt("X.csv", X, delimiter=","), np.savetxt("y.txt", y): 9 samples of 3
    // features in 3 classes. The header-less table's last column would read as labels
    // by itself (consecutive integers); the file beside it gives them instead.
    let rows: Vec<String> = (0..9)
        .map(|i| format!("{}.5,{}.25,{}", i, i * 2, i % 3))
        .collect();
    let floats: Vec<String> = (0..9)
        .map(|i| format!("{}.000000000000000000e+00", 2 - i % 3))
        .collect();
    let plain = dir.path().join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    std::fs::write(plain.join("X.csv"), rows.join("\n") + "\n").unwrap();
    std::fs::write(plain.join("y.txt"), floats.join("\n") + "\n").unwrap();
    // A header on each (pandas' to_csv of a frame and of a series), class names.
    let headed = dir.path().join("headed");
    std::fs::create_dir_all(&headed).unwrap();
    let table = format!("a,b,c\n{}\n", rows.join("\n"));
    std::fs::write(headed.join("features.csv"), table).unwrap();
    let names: Vec<&str> = (0..9)
        .map(|i| ["coat", "bag", "Ankle boot"][i % 3])
        .collect();
    let names = format!("label\n{}\n", names.join("\n"));
    std::fs::write(headed.join("labels.csv"), names).unwrap();
    for (name, path, samples, labels) in [
        ("plain", "plain", "plain/X.csv", "plain/y.txt"),
        ("plain-file", "plain/X.csv", "plain/X.csv", "plain/y.txt"),
        (
            "headed",
            "headed",
            "headed/features.csv",
            "headed/labels.csv",
        ),
    ] {
        let out = run(dir.path(), &["new", name, path]);
        assert!(out.ok, "{}", out.stderr);
        assert_printed(&out, "9 rows of 3 features, 3 classes");
        assert_printed(
            &out,
            &format!("new: labels: {labels} beside the samples (labels_path"),
        );
        let pipeline = read(dir.path(), &format!("pipelines/{name}.toml"));
        assert_eq!(pipeline["prepare"]["path"].as_str(), Some(samples));
        assert_eq!(pipeline["prepare"]["labels_path"].as_str(), Some(labels));
        assert!(pipeline["prepare"].get("label_column").is_none());
    }
    // labels=none: the header-less table alone, its last column a feature.
    let out = run(dir.path(), &["new", "bare", "plain/X.csv", "labels=none"]);
    assert!(out.ok, "{}", out.stderr);
    assert_printed(&out, "9 rows of 3 features, no labels");
}

/// `count` 6×4 gray PNGs at `root/<relative>` for each relative path.
fn write_pngs(root: &Path, relative: &[String]) {
    for (i, path) in relative.iter().enumerate() {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        image::GrayImage::from_fn(6, 4, |x, y| {
            image::Luma([(i * 7 + x as usize * 30 + y as usize) as u8])
        })
        .save(path)
        .unwrap();
    }
}

#[test]
fn a_folder_of_unlabelled_images_gets_auto_and_labels_none() {
    let dir = tempfile::tempdir().unwrap();
    // Most images in the folder itself, a few in a subfolder that is no class.
    let mut files: Vec<String> = (0..27).map(|i| format!("img_{i:02}.png")).collect();
    files.extend((0..3).map(|i| format!("2024/march/extra_{i}.png")));
    write_pngs(&dir.path().join("photos"), &files);
    let out = run(dir.path(), &["new", "photos", "photos"]);
    assert!(out.ok, "{}", out.stderr);
    assert_printed(&out, "30 images 1×4×6, no labels");
    assert_printed(
        &out,
        "new: no labels, 30 images (images sit directly in the folder, e.g. img_00.png): every image is one sample (labels = \"none\" written)",
    );
    assert_printed(&out, "n_clusters = \"auto\"");
    let pipeline = read(dir.path(), "pipelines/photos.toml");
    assert_eq!(pipeline["prepare"]["source"].as_str(), Some("image-folder"));
    assert_eq!(pipeline["prepare"]["labels"].as_str(), Some("none"));
    assert_eq!(pipeline["cluster"]["n_clusters"].as_str(), Some("auto"));

    // Class subfolders are classes, and `new` says how to read them otherwise.
    let classes: Vec<String> = (0..12)
        .map(|i| format!("{}/{i}.png", ["a", "b", "c"][i % 3]))
        .collect();
    write_pngs(&dir.path().join("sorted"), &classes);
    let out = run(dir.path(), &["new", "sorted", "sorted"]);
    assert!(out.ok, "{}", out.stderr);
    assert_printed(
        &out,
        "new: labels: 3 class subfolders (a, b, c); if the subfolders are not classes, pass labels=none",
    );
    let pipeline = read(dir.path(), "pipelines/sorted.toml");
    assert_eq!(pipeline["cluster"]["n_clusters"].as_integer(), Some(3));
    assert!(pipeline["prepare"].get("labels").is_none());
    // labels=none: the same folders are only places.
    let out = run(dir.path(), &["new", "places", "sorted", "labels=none"]);
    assert!(out.ok, "{}", out.stderr);
    let pipeline = read(dir.path(), "pipelines/places.toml");
    assert_eq!(pipeline["prepare"]["labels"].as_str(), Some("none"));
    assert_eq!(pipeline["cluster"]["n_clusters"].as_str(), Some("auto"));

    // labels=folders is for image folders (labels=none for tables too), and labels= takes
    // two values.
    write_csv(&dir.path().join("t.csv"), 12, "label");
    let out = run(dir.path(), &["new", "t", "t.csv", "labels=folders"]);
    assert!(
        error(&out).contains("labels=folders is for image folders"),
        "{}",
        out.stderr
    );
    let out = run(dir.path(), &["new", "x", "sorted", "labels=maybe"]);
    assert!(
        error(&out).contains(
            "\"labels=maybe\": expected none (the subfolders are not classes), folders (they are), names (the file names up to their first '.' or closing number are) or split-folders"
        ),
        "{}",
        out.stderr
    );
}

#[test]
fn a_folder_of_split_tables_is_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    // Kaggle's layout: mnist_train.csv and mnist_test.csv, a label column in each.
    let data = dir.path().join("kaggle");
    std::fs::create_dir_all(&data).unwrap();
    write_csv(&data.join("mnist_train.csv"), 12, "label");
    write_csv(&data.join("mnist_test.csv"), 6, "label");
    let out = run(dir.path(), &["new", "both", "kaggle"]);
    assert!(out.ok, "{}", out.stderr);
    assert_printed(&out, "18 rows of 3 features, 3 classes");
    assert_printed(
        &out,
        "new: 2 tables of splits, read one after another, each sample's split its file's name (prepare.splits=[\"mnist_test\"] keeps one",
    );
    let pipeline = read(dir.path(), "pipelines/both.toml");
    assert_eq!(pipeline["prepare"]["label_column"].as_str(), Some("label"));
    assert_eq!(
        pipeline["prepare"]["split_files"].as_array().map(Vec::len),
        Some(2)
    );
    let out = run(
        dir.path(),
        &["new", "test", "kaggle", "prepare.splits=[\"mnist_test\"]"],
    );
    assert!(out.ok, "{}", out.stderr);
    assert_printed(&out, "6 rows of 3 features, 3 classes");
    // NumPy's layout: X_train.npy and X_test.npy, each with its labels beside it.
    use ebsc_test_support::numpy::npy;
    let arrays = dir.path().join("arrays");
    std::fs::create_dir_all(&arrays).unwrap();
    for (split, rows) in [("train", 9usize), ("test", 6)] {
        let samples: Vec<u8> = (0..rows * 2)
            .flat_map(|i| (i as f32 * 0.25).to_le_bytes())
            .collect();
        let labels: Vec<u8> = (0..rows)
            .flat_map(|i| ((i % 3) as i64).to_le_bytes())
            .collect();
        let shape = format!("({rows}, 2)");
        std::fs::write(
            arrays.join(format!("X_{split}.npy")),
            npy("<f4", false, &shape, &samples),
        )
        .unwrap();
        std::fs::write(
            arrays.join(format!("y_{split}.npy")),
            npy("<i8", false, &format!("({rows},)"), &labels),
        )
        .unwrap();
    }
    let out = run(dir.path(), &["new", "arrays", "arrays"]);
    assert!(out.ok, "{}", out.stderr);
    assert_printed(&out, "15 rows of 2 features, 3 classes");
    assert_printed(
        &out,
        "new: 2 tables of splits, each with its labels beside it (y_test.npy, y_train.npy)",
    );
    let pipeline = read(dir.path(), "pipelines/arrays.toml");
    assert_eq!(
        pipeline["prepare"]["split_labels"].as_array().map(Vec::len),
        Some(2)
    );
    // Tables not named as splits are still a choice for the user.
    write_csv(&data.join("extra.csv"), 6, "label");
    let out = run(dir.path(), &["new", "three", "kaggle"]);
    assert!(
        error(&out).contains("holds 3 tables (extra.csv, mnist_test.csv, mnist_train.csv)"),
        "{}",
        out.stderr
    );
}

/// A Parquet file as Hugging Face datasets write an image set: an `image` column of
/// `{bytes, path}` structs holding 6×6 gray PNGs, and a `label` column cycling through 3
/// classes.
fn write_image_parquet(path: &Path, rows: usize) {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, BinaryArray, Int64Array, RecordBatch, StringArray, StructArray};
    use arrow_schema::{DataType, Field};
    let pngs: Vec<Vec<u8>> = (0..rows)
        .map(|i| {
            ebsc_test_support::images::png(&image::DynamicImage::ImageLuma8(
                image::GrayImage::from_fn(6, 6, |x, y| {
                    image::Luma([((i * 37 + (y * 6 + x) as usize * (i % 3 + 1)) % 256) as u8])
                }),
            ))
        })
        .collect();
    let images = StructArray::from(vec![
        (
            Arc::new(Field::new("bytes", DataType::Binary, true)),
            Arc::new(BinaryArray::from_iter_values(pngs)) as ArrayRef,
        ),
        (
            Arc::new(Field::new("path", DataType::Utf8, true)),
            Arc::new(StringArray::from(vec![None::<&str>; rows])) as ArrayRef,
        ),
    ]);
    let labels = Int64Array::from_iter_values((0..rows as i64).map(|i| i % 3));
    let batch = RecordBatch::try_from_iter([
        ("image", Arc::new(images) as ArrayRef),
        ("label", Arc::new(labels) as ArrayRef),
    ])
    .unwrap();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let file = std::fs::File::create(path).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

#[test]
fn a_dataset_hubs_parquet_files_of_images_are_read_as_images_in_their_splits() {
    let dir = tempfile::tempdir().unwrap();
    // A snapshot of a dataset repository: a README beside the folder of Parquet files,
    // the train split cut in two shards.
    let hub = dir.path().join("hub");
    std::fs::create_dir_all(&hub).unwrap();
    std::fs::write(hub.join("README.md"), "# images\n").unwrap();
    write_image_parquet(&hub.join("data/train-00000-of-00002.parquet"), 12);
    write_image_parquet(&hub.join("data/train-00001-of-00002.parquet"), 9);
    write_image_parquet(&hub.join("data/test-00000-of-00001.parquet"), 6);
    let out = run(dir.path(), &["new", "hub", "hub"]);
    assert!(out.ok, "{}", out.stderr);
    assert_printed(&out, "27 images 1×6×6, 3 classes");
    assert_printed(
        &out,
        "new: 3 tables of splits, read one after another, each sample's split its file's name (prepare.splits=[\"test\"] keeps one",
    );
    let pipeline = read(dir.path(), "pipelines/hub.toml");
    assert_eq!(pipeline["prepare"]["path"].as_str(), Some("hub/data"));
    assert_eq!(pipeline["prepare"]["label_column"].as_str(), Some("label"));
    assert_eq!(
        pipeline["prepare"]["split_files"].as_array().map(Vec::len),
        Some(3)
    );
    // The shards of one split are one split.
    let out = run(
        dir.path(),
        &["new", "train", "hub", "prepare.splits=[\"train\"]"],
    );
    assert!(out.ok, "{}", out.stderr);
    assert_printed(&out, "21 images 1×6×6, 3 classes");
    // One file alone.
    let out = run(
        dir.path(),
        &["new", "one", "hub/data/test-00000-of-00001.parquet"],
    );
    assert!(out.ok, "{}", out.stderr);
    assert_printed(
        &out,
        "image array hub/data/test-00000-of-00001.parquet: 6 images 1×6×6, 3 classes",
    );
}

#[test]
fn one_table_a_class_is_read_with_the_files_names_as_classes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("classes");
    std::fs::create_dir_all(&data).unwrap();
    for (k, class) in ["ant", "bee", "cow"].iter().enumerate() {
        let rows: String = (0..4 + k)
            .map(|i| format!("{},{},{}\n", i + k, 2 * i + 1, (i * k) % 5))
            .collect();
        std::fs::write(data.join(format!("{class}.csv")), rows).unwrap();
    }
    let out = run(dir.path(), &["new", "classes", "classes"]);
    assert!(out.ok, "{}", out.stderr);
    assert_printed(&out, "15 rows of 3 features, 3 classes");
    assert_printed(
        &out,
        "new: labels: 3 .csv files, one class each, named by their files",
    );
    let pipeline = read(dir.path(), "pipelines/classes.toml");
    assert_eq!(pipeline["prepare"]["header"].as_bool(), Some(false));
    assert_eq!(
        pipeline["prepare"]["class_files"].as_array().map(Vec::len),
        Some(3)
    );
    // Tables of other widths are not one set: the user names the one to read.
    std::fs::write(data.join("dog.csv"), "1,2\n3,4\n").unwrap();
    let out = run(dir.path(), &["new", "four", "classes"]);
    assert!(error(&out).contains("holds 4 tables"), "{}", out.stderr);
}

#[test]
fn an_archive_is_unpacked_beside_it_and_its_folder_read() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    // A zip of class folders of images, as a download comes, one folder at its top.
    let staging = dir.path().join("staging");
    let names: Vec<String> = (0..12)
        .map(|i| format!("shapes/{}/{i}.png", ["circle", "square", "star"][i % 3]))
        .collect();
    write_pngs(&staging, &names);
    let archive = dir.path().join("shapes.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&archive).unwrap());
    for name in &names {
        zip.start_file(name.as_str(), zip::write::FileOptions::default())
            .unwrap();
        zip.write_all(&std::fs::read(staging.join(name)).unwrap())
            .unwrap();
    }
    zip.finish().unwrap();
    let out = run(dir.path(), &["new", "shapes", "shapes.zip"]);
    assert!(out.ok, "{}", out.stderr);
    assert_printed(
        &out,
        "new: unpacked shapes.zip into shapes (12 files); the pipeline reads that folder",
    );
    assert_printed(
        &out,
        "image folder shapes/shapes: 12 images 1×4×6, 3 classes",
    );
    let pipeline = read(dir.path(), "pipelines/shapes.toml");
    assert_eq!(pipeline["prepare"]["path"].as_str(), Some("shapes/shapes"));
    // Again: the folder is read as it is.
    let out = run(dir.path(), &["new", "again", "shapes.zip"]);
    assert!(out.ok, "{}", out.stderr);
    assert_printed(
        &out,
        "new: shapes is there beside shapes.zip: read as it is",
    );
    // A broken archive: one error line naming it, and no folder left behind.
    std::fs::write(dir.path().join("broken.zip"), b"PK but not a zip").unwrap();
    let out = run(dir.path(), &["new", "broken", "broken.zip"]);
    assert!(error(&out).contains("broken.zip"), "{}", out.stderr);
    assert!(!dir.path().join("broken").exists());
}

#[test]
fn split_folders_of_class_folders_are_read_as_classes() {
    let dir = tempfile::tempdir().unwrap();
    // mnist_png's layout: training/<digit>/*.png and testing/<digit>/*.png.
    let files: Vec<String> = (0..12)
        .map(|i| format!("{}/{}/{i}.png", ["training", "testing"][i % 2], i % 3))
        .collect();
    write_pngs(&dir.path().join("mnist_png"), &files);
    let out = run(dir.path(), &["new", "digits", "mnist_png"]);
    assert!(out.ok, "{}", out.stderr);
    assert_printed(&out, "12 images 1×4×6, 3 classes");
    assert_printed(
        &out,
        "new: labels: 3 class subfolders in 2 split folders (testing, training) (0, 1, 2) (labels = \"split-folders\" written",
    );
    let pipeline = read(dir.path(), "pipelines/digits.toml");
    assert_eq!(
        pipeline["prepare"]["labels"].as_str(),
        Some("split-folders")
    );
    assert_eq!(pipeline["cluster"]["n_clusters"].as_integer(), Some(3));
    // One split kept, as for any source with splits.
    let out = run(
        dir.path(),
        &[
            "new",
            "test-only",
            "mnist_png",
            "prepare.splits=[\"testing\"]",
        ],
    );
    assert!(out.ok, "{}", out.stderr);
    assert_printed(&out, "6 images 1×4×6, 3 classes");
    // labels=none: every image a sample, no classes.
    let out = run(dir.path(), &["new", "bare", "mnist_png", "labels=none"]);
    assert!(out.ok, "{}", out.stderr);
    assert_printed(&out, "12 images 1×4×6, no labels");
}

#[test]
fn images_with_their_labels_in_a_csv_beside_them_are_read_with_them() {
    let dir = tempfile::tempdir().unwrap();
    // Kaggle's layout: data/train/<id>.png, data/train.csv of id,label, and a test.csv of
    // ids alone beside it.
    let files: Vec<String> = (0..12).map(|i| format!("train/{i:04}.png")).collect();
    write_pngs(&dir.path().join("data"), &files);
    let rows: Vec<String> = (0..12)
        .map(|i| format!("{i:04},{}", ["a", "b", "c"][i % 3]))
        .collect();
    std::fs::write(
        dir.path().join("data/train.csv"),
        format!("id,label\n{}\n", rows.join("\n")),
    )
    .unwrap();
    std::fs::write(dir.path().join("data/test.csv"), "id\n0100\n").unwrap();
    // The folder holding both, the images' folder with the CSV beside it, or the CSV.
    for (name, path) in [
        ("both", "data"),
        ("images", "data/train"),
        ("csv", "data/train.csv"),
    ] {
        let out = run(dir.path(), &["new", name, path]);
        assert!(out.ok, "{}", out.stderr);
        assert_printed(&out, "12 images 1×4×6, 3 classes");
        assert_printed(
            &out,
            "new: labels: 3 classes from the labels file (a, b, c) (data/train.csv",
        );
        let pipeline = read(dir.path(), &format!("pipelines/{name}.toml"));
        assert_eq!(
            pipeline["prepare"]["labels_file"].as_str(),
            Some("data/train.csv")
        );
        let folder = if name == "csv" { "data/train" } else { path };
        assert_eq!(pipeline["prepare"]["path"].as_str(), Some(folder));
        assert_eq!(pipeline["cluster"]["n_clusters"].as_integer(), Some(3));
    }
    // labels=none: no labels file.
    let out = run(dir.path(), &["new", "bare", "data/train", "labels=none"]);
    assert!(out.ok, "{}", out.stderr);
    assert_printed(&out, "12 images 1×4×6, no labels");
    // A CSV of image file names in the images' own folder, given as the data.
    let files: Vec<String> = (0..9).map(|i| format!("img_{i}.png")).collect();
    write_pngs(&dir.path().join("flat"), &files);
    let rows: Vec<String> = (0..9)
        .map(|i| format!("img_{i}.png,{}", ["u", "v", "w"][i % 3]))
        .collect();
    std::fs::write(
        dir.path().join("flat/labels.csv"),
        format!("filename,label\n{}\n", rows.join("\n")),
    )
    .unwrap();
    let out = run(dir.path(), &["new", "flat", "flat/labels.csv"]);
    assert!(out.ok, "{}", out.stderr);
    assert_printed(&out, "9 images 1×4×6, 3 classes");
    let pipeline = read(dir.path(), "pipelines/flat.toml");
    assert_eq!(pipeline["prepare"]["path"].as_str(), Some("flat"));
}

#[test]
fn large_or_mixed_images_get_a_resize_and_a_given_one_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let write = |folder: &str, sizes: &[(u32, u32)]| {
        for (i, &(width, height)) in sizes.iter().enumerate() {
            let path = dir
                .path()
                .join(folder)
                .join(format!("{}/{i}.png", ["a", "b"][i % 2]));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            image::GrayImage::from_fn(width, height, |x, y| {
                image::Luma([(x + y + i as u32) as u8])
            })
            .save(path)
            .unwrap();
        }
    };
    // Photos of 92×112 (ORL's size): scaled to fit 64 pixels, keeping their aspect.
    write("large", &[(92, 112); 4]);
    let out = run(dir.path(), &["new", "large", "large"]);
    assert!(out.ok, "{}", out.stderr);
    assert_printed(
        &out,
        "the images differ in size or are larger than 64 pixels: resize = [64, 53]",
    );
    let pipeline = read(dir.path(), "pipelines/large.toml");
    let resize = |p: &toml::Table| -> Option<Vec<i64>> {
        let values = p["prepare"].get("resize")?.as_array()?;
        Some(values.iter().filter_map(toml::Value::as_integer).collect())
    };
    assert_eq!(resize(&pipeline), Some(vec![64, 53]));
    // Small images of two sizes: the median size (sorted by area, the upper middle one).
    write("mixed", &[(20, 20), (24, 24), (24, 24), (28, 28)]);
    let out = run(dir.path(), &["new", "mixed", "mixed"]);
    assert!(out.ok, "{}", out.stderr);
    assert_eq!(
        resize(&read(dir.path(), "pipelines/mixed.toml")),
        Some(vec![24, 24])
    );
    // One small size: nothing to write; a size the user gives is kept as given.
    write("small", &[(16, 16); 4]);
    let out = run(dir.path(), &["new", "small", "small"]);
    assert!(out.ok, "{}", out.stderr);
    assert_eq!(resize(&read(dir.path(), "pipelines/small.toml")), None);
    let out = run(dir.path(), &["new", "given", "large", "resize=[32,32]"]);
    assert!(out.ok, "{}", out.stderr);
    assert_eq!(
        resize(&read(dir.path(), "pipelines/given.toml")),
        Some(vec![32, 32])
    );
}

#[test]
fn a_flat_folder_named_by_class_reads_its_classes_from_the_names() {
    let dir = tempfile::tempdir().unwrap();
    // Yale's layout: GIF files without an image extension, `subjectNN.<condition>`, beside
    // a Readme.txt.
    let faces = dir.path().join("yalefaces");
    std::fs::create_dir_all(&faces).unwrap();
    for (i, subject) in ["subject01", "subject02", "subject03"].iter().enumerate() {
        for (j, condition) in ["happy", "sad", "glasses", "noglasses"].iter().enumerate() {
            image::RgbImage::from_fn(6, 4, |x, y| {
                let v = (i * 60 + j * 7 + x as usize + y as usize) as u8;
                image::Rgb([v, v, v])
            })
            .save_with_format(
                faces.join(format!("{subject}.{condition}")),
                image::ImageFormat::Gif,
            )
            .unwrap();
        }
    }
    std::fs::write(faces.join("Readme.txt"), "The Yale face database.\n").unwrap();
    // And, as in Yale's archive, one image named by its class alone.
    std::fs::copy(faces.join("subject01.happy"), faces.join("subject01.gif")).unwrap();
    let out = run(dir.path(), &["new", "yale", "yalefaces"]);
    assert!(out.ok, "{}", out.stderr);
    assert_printed(&out, "13 images 1×4×6, 3 classes");
    assert_printed(
        &out,
        "new: labels: 3 classes by the file names up to their first '.' or closing number (subject01, subject02, subject03) (labels = \"names\" written; labels=none reads the images without labels)",
    );
    let pipeline = read(dir.path(), "pipelines/yale.toml");
    assert_eq!(pipeline["prepare"]["labels"].as_str(), Some("names"));
    assert_eq!(pipeline["cluster"]["n_clusters"].as_integer(), Some(3));
    // labels=none keeps them unlabelled; names that hold no class (img_00.png) stay so.
    let out = run(dir.path(), &["new", "yale2", "yalefaces", "labels=none"]);
    assert!(out.ok, "{}", out.stderr);
    assert_printed(&out, "13 images 1×4×6, no labels");
    let files: Vec<String> = (0..12).map(|i| format!("img_{i:02}.png")).collect();
    write_pngs(&dir.path().join("plain"), &files);
    let out = run(dir.path(), &["new", "plain", "plain"]);
    assert!(out.ok, "{}", out.stderr);
    assert_printed(&out, "no labels");
    // COIL-20's layout: `obj<k>__<pose>.png`, the class before the closing number.
    let files: Vec<String> = (0..12)
        .map(|i| format!("obj{}__{}.png", i % 3 + 1, i / 3))
        .collect();
    write_pngs(&dir.path().join("coil"), &files);
    let out = run(dir.path(), &["new", "coil", "coil"]);
    assert!(out.ok, "{}", out.stderr);
    assert_printed(
        &out,
        "3 classes by the file names up to their first '.' or closing number (obj1, obj2, obj3)",
    );
}

#[test]
fn bad_arguments_are_named() {
    let dir = tempfile::tempdir().unwrap();
    write_csv(&dir.path().join("t.csv"), 12, "label");
    let cases: [(&[&str], &str); 6] = [
        (&["new", "t", "missing"], "missing: not found"),
        (&["new", "t", "t.csv", "epochs=3"], "unknown key \"epochs\""),
        (
            &["new", "t", "t.csv", "n_clusters=1"],
            "an integer of at least 2",
        ),
        (
            &["new", "t", "t.csv", "template=huge"],
            "expected one of small-images, images, features",
        ),
        (
            &["new", "t", "t.csv", "template=images"],
            "use template=features",
        ),
        (&["new", "../t", "t.csv"], "is not a pipeline name"),
    ];
    for (args, expected) in cases {
        let out = run(dir.path(), args);
        assert!(error(&out).contains(expected), "{args:?}: {}", out.stderr);
    }
    let none = std::fs::read_dir(dir.path().join("pipelines")).map_or(0, |d| d.count());
    assert_eq!(none, 0, "no pipeline file is written on an error");
}

#[test]
fn show_prints_the_merged_settings() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("pipelines")).unwrap();
    std::fs::write(
        dir.path().join("pipelines/base.toml"),
        "[pipeline]\nseed = 1\n[cluster]\nn_clusters = 5\nkmeans_restarts = 3\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("pipelines/child.toml"),
        "extends = \"base\"\n[cluster]\nn_clusters = 7\n",
    )
    .unwrap();
    let out = run(dir.path(), &["show", "child"]);
    assert!(out.ok, "{}", out.stderr);
    let shown: toml::Table = out.stdout.parse().unwrap();
    assert_eq!(shown["cluster"]["n_clusters"].as_integer(), Some(7));
    assert_eq!(shown["cluster"]["kmeans_restarts"].as_integer(), Some(3));
    assert_eq!(shown["pipeline"]["seed"].as_integer(), Some(1));
    let out = run(dir.path(), &["show", "nope"]);
    assert!(error(&out).contains("nope.toml"), "{}", out.stderr);
}

#[test]
fn clusters_names_what_it_needs_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    write_pngs(
        &dir.path().join("photos"),
        &["a.png".to_string(), "b.png".to_string()],
    );
    assert!(run(dir.path(), &["new", "photos", "photos"]).ok);
    // Before `just run`: nothing to export.
    let out = run(dir.path(), &["clusters", "photos", "sorted"]);
    assert!(
        error(&out).ends_with(
            "data/runs/photos/cluster/manifest.json: the cluster stage of photos has not completed; run `just run photos` first"
        ),
        "{}",
        out.stderr
    );
    assert!(!dir.path().join("sorted").exists());
    // A table: the assignments are the answer.
    write_csv(&dir.path().join("t.csv"), 12, "label");
    assert!(run(dir.path(), &["new", "t", "t.csv"]).ok);
    let out = run(dir.path(), &["clusters", "t", "sorted", "--copy"]);
    assert!(
        error(&out).contains("is not an image folder, so there are no files to sort into folders; each sample's cluster is in data/runs/t/cluster/assignments.parquet"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_reader_that_stops_reading_is_no_error() {
    // `ebsc-pipeline show iris | head -1`: the pipe's read end closes before the settings
    // are written; the program ends quietly and successfully instead of panicking.
    let dir = tempfile::tempdir().unwrap();
    write_csv(&dir.path().join("iris.csv"), 30, "label");
    assert!(run(dir.path(), &["new", "iris", "iris.csv"]).ok);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ebsc-pipeline"))
        .current_dir(dir.path())
        .args(["show", "iris"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(stderr, "");
}
