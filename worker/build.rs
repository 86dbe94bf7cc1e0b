//! Embeds every email template under `templates/<lang>/` (and `templates/_shared/`, what
//! every language extends) into the binary.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut entries = Vec::new();
    for lang in std::fs::read_dir(&root).expect("templates/ exists") {
        let lang = lang.expect("readable templates/").path();
        if !lang.is_dir() {
            continue;
        }
        println!("cargo:rerun-if-changed={}", lang.display());
        for file in std::fs::read_dir(&lang).expect("readable language folder") {
            let file = file.expect("readable template").path();
            let name = format!(
                "{}/{}",
                lang.file_name().unwrap().to_string_lossy(),
                file.file_name().unwrap().to_string_lossy()
            );
            entries.push((name, file.display().to_string()));
        }
    }
    entries.sort();
    let mut out = String::from("&[\n");
    for (name, path) in entries {
        writeln!(out, "    ({name:?}, include_str!({path:?})),").unwrap();
    }
    out.push_str("]\n");
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap()).join("templates.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}
