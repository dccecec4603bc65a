//! Generates the prost messages and the tonic client from ../../protos at
//! build time, with the protoc that the `protoc-bin-vendored` crate ships, and
//! `service.rs`: the service's methods and those the contract marks
//! `idempotency_level = NO_SIDE_EFFECTS` (the ones the client retries), read
//! from the FileDescriptorSet protoc wrote. Nothing generated is committed.

use std::fmt::Write as _;
use std::path::PathBuf;

use prost::Message;
use prost_types::FileDescriptorSet;
use prost_types::method_options::IdempotencyLevel;

const PACKAGE: &str = "contextstore.v1";
const SERVICE: &str = "ContextStoreService";

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

    // Timestamp and Duration are prost-types' (the default).
    tonic_prost_build::configure()
        .build_server(false)
        .build_client(true)
        .file_descriptor_set_path(&descriptors)
        .compile_protos(
            &[proto.as_path()],
            &[protos.as_path(), wkt_include.as_path()],
        )?;

    let set = FileDescriptorSet::decode(std::fs::read(&descriptors)?.as_slice())?;
    std::fs::write(out.join("service.rs"), service_consts(&set)?)?;

    println!("cargo:rerun-if-changed={}", proto.display());
    println!("cargo:rerun-if-changed=build.rs");
    Ok(())
}

/// `METHODS` and `RETRIED_METHODS` of the service, in the contract's order.
fn service_consts(set: &FileDescriptorSet) -> Result<String, String> {
    let service = set
        .file
        .iter()
        .filter(|f| f.package() == PACKAGE)
        .flat_map(|f| &f.service)
        .find(|s| s.name() == SERVICE)
        .ok_or(format!("no service {PACKAGE}.{SERVICE} in the descriptors"))?;
    let names = |retried_only: bool| {
        service
            .method
            .iter()
            .filter(|m| {
                !retried_only
                    || m.options
                        .as_ref()
                        .is_some_and(|o| o.idempotency_level() == IdempotencyLevel::NoSideEffects)
            })
            .map(|m| format!("{:?}, ", m.name()))
            .collect::<String>()
    };
    let mut code = String::new();
    let _ = writeln!(
        code,
        "/// Every method of `{PACKAGE}.{SERVICE}`, in the contract's order.\n\
         pub const METHODS: &[&str] = &[{}];",
        names(false)
    );
    let _ = writeln!(
        code,
        "/// The methods the contract marks `idempotency_level = NO_SIDE_EFFECTS`:\n\
         /// the reads, retried on `UNAVAILABLE`.\n\
         pub const RETRIED_METHODS: &[&str] = &[{}];",
        names(true)
    );
    Ok(code)
}
