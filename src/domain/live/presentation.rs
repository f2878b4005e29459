//! Presentations on the main stage: the session's materials as the room
//! knows them, and the one presentation showing (which PDF, which page, who
//! turns the pages). Who may present is the room's rule: speakers (hosts,
//! presenters, the interviewer) and anyone on stage, in the main room.
//! Another such person may take over at any time; only the presenter turns
//! pages.

use jiff::Timestamp;
use serde::Serialize;

use super::{LiveError, LiveEvent, LiveRoom, MAIN_ROOM};
use crate::domain::materials::{Material, MaterialKind, MaterialView, PAGE_WIDTH, page_url};

/// The presentation on the main stage as the page shows it (`presentation`
/// in docs/api-live.md).
#[derive(Debug, Clone, Serialize)]
pub struct PresentationView {
    pub material: u64,
    pub title: String,
    pub page: u32,
    pub pages: u32,
    pub presenter: u64,
    pub presenter_name: String,
    pub since: Timestamp,
    pub page_since: Timestamp,
    /// The page as shown on stage.
    pub image_url: String,
    /// The neighbouring pages (for preloading), if any.
    pub prev_image_url: Option<String>,
    pub next_image_url: Option<String>,
    /// Whether the viewer turns the pages.
    pub mine: bool,
}

impl LiveRoom {
    /// The presentation as `viewer` sees it: on the main stage only.
    pub(super) fn presentation_view(&self, viewer: u64, my_room: u32) -> Option<PresentationView> {
        let p = self.presentation?;
        if my_room != MAIN_ROOM {
            return None;
        }
        let m = self.materials.iter().find(|m| m.id == p.material)?;
        let url = |page: u32| page_url(m.session_id, m.id, page, PAGE_WIDTH);
        Some(PresentationView {
            material: m.id,
            title: m.title.clone(),
            page: p.page,
            pages: m.pages,
            presenter: p.presenter,
            presenter_name: self
                .people
                .get(&p.presenter)
                .map_or_else(String::new, |x| x.name.clone()),
            since: p.since,
            page_since: p.page_since,
            image_url: url(p.page),
            prev_image_url: (p.page > 1).then(|| url(p.page - 1)),
            next_image_url: (p.page < m.pages).then(|| url(p.page + 1)),
            mine: p.presenter == viewer,
        })
    }

    /// The materials list: for those who may present (others get none).
    pub(super) fn materials_view(&self, viewer: u64) -> Vec<MaterialView> {
        if self.may_present(viewer) {
            self.materials.iter().map(MaterialView::of).collect()
        } else {
            Vec::new()
        }
    }
}

/// What is on the main stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Presentation {
    pub material: u64,
    /// From 1.
    pub page: u32,
    /// Who turns the pages.
    pub presenter: u64,
    /// When this presenter put it on stage (or took over).
    pub since: Timestamp,
    /// When the page last turned.
    pub page_since: Timestamp,
}

impl LiveRoom {
    /// The session's materials as stored (at the start, after a restart and
    /// after each upload or deletion). A presentation whose material is gone
    /// leaves the stage.
    pub fn set_materials(&mut self, materials: Vec<Material>) -> Vec<LiveEvent> {
        self.materials = materials;
        if let Some(p) = self.presentation
            && !self.materials.iter().any(|m| m.id == p.material)
        {
            self.presentation = None;
        }
        vec![LiveEvent::Changed]
    }

    /// A material was uploaded.
    pub fn material_added(&mut self, m: Material) -> Vec<LiveEvent> {
        self.materials.retain(|x| x.id != m.id);
        self.materials.push(m);
        self.materials.sort_by_key(|m| m.id);
        vec![LiveEvent::Changed]
    }

    /// A material was deleted; if it was on stage, it leaves the stage.
    pub fn material_removed(&mut self, id: u64) -> Vec<LiveEvent> {
        self.materials.retain(|x| x.id != id);
        if self.presentation.is_some_and(|p| p.material == id) {
            self.presentation = None;
        }
        vec![LiveEvent::Changed]
    }

    /// Whether this person may present now (a presentation, a video):
    /// [`Person::may_present`], the one rule.
    pub fn may_present(&self, user_id: u64) -> bool {
        self.people
            .get(&user_id)
            .is_some_and(super::Person::may_present)
    }

    fn presenter_check(&self, user_id: u64) -> Result<(), LiveError> {
        self.open()?;
        self.person(user_id)?;
        if !self.may_present(user_id) {
            return Err(LiveError::MayNotPresent);
        }
        Ok(())
    }

    /// Puts a material on stage at `page` (default: the page it shows now
    /// when taking over the same one, else 1), or takes it over.
    pub(super) fn present(
        &mut self,
        user_id: u64,
        material: u64,
        page: Option<u32>,
        now: Timestamp,
    ) -> Result<Vec<LiveEvent>, LiveError> {
        self.presenter_check(user_id)?;
        let m = self
            .materials
            .iter()
            .find(|m| m.id == material)
            .ok_or(LiveError::NoMaterial)?;
        if m.kind != MaterialKind::Pdf {
            return Err(LiveError::NoMaterial);
        }
        let current = self
            .presentation
            .filter(|p| p.material == material)
            .map(|p| p.page);
        let page = page.or(current).unwrap_or(1);
        if !(1..=m.pages).contains(&page) {
            return Err(LiveError::PageOutOfRange { pages: m.pages });
        }
        let turned = current != Some(page);
        self.presentation = Some(Presentation {
            material,
            page,
            presenter: user_id,
            since: now,
            page_since: match self.presentation {
                Some(p) if !turned => p.page_since,
                _ => now,
            },
        });
        Ok(vec![LiveEvent::Changed])
    }

    /// The presenter shows another page.
    pub(super) fn turn_page(
        &mut self,
        user_id: u64,
        page: u32,
        now: Timestamp,
    ) -> Result<Vec<LiveEvent>, LiveError> {
        self.presenter_check(user_id)?;
        let p = self.presentation.ok_or(LiveError::NoPresentation)?;
        if p.presenter != user_id {
            return Err(LiveError::NotPresenter);
        }
        let pages = self
            .materials
            .iter()
            .find(|m| m.id == p.material)
            .map_or(0, |m| m.pages);
        if !(1..=pages).contains(&page) {
            return Err(LiveError::PageOutOfRange { pages });
        }
        if page == p.page {
            return Ok(Vec::new());
        }
        self.presentation = Some(Presentation {
            page,
            page_since: now,
            ..p
        });
        Ok(vec![LiveEvent::Changed])
    }

    /// The presenter (or a host) takes the presentation off stage.
    pub(super) fn stop_presenting(&mut self, user_id: u64) -> Result<Vec<LiveEvent>, LiveError> {
        self.open()?;
        let me = self.person(user_id)?;
        let p = self.presentation.ok_or(LiveError::NoPresentation)?;
        if p.presenter != user_id && !me.is_host {
            return Err(LiveError::NotPresenter);
        }
        self.presentation = None;
        Ok(vec![LiveEvent::Changed])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::live::LiveSettings;
    use crate::domain::sessions::Role;

    fn deck(id: u64, pages: u32) -> Material {
        Material {
            id,
            session_id: 1,
            kind: MaterialKind::Pdf,
            title: format!("Deck {id}"),
            pages,
            bytes: 100,
            sha256: "ab".repeat(32),
            uploaded_by: 1,
            uploaded_at: Timestamp::UNIX_EPOCH,
        }
    }

    #[test]
    fn speakers_present_turn_and_take_over_guests_do_not() {
        let now = Timestamp::UNIX_EPOCH;
        let mut r = LiveRoom::new(7, now, LiveSettings::default(), vec![], vec![]);
        let (speaker, other_speaker, guest) = (1, 2, 10);
        r.join(speaker, "Host", Some(Role::Host), false, now)
            .unwrap();
        r.join(
            other_speaker,
            "Presenter",
            Some(Role::Presenter),
            false,
            now,
        )
        .unwrap();
        r.join(guest, "Guest", Some(Role::Guest), false, now)
            .unwrap();
        r.set_materials(vec![deck(7, 3)]);
        assert_eq!(
            r.present(guest, 7, None, now),
            Err(LiveError::MayNotPresent)
        );
        assert_eq!(r.present(speaker, 8, None, now), Err(LiveError::NoMaterial));
        assert_eq!(
            r.present(speaker, 7, Some(4), now),
            Err(LiveError::PageOutOfRange { pages: 3 })
        );
        r.present(speaker, 7, None, now).unwrap();
        assert_eq!(r.presentation.unwrap().page, 1);
        r.turn_page(speaker, 3, now).unwrap();
        assert_eq!(
            r.turn_page(speaker, 0, now),
            Err(LiveError::PageOutOfRange { pages: 3 })
        );
        assert_eq!(
            r.turn_page(other_speaker, 2, now),
            Err(LiveError::NotPresenter)
        );
        // Taking over keeps the page.
        r.present(other_speaker, 7, None, now).unwrap();
        let p = r.presentation.unwrap();
        assert_eq!((p.presenter, p.page), (other_speaker, 3));
        assert_eq!(r.turn_page(speaker, 2, now), Err(LiveError::NotPresenter));
        assert_eq!(r.stop_presenting(guest), Err(LiveError::NotPresenter));
        // A deleted material leaves the stage.
        r.set_materials(Vec::new());
        assert!(r.presentation.is_none());
        assert_eq!(
            r.turn_page(other_speaker, 2, now),
            Err(LiveError::NoPresentation)
        );
    }
}
