//! Bodies of the cargo-fuzz targets in `fuzz/`. They live here so that
//! `cargo test` runs them too (over generated inputs) on stable Rust.

use bytes::{Bytes, BytesMut};

use crate::codec::{encode_frame, DecodeError, Decoder, CURRENT_VERSION};

/// Target `decode`: decode frames from arbitrary bytes until the input ends
/// or an error. Must never panic; every frame that decodes must re-encode to
/// the same bytes (the encoding is canonical) and decode to the same message.
pub fn decode(data: &[u8]) {
    let decoder = Decoder::new(1 << 20);
    let mut input = Bytes::copy_from_slice(data);
    loop {
        let before = input.clone();
        match decoder.decode_frame(&mut input) {
            Ok(frame) => {
                let consumed = before.len() - input.len();
                let mut again = BytesMut::new();
                encode_frame(frame.group_id, &frame.message, &mut again);
                if frame.version == CURRENT_VERSION {
                    assert_eq!(&again[..], &before[..consumed], "re-encoding changed the bytes");
                }
                let mut again = again.freeze();
                let round = decoder.decode_frame(&mut again).expect("a re-encoded frame decodes");
                assert_eq!(round.message, frame.message);
                assert!(again.is_empty());
            }
            Err(DecodeError::Truncated { needed }) => {
                assert!(needed > 0);
                assert_eq!(input, before, "a truncated decode consumed input");
                break;
            }
            Err(_) => {
                assert_eq!(input, before, "a failed decode consumed input");
                break;
            }
        }
        if input.is_empty() {
            break;
        }
    }
}
