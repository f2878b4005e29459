//! PDF presentations on the server: reading an upload (is it a PDF we can
//! show, how many pages) and rendering pages to PNG with `hayro` (pure Rust,
//! so the binary stays one static file), lazily, cached as files under
//! `<data_dir>/materials/`.
//!
//! Work happens on the blocking pool, at most `workers` jobs at a time
//! ([`Slides`] holds the permits); the others wait for a permit, so ten
//! people asking for ten pages at once cost at most `workers` PDFs and
//! pixmaps in memory. The cache is only a cache: the PDF itself lives in
//! the store, and a missing or deleted cache file is rendered again.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hayro::hayro_interpret::InterpreterSettings;
use hayro::hayro_syntax::{LoadPdfError, Pdf};
use hayro::vello_cpu::color::palette::css::WHITE;
use hayro::{PixmapSettings, RenderCache, RenderSettings};
use tokio::sync::Semaphore;

use crate::domain::materials::{Material, PdfProblem, check_pages, looks_like_pdf};

/// The tallest page image, in pixels (a very tall page is rendered narrower
/// rather than as a huge pixmap).
const MAX_HEIGHT: f32 = 2400.0;

/// Why a page could not be had.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("the PDF could not be read")]
    Unreadable,
    #[error("no such page")]
    NoPage,
    #[error("encoding the page failed: {0}")]
    Encode(String),
    #[error("reading the PDF failed: {0}")]
    Source(String),
    #[error("the cache could not be written: {0}")]
    Io(#[from] std::io::Error),
    #[error("the renderer stopped: {0}")]
    Crashed(String),
}

/// Reads a PDF: whether it is one we can show, and its page count.
pub fn inspect(bytes: &[u8]) -> Result<u32, PdfProblem> {
    if !looks_like_pdf(bytes) {
        return Err(PdfProblem::NotPdf);
    }
    let pdf = open(bytes.to_vec()).map_err(|e| match e {
        LoadPdfError::Decryption(_) => PdfProblem::Encrypted,
        LoadPdfError::Invalid => PdfProblem::Broken,
    })?;
    check_pages(pdf.pages().len())
}

fn open(bytes: Vec<u8>) -> Result<Pdf, LoadPdfError> {
    Pdf::new(Arc::new(bytes))
}

/// Renders page `page` (from 1) `width` pixels wide (narrower for a page
/// taller than [`MAX_HEIGHT`] at that width) on white, as PNG.
pub fn render_png(bytes: Vec<u8>, page: u32, width: u32) -> Result<Vec<u8>, RenderError> {
    let pdf = open(bytes).map_err(|_| RenderError::Unreadable)?;
    render_page(&pdf, page, width)
}

fn render_page(pdf: &Pdf, page: u32, width: u32) -> Result<Vec<u8>, RenderError> {
    let pages = pdf.pages();
    let p = page
        .checked_sub(1)
        .and_then(|i| pages.get(i as usize))
        .ok_or(RenderError::NoPage)?;
    let (w, h) = p.render_dimensions();
    let (w, h) = (w.max(1.0), h.max(1.0));
    let scale = (width as f32 / w).min(MAX_HEIGHT / h);
    let cache = RenderCache::new();
    let pixmap = hayro::render(
        p,
        &cache,
        &InterpreterSettings::default(),
        &RenderSettings::default(),
        &PixmapSettings {
            x_scale: scale,
            y_scale: scale,
            bg_color: WHITE,
        },
    );
    pixmap
        .into_png()
        .map_err(|e| RenderError::Encode(e.to_string()))
}

/// Renders every page of a PDF at `width` (the benchmark's whole deck),
/// parsing it once.
pub fn render_all(bytes: Vec<u8>, width: u32) -> Result<Vec<Vec<u8>>, RenderError> {
    let pdf = open(bytes).map_err(|_| RenderError::Unreadable)?;
    (1..=pdf.pages().len() as u32)
        .map(|n| render_page(&pdf, n, width))
        .collect()
}

/// The renderer: its cache directory and its permits.
#[derive(Debug, Clone)]
pub struct Slides {
    dir: PathBuf,
    permits: Arc<Semaphore>,
}

impl Slides {
    /// Caches under `<data_dir>/materials`; at most `workers` reads or
    /// renders at a time.
    pub fn new(data_dir: &Path, workers: usize) -> Self {
        Slides {
            dir: data_dir.join("materials"),
            permits: Arc::new(Semaphore::new(workers.max(1))),
        }
    }

    /// Runs `f` on the blocking pool once a permit is free.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, RenderError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| RenderError::Crashed(e.to_string()))?;
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| RenderError::Crashed(e.to_string()))
    }

    /// [`inspect`] off the async workers, within the permits. A parser that
    /// panics on a hostile file reads as a broken PDF.
    pub async fn inspect(&self, bytes: Arc<Vec<u8>>) -> Result<u32, PdfProblem> {
        self.run(move || inspect(&bytes))
            .await
            .unwrap_or(Err(PdfProblem::Broken))
    }

    fn page_path(&self, m: &Material, page: u32, width: u32) -> PathBuf {
        self.dir
            .join(m.session_id.to_string())
            .join(format!("{}-{}", m.id, &m.sha256[..m.sha256.len().min(16)]))
            .join(format!("{width}-{page}.png"))
    }

    /// Page `page` of `m` at `width` as PNG: from the cache, or rendered
    /// from `source` (the PDF's bytes, read on the blocking pool) and then
    /// cached (written to a temporary name and renamed, so a reader never
    /// sees half a file).
    pub async fn page(
        &self,
        m: &Material,
        page: u32,
        width: u32,
        source: impl FnOnce() -> Result<Vec<u8>, String> + Send + 'static,
    ) -> Result<Vec<u8>, RenderError> {
        let path = self.page_path(m, page, width);
        if let Ok(png) = tokio::fs::read(&path).await {
            return Ok(png);
        }
        self.run(move || {
            // Someone else may have rendered it while this one waited.
            if let Ok(png) = std::fs::read(&path) {
                return Ok(png);
            }
            let bytes = source().map_err(RenderError::Source)?;
            let png = render_png(bytes, page, width)?;
            write_atomically(&path, &png)?;
            Ok(png)
        })
        .await?
    }

    /// Drops the cached pages of a material (it was deleted).
    pub async fn forget(&self, m: &Material) {
        let dir = self
            .page_path(m, 1, 1)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        if let Err(e) = tokio::fs::remove_dir_all(&dir).await
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot remove cached pages");
        }
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
