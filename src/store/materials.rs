//! A session's materials: the row (`MATERIALS`) and the uploaded file's
//! bytes (`MATERIAL_FILES`), always written and removed together in one
//! transaction, so there is never a row without its file or a file without
//! its row. Rendered pages are a cache outside the store (`slides`).

use redb::{ReadableDatabase, ReadableTable};

use super::codec::{decode, decode_blob, encode, encode_blob};
use super::{MATERIAL_FILES, MATERIALS, Result, SESSIONS, Store, StoreError, next_id};
use crate::domain::DomainError;
use crate::domain::materials::{MAX_MATERIALS, Material};

impl Store {
    /// Stores a new material with its file in one transaction: `make` gets
    /// the new id. Refused when the session is gone or has
    /// [`MAX_MATERIALS`] already.
    pub fn add_material(
        &self,
        session_id: u64,
        file: &[u8],
        make: impl FnOnce(u64) -> Material,
    ) -> Result<Material> {
        let tx = self.begin_write()?;
        if tx.open_table(SESSIONS)?.get(session_id)?.is_none() {
            return Err(StoreError::NotFound);
        }
        let m = {
            let mut rows = tx.open_table(MATERIALS)?;
            let count = rows
                .range((session_id, 0)..=(session_id, u64::MAX))?
                .count();
            if count >= MAX_MATERIALS {
                return Err(DomainError::conflict(
                    "too_many_materials",
                    format!("A session keeps at most {MAX_MATERIALS} materials; delete one first."),
                )
                .into());
            }
            let id = next_id(&tx, "material")?;
            let m = make(id);
            rows.insert((session_id, id), encode(&m).as_slice())?;
            m
        };
        tx.open_table(MATERIAL_FILES)?
            .insert(m.id, encode_blob(file).as_slice())?;
        self.commit(tx)?;
        Ok(m)
    }

    /// The materials of a session, oldest first.
    pub fn materials(&self, session_id: u64) -> Result<Vec<Material>> {
        let tx = self.db()?.begin_read()?;
        let mut out = Vec::new();
        for row in tx
            .open_table(MATERIALS)?
            .range((session_id, 0)..=(session_id, u64::MAX))?
        {
            let (_, v) = row.map_err(StoreError::from)?;
            out.push(decode("materials", v.value())?);
        }
        Ok(out)
    }

    /// One material of a session.
    pub fn material(&self, session_id: u64, id: u64) -> Result<Material> {
        let tx = self.db()?.begin_read()?;
        let v = tx
            .open_table(MATERIALS)?
            .get((session_id, id))?
            .ok_or(StoreError::NotFound)?;
        decode("materials", v.value())
    }

    /// The uploaded file of a material.
    pub fn material_file(&self, id: u64) -> Result<Vec<u8>> {
        let tx = self.db()?.begin_read()?;
        let v = tx
            .open_table(MATERIAL_FILES)?
            .get(id)?
            .ok_or(StoreError::NotFound)?;
        decode_blob("material_files", v.value())
    }

    /// Deletes a material and its file in one transaction.
    pub fn delete_material(&self, session_id: u64, id: u64) -> Result<Material> {
        let tx = self.begin_write()?;
        let m: Material = {
            let mut rows = tx.open_table(MATERIALS)?;
            let v = rows.remove((session_id, id))?.ok_or(StoreError::NotFound)?;
            decode("materials", v.value())?
        };
        tx.open_table(MATERIAL_FILES)?.remove(id)?;
        self.commit(tx)?;
        Ok(m)
    }
}
