//! Links this package's binaries and tests so that they find libtorch without
//! LD_LIBRARY_PATH: an rpath to `$LIBTORCH/lib` (LIBTORCH comes from .cargo/config.toml,
//! pointing at the venv that `just setup` creates). libtorch_cuda is linked with
//! --no-as-needed: nothing references it by symbol, so the linker would otherwise drop it
//! and CUDA would never be available on a GPU machine.
//!
//! Cargo applies link arguments only to the package whose build script emits them, so every
//! package that links tch into an executable names this file as its `build` script
//! (ebsc-pretrain, ebsc-train, ebsc-affinity and the end-to-end tests).

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    let Ok(libtorch) = std::env::var("LIBTORCH") else {
        return;
    };
    let lib = Path::new(&libtorch).join("lib");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    if lib.join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg=-ltorch_cuda");
        println!("cargo:rustc-link-arg=-Wl,--as-needed");
    }
}
