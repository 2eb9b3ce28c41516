#![allow(missing_docs)] // criterion_group! generates undocumented functions.
//! Encode and decode of an append-entries message of 64 entries of 128-byte
//! payloads (see BENCHMARKS.md).

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use raft_sansio_benches::append_entries_message;
use raft_sansio_proto::codec::{encode, encoded_len, Decoder};

fn codec(c: &mut Criterion) {
    let message = append_entries_message(64, 128);
    let frame_len = encoded_len(&message);
    let mut group = c.benchmark_group("codec/append_entries_64x128");
    group.throughput(Throughput::Bytes(frame_len as u64));

    let mut buf = BytesMut::with_capacity(frame_len);
    group.bench_function("encode", |b| {
        b.iter(|| {
            buf.clear();
            encode(criterion::black_box(&message), &mut buf);
            criterion::black_box(buf.len())
        })
    });

    let mut wire = BytesMut::new();
    encode(&message, &mut wire);
    let wire = wire.freeze();
    let decoder = Decoder::default();
    group.bench_function("decode", |b| {
        b.iter(|| {
            let mut input = wire.clone();
            let decoded = decoder.decode(criterion::black_box(&mut input)).expect("valid frame");
            criterion::black_box(decoded)
        })
    });
    group.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
