//! Generates the prost messages, the tonic client and the proto3 JSON (serde)
//! impls from ../../protos at build time, with the protoc that the
//! `protoc-bin-vendored` crate ships. Nothing generated is committed.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let protos = manifest.join("../../protos");
    let proto = protos.join("contextstore/v1/context_store.proto");
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let descriptors = out.join("contextstore_descriptor.bin");

    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // SAFETY: build scripts are single-threaded at this point.
    unsafe { std::env::set_var("PROTOC", protoc) };
    let wkt_include = protoc_bin_vendored::include_path()?;

    tonic_prost_build::configure()
        .build_server(false)
        .build_client(true)
        .file_descriptor_set_path(&descriptors)
        // Timestamp and Duration with proto3 JSON (RFC 3339 "Z", "1.5s") live in src/wkt.rs.
        .extern_path(".google.protobuf.Timestamp", "crate::wkt::Timestamp")
        .extern_path(".google.protobuf.Duration", "crate::wkt::Duration")
        .compile_protos(
            &[proto.as_path()],
            &[protos.as_path(), wkt_include.as_path()],
        )?;

    let descriptor_set = std::fs::read(&descriptors)?;
    pbjson_build::Builder::new()
        .register_descriptors(&descriptor_set)?
        .preserve_proto_field_names()
        .emit_fields()
        .build(&[".contextstore.v1"])?;

    println!("cargo:rerun-if-changed={}", proto.display());
    println!("cargo:rerun-if-changed=build.rs");
    Ok(())
}
