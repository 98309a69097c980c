//! Links this package's binaries and tests so that they find libtorch without
//! LD_LIBRARY_PATH: an rpath to `$LIBTORCH/lib` (LIBTORCH comes from .cargo/config.toml,
//! pointing at the venv that `just setup` creates). libtorch_cuda is linked with
//! --no-as-needed: nothing references it by symbol, so the linker would otherwise drop it
//! and CUDA would never be available on a GPU machine.
//!
//! Cargo applies link arguments only to the package whose build script emits them, so every
//! package that links tch into an executable names this file as its `build` script
//! (ebsc-pretrain, ebsc-train, ebsc-affinity, ebsc-assign and the end-to-end tests). The
//! end-to-end tests run every tensor stage with `--device cpu`, so they skip libtorch_cuda:
//! loading it and the CUDA libraries it pulls in costs each of the hundreds of stage
//! processes the fault tests start about 0.5 s and 350 MB.

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    let Ok(libtorch) = std::env::var("LIBTORCH") else {
        return;
    };
    let lib = Path::new(&libtorch).join("lib");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    let cpu_only = std::env::var("CARGO_PKG_NAME").as_deref() == Ok("ebsc-tests");
    if lib.join("libtorch_cuda.so").exists() && !cpu_only {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg=-ltorch_cuda");
        println!("cargo:rustc-link-arg=-Wl,--as-needed");
    }
}
