//! The value encoding of every table: one format byte, then the record as
//! JSON. Records evolve by adding fields with serde defaults; a different
//! format byte means a migration must rewrite the table first.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::StoreError;

/// Format byte of the current encoding (JSON).
pub const FORMAT_JSON_V1: u8 = 1;

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    out.push(FORMAT_JSON_V1);
    serde_json::to_writer(&mut out, value).expect("records serialize to JSON");
    out
}

/// Format byte of raw bytes (an uploaded image), stored as they came.
pub const FORMAT_BLOB_V1: u8 = 2;

pub fn encode_blob(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 1);
    out.push(FORMAT_BLOB_V1);
    out.extend_from_slice(bytes);
    out
}

pub fn decode_blob(table: &'static str, bytes: &[u8]) -> Result<Vec<u8>, StoreError> {
    match bytes.split_first() {
        Some((&FORMAT_BLOB_V1, body)) => Ok(body.to_vec()),
        _ => Err(StoreError::Corrupt {
            table,
            reason: "not a stored blob".into(),
        }),
    }
}

pub fn decode<T: DeserializeOwned>(table: &'static str, bytes: &[u8]) -> Result<T, StoreError> {
    match bytes.split_first() {
        Some((&FORMAT_JSON_V1, body)) => {
            serde_json::from_slice(body).map_err(|e| StoreError::Corrupt {
                table,
                reason: e.to_string(),
            })
        }
        Some((other, _)) => Err(StoreError::Corrupt {
            table,
            reason: format!("unknown value format {other}"),
        }),
        None => Err(StoreError::Corrupt {
            table,
            reason: "empty value".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct R {
        a: u32,
        #[serde(default)]
        b: String,
    }

    #[test]
    fn round_trip_and_errors() {
        let bytes = encode(&R {
            a: 7,
            b: "x".into(),
        });
        assert_eq!(bytes[0], FORMAT_JSON_V1);
        assert_eq!(
            decode::<R>("t", &bytes).unwrap(),
            R {
                a: 7,
                b: "x".into()
            }
        );
        // An older record without `b` still reads.
        assert_eq!(
            decode::<R>("t", b"\x01{\"a\":1}").unwrap(),
            R {
                a: 1,
                b: String::new()
            }
        );
        for bad in [&b""[..], b"\x02{}", b"\x01{", b"\x01{\"a\":\"no\"}"] {
            assert!(matches!(
                decode::<R>("t", bad),
                Err(StoreError::Corrupt { .. })
            ));
        }
    }
}
