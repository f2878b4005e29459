//! Fails the build early, with the fix, when the third-party browser files
//! that `http::assets` embeds (web/vendor/node_modules, installed by
//! `scripts/deps.sh` from the committed package-lock.json) are missing.

use std::path::Path;

const REQUIRED: &[&str] = &[
    "web/vendor/node_modules/@mediapipe/selfie_segmentation/selfie_segmentation.js",
    "web/vendor/node_modules/@mediapipe/selfie_segmentation/selfie_segmentation_landscape.tflite",
    "web/vendor/node_modules/@mediapipe/selfie_segmentation/selfie_segmentation_solution_simd_wasm_bin.wasm",
    "web/vendor/node_modules/@mediapipe/selfie_segmentation/LICENSE",
];

fn main() {
    println!("cargo:rerun-if-changed=web/vendor/package-lock.json");
    for file in REQUIRED {
        println!("cargo:rerun-if-changed={file}");
        if !Path::new(file).is_file() {
            panic!(
                "\n\n{file} is missing: the browser's person-segmentation package is not installed.\n\
                 Run `scripts/deps.sh build` (it runs `npm ci` in web/vendor and puts the licence beside the package).\n\n"
            );
        }
    }
}
