//! Generated protocol types and gRPC stubs (package `lv.v1`, from `proto/lv.proto`).

tonic::include_proto!("lv.v1");
