//! A session's materials: what speakers bring to show on stage (seeds 001
//! and 002: "Upload presentation", "Embed video"). Pure records and checks;
//! the store keeps the rows, `slides` reads and renders PDFs, the service
//! checks who may upload, `domain::live` puts one on stage.
//!
//! [`MaterialKind`] is the one list of kinds: a PDF presentation today; an
//! embedded video adds its own variant beside it.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{DomainError, ErrorKind, is_bidi_control};

/// The largest PDF a speaker may upload (50 MB).
pub const MAX_PDF_BYTES: usize = 50 * 1000 * 1000;
/// The most pages a presentation may have.
pub const MAX_PDF_PAGES: u32 = 300;
/// The longest title, in characters.
pub const TITLE_MAX: usize = 120;
/// The most materials one session keeps.
pub const MAX_MATERIALS: usize = 20;
/// The widths pages are rendered at: the stage and the thumbnails.
pub const PAGE_WIDTH: u32 = 1600;
pub const THUMB_WIDTH: u32 = 320;

/// What sort of material it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaterialKind {
    /// A PDF presentation, shown page by page.
    Pdf,
}

/// One material of a session (the stored row; the PDF's bytes are stored
/// beside it in the same transaction).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Material {
    pub id: u64,
    pub session_id: u64,
    pub kind: MaterialKind,
    pub title: String,
    /// Pages of a PDF (checked by parsing at upload).
    pub pages: u32,
    /// Size of the uploaded file.
    pub bytes: u64,
    /// SHA-256 of the file (hex): the rendered pages' ETag comes from it.
    pub sha256: String,
    pub uploaded_by: u64,
    pub uploaded_at: Timestamp,
}

impl Material {
    /// A page number of this material, or the refusal.
    pub fn page(&self, page: u32) -> Result<u32, DomainError> {
        if (1..=self.pages).contains(&page) {
            Ok(page)
        } else {
            Err(DomainError::field(
                "page_out_of_range",
                "page",
                format!(
                    "\u{201c}{}\u{201d} has pages 1 to {}.",
                    self.title, self.pages
                ),
            ))
        }
    }
}

/// Where a rendered page is served (the one place the URL is made).
pub fn page_url(session_id: u64, material: u64, page: u32, width: u32) -> String {
    format!("/api/sessions/{session_id}/materials/{material}/pages/{page}?width={width}")
}

/// A material as speakers see it in lists (session page and live room).
#[derive(Debug, Clone, Serialize)]
pub struct MaterialView {
    pub id: u64,
    pub kind: MaterialKind,
    pub title: String,
    pub pages: u32,
    pub bytes: u64,
    pub uploaded_by: u64,
    pub uploaded_at: Timestamp,
    /// The first page, thumbnail-sized.
    pub thumbnail_url: String,
}

impl MaterialView {
    pub fn of(m: &Material) -> Self {
        MaterialView {
            id: m.id,
            kind: m.kind,
            title: m.title.clone(),
            pages: m.pages,
            bytes: m.bytes,
            uploaded_by: m.uploaded_by,
            uploaded_at: m.uploaded_at,
            thumbnail_url: page_url(m.session_id, m.id, 1, THUMB_WIDTH),
        }
    }
}

/// Why an uploaded file is not a presentation we can show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PdfProblem {
    #[error("That file is not a PDF. Export your slides as PDF and upload that.")]
    NotPdf,
    #[error("That PDF cannot be read; it may be damaged. Export it again and retry.")]
    Broken,
    #[error("That PDF is password-protected. Upload a copy without a password.")]
    Encrypted,
    #[error("That PDF has no pages.")]
    NoPages,
    #[error("That PDF has {pages} pages; presentations may have at most {MAX_PDF_PAGES}.")]
    TooManyPages { pages: usize },
    #[error("That file is larger than the 50 MB a presentation may be.")]
    TooLarge,
}

impl From<PdfProblem> for DomainError {
    fn from(p: PdfProblem) -> Self {
        let (kind, code) = match p {
            PdfProblem::NotPdf => (ErrorKind::UnsupportedType, "not_pdf"),
            PdfProblem::Broken => (ErrorKind::Invalid, "pdf_unreadable"),
            PdfProblem::Encrypted => (ErrorKind::Invalid, "pdf_encrypted"),
            PdfProblem::NoPages => (ErrorKind::Invalid, "pdf_unreadable"),
            PdfProblem::TooManyPages { .. } => (ErrorKind::TooLarge, "too_many_pages"),
            PdfProblem::TooLarge => (ErrorKind::TooLarge, "file_too_large"),
        };
        DomainError::new(kind, code, p.to_string()).on("file")
    }
}

/// Whether the bytes start like a PDF (`%PDF-` within the first KiB, as
/// readers accept); the parser decides the rest.
pub fn looks_like_pdf(bytes: &[u8]) -> bool {
    bytes[..bytes.len().min(1024)]
        .windows(5)
        .any(|w| w == b"%PDF-")
}

/// The page count of a parsed PDF, or the refusal.
pub fn check_pages(pages: usize) -> Result<u32, PdfProblem> {
    match u32::try_from(pages) {
        Ok(0) => Err(PdfProblem::NoPages),
        Ok(n) if n <= MAX_PDF_PAGES => Ok(n),
        _ => Err(PdfProblem::TooManyPages { pages }),
    }
}

/// A material's title: trimmed, 1 to [`TITLE_MAX`] characters, one line.
/// An empty title becomes `fallback` (e.g. "Presentation").
pub fn check_title(raw: &str, fallback: &str) -> Result<String, DomainError> {
    let t = raw.trim();
    let t = if t.is_empty() { fallback } else { t };
    if t.chars().count() > TITLE_MAX {
        return Err(DomainError::field(
            "invalid_title",
            "title",
            format!("Keep the title under {TITLE_MAX} characters."),
        ));
    }
    if t.chars().any(|c| c.is_control() || is_bidi_control(c)) {
        return Err(DomainError::field(
            "invalid_title",
            "title",
            "The title must be one line of text.",
        ));
    }
    Ok(t.to_owned())
}

/// A rendering width: the stage's or the thumbnails'.
pub fn check_width(width: u32) -> Result<u32, DomainError> {
    if width == PAGE_WIDTH || width == THUMB_WIDTH {
        Ok(width)
    } else {
        Err(DomainError::field(
            "invalid_width",
            "width",
            format!("Pages come {PAGE_WIDTH} or {THUMB_WIDTH} pixels wide."),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_counts_titles_and_widths() {
        assert_eq!(check_pages(0), Err(PdfProblem::NoPages));
        assert_eq!(check_pages(1), Ok(1));
        assert_eq!(check_pages(300), Ok(300));
        assert_eq!(
            check_pages(301),
            Err(PdfProblem::TooManyPages { pages: 301 })
        );
        assert_eq!(check_title("  Deck ", "P").unwrap(), "Deck");
        assert_eq!(check_title("", "Presentation").unwrap(), "Presentation");
        assert!(check_title(&"x".repeat(TITLE_MAX + 1), "P").is_err());
        assert!(check_title("a\u{202E}b", "P").is_err());
        assert!(check_width(1600).is_ok() && check_width(320).is_ok());
        assert!(check_width(1000).is_err());
        assert!(looks_like_pdf(b"%PDF-1.4\n"));
        assert!(looks_like_pdf(b"\xef\xbb\xbf%PDF-1.7"));
        assert!(!looks_like_pdf(b"\x89PNG\r\n"));
    }
}
