//! A session's materials (PDF presentations): who may upload, list and
//! delete them (the session's speakers, and anyone on stage in the running
//! room), the upload (checked by parsing, stored row + file in one
//! transaction, then told to the running room), and the rendered pages
//! (speakers read every page; everyone else only the presentation on stage).

use std::sync::Arc;

use serde::Serialize;

use super::AppState;
use super::live::{LiveCtx, context};
use crate::domain::DomainError;
use crate::domain::live::LiveError;
pub use crate::domain::materials::{MAX_PDF_BYTES, PAGE_WIDTH};
use crate::domain::materials::{
    Material, MaterialKind, MaterialView, PdfProblem, check_title, check_width,
};
use crate::slides::RenderError;
use crate::store::{StoreError, User};

/// The materials of a session, for its speakers.
#[derive(Debug, Clone, Serialize)]
pub struct MaterialsView {
    pub materials: Vec<MaterialView>,
    /// Whether the viewer may upload and delete.
    pub can_upload: bool,
    pub limits: MaterialLimits,
}

#[derive(Debug, Clone, Serialize)]
pub struct MaterialLimits {
    pub max_bytes: usize,
    pub max_pages: u32,
    pub max_materials: usize,
    pub title_max: usize,
}

const LIMITS: MaterialLimits = MaterialLimits {
    max_bytes: crate::domain::materials::MAX_PDF_BYTES,
    max_pages: crate::domain::materials::MAX_PDF_PAGES,
    max_materials: crate::domain::materials::MAX_MATERIALS,
    title_max: crate::domain::materials::TITLE_MAX,
};

/// A rendered page: PNG bytes and their ETag.
#[derive(Debug, Clone)]
pub struct PageImage {
    pub png: Vec<u8>,
    pub etag: String,
}

fn not_allowed() -> StoreError {
    DomainError::forbidden(
        "may_not_upload",
        "Only the session's speakers (and people on stage) can manage its presentations.",
    )
    .into()
}

/// Whether this person may manage the session's materials now: the one
/// presenting rule, [`super::live::may_present`].
fn may_manage(state: &AppState, c: &LiveCtx) -> bool {
    super::live::may_present(state, c)
}

/// Checks that `user` may upload to session `id` (before the body is read).
pub async fn authorize(state: &AppState, id: u64, user: User) -> Result<LiveCtx, StoreError> {
    let c = context(state, id, user).await?;
    if !may_manage(state, &c) {
        return Err(not_allowed());
    }
    Ok(c)
}

/// `GET /api/sessions/{id}/materials`.
pub async fn list(state: &AppState, id: u64, user: User) -> Result<MaterialsView, StoreError> {
    let c = authorize(state, id, user).await?;
    let sid = c.session.id;
    let materials = state.blocking(move |s| s.materials(sid)).await?;
    Ok(MaterialsView {
        materials: materials.iter().map(MaterialView::of).collect(),
        can_upload: true,
        limits: LIMITS,
    })
}

/// The problem of a body that was larger than allowed.
pub fn too_large() -> DomainError {
    PdfProblem::TooLarge.into()
}

/// Stores an uploaded PDF (the caller checked [`authorize`] and the size):
/// parsed first, then the row and the file in one transaction, then the
/// running room hears of it.
pub async fn upload(
    state: &AppState,
    c: &LiveCtx,
    title: &str,
    file: Vec<u8>,
) -> Result<MaterialView, StoreError> {
    let title = check_title(title, "Presentation")?;
    let file = Arc::new(file);
    let pages = state
        .slides
        .inspect(file.clone())
        .await
        .map_err(DomainError::from)?;
    let sha256: String = crate::util::sha256(&file)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let (sid, uid, now) = (c.session.id, c.user.id, state.clock.now());
    let m = state
        .blocking(move |s| {
            s.add_material(sid, &file, |id| Material {
                id,
                session_id: sid,
                kind: MaterialKind::Pdf,
                title,
                pages,
                bytes: file.len() as u64,
                sha256,
                uploaded_by: uid,
                uploaded_at: now,
            })
        })
        .await?;
    tracing::info!(
        session = sid,
        material = m.id,
        pages,
        "presentation uploaded"
    );
    if let Some(live) = state.live.running(sid) {
        let added = m.clone();
        live.apply(&state.live, move |room, _| Ok(room.material_added(added)))
            .await?;
    }
    Ok(MaterialView::of(&m))
}

/// `DELETE /api/sessions/{id}/materials/{mid}`: the row and the file go in
/// one transaction; the cached pages after; a presentation of it leaves the
/// stage.
pub async fn delete(state: &AppState, id: u64, user: User, mid: u64) -> Result<(), StoreError> {
    let c = authorize(state, id, user).await?;
    let sid = c.session.id;
    let m = state.blocking(move |s| s.delete_material(sid, mid)).await?;
    if let Some(live) = state.live.running(sid) {
        live.apply(&state.live, move |room, _| Ok(room.material_removed(mid)))
            .await?;
    }
    state.slides.forget(&m).await;
    Ok(())
}

/// One rendered page: speakers read every page of every material; anyone
/// else in the main room only the pages of the presentation on stage.
pub async fn page(
    state: &AppState,
    id: u64,
    user: User,
    mid: u64,
    page: u32,
    width: u32,
) -> Result<PageImage, StoreError> {
    let width = check_width(width)?;
    let c = context(state, id, user).await?;
    let sid = c.session.id;
    if !may_manage(state, &c) {
        let shown = state.live.running(sid).is_some_and(|live| {
            live.with_room(|r| {
                !r.is_removed(c.user.id)
                    && r.chat_room_of(c.user.id) == crate::domain::live::MAIN_ROOM
                    && r.presentation.is_some_and(|p| p.material == mid)
            })
        });
        if !shown {
            return Err(StoreError::Rule(LiveError::NoPresentation.into()));
        }
    }
    let m = state.blocking(move |s| s.material(sid, mid)).await?;
    let page = m.page(page)?;
    let store = state.store.clone();
    let png = state
        .slides
        .page(&m, page, width, move || {
            store.material_file(mid).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| match e {
            RenderError::NoPage => StoreError::NotFound,
            other => {
                tracing::error!(session = sid, material = mid, page, error = %other, "rendering a page failed");
                StoreError::Corrupt {
                    table: "material_files",
                    reason: other.to_string(),
                }
            }
        })?;
    Ok(PageImage {
        png,
        etag: format!("\"{}-{width}-{page}\"", &m.sha256[..16]),
    })
}
