//! The web client, embedded in the binary with rust-embed and served with
//! the right MIME type, an ETag, and gzip when the browser accepts it.

use std::collections::HashMap;
use std::io::Write;

use bytes::Bytes;
use hyper::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG, HeaderMap, IF_NONE_MATCH,
    VARY,
};
use hyper::{Response, StatusCode};
use rust_embed::Embed;

use super::response::{Resp, full};

#[derive(Embed)]
#[folder = "web/"]
struct Web;

struct Asset {
    body: Bytes,
    gzip: Option<Bytes>,
    etag: String,
    mime: String,
}

/// Every embedded file, prepared once at start-up.
pub struct Assets {
    files: HashMap<String, Asset>,
}

impl std::fmt::Debug for Assets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Assets({} files)", self.files.len())
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(data).expect("writing to memory");
    enc.finish().expect("writing to memory")
}

/// The assets, loaded (and compressed) once per process.
pub fn assets() -> &'static Assets {
    static ASSETS: std::sync::OnceLock<Assets> = std::sync::OnceLock::new();
    ASSETS.get_or_init(Assets::load)
}

impl Assets {
    pub fn load() -> Self {
        let mut files = HashMap::new();
        for path in Web::iter() {
            let file = Web::get(&path).expect("listed file exists");
            let body = Bytes::from(file.data.into_owned());
            let mime = mime_guess::from_path(path.as_ref())
                .first_or_octet_stream()
                .to_string();
            let mime = if mime.starts_with("text/") || mime == "application/javascript" {
                format!("{mime}; charset=utf-8")
            } else {
                mime
            };
            let compressible = mime.starts_with("text/")
                || mime.starts_with("application/javascript")
                || mime.starts_with("application/json")
                || mime.starts_with("image/svg");
            let gzip = compressible
                .then(|| gzip(&body))
                .filter(|g| g.len() < body.len())
                .map(Bytes::from);
            let hash = file.metadata.sha256_hash();
            let etag = format!(
                "\"{}\"",
                hash[..12]
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
            );
            files.insert(
                path.into_owned(),
                Asset {
                    body,
                    gzip,
                    etag,
                    mime,
                },
            );
        }
        Assets { files }
    }

    pub fn contains(&self, path: &str) -> bool {
        self.files.contains_key(path)
    }

    /// Serves `path` (relative to web/), or `None` when there is no such file.
    pub fn serve(&self, path: &str, status: StatusCode, req: &HeaderMap) -> Option<Resp> {
        let a = self.files.get(path)?;
        let mut b = Response::builder()
            .header(CONTENT_TYPE, &a.mime)
            .header(ETAG, &a.etag)
            .header(CACHE_CONTROL, "no-cache")
            .header(VARY, "Accept-Encoding");
        let not_modified = req
            .get(IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim() == a.etag || t.trim() == "*"));
        if not_modified && status == StatusCode::OK {
            return Some(
                b.status(StatusCode::NOT_MODIFIED)
                    .body(full(Bytes::new()))
                    .expect("valid response"),
            );
        }
        let wants_gzip = req
            .get(ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(',')
                    .any(|e| e.split(';').next().is_some_and(|e| e.trim() == "gzip"))
            });
        let body = match (&a.gzip, wants_gzip) {
            (Some(gz), true) => {
                b = b.header(CONTENT_ENCODING, "gzip");
                gz.clone()
            }
            _ => a.body.clone(),
        };
        Some(b.status(status).body(full(body)).expect("valid response"))
    }
}
