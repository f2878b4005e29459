//! What a live session keeps across restarts: its chat, its questions and
//! the people a host removed.

use redb::ReadableDatabase;

use super::codec::{decode, encode};
use super::{LIVE_CHAT, LIVE_QUESTIONS, LIVE_REMOVED, Result, Store, StoreError};
use crate::domain::live::{ChatMessage, Question};

impl Store {
    /// Appends one chat message (one transaction per message).
    pub fn append_chat(&self, session: u64, msg: &ChatMessage) -> Result<()> {
        let tx = self.begin_write()?;
        tx.open_table(LIVE_CHAT)?
            .insert((session, msg.id), encode(msg).as_slice())?;
        self.commit(tx)?;
        Ok(())
    }

    /// Replaces the session's questions (votes, answered and hidden flags).
    pub fn save_questions(&self, session: u64, questions: &[Question]) -> Result<()> {
        let tx = self.begin_write()?;
        {
            let mut t = tx.open_table(LIVE_QUESTIONS)?;
            t.retain_in((session, 0)..=(session, u64::MAX), |_, _| false)?;
            for q in questions {
                t.insert((session, q.id), encode(q).as_slice())?;
            }
        }
        self.commit(tx)?;
        Ok(())
    }

    /// The stored chat (oldest first) and questions of a session.
    pub fn live_history(&self, session: u64) -> Result<(Vec<ChatMessage>, Vec<Question>)> {
        let tx = self.db()?.begin_read()?;
        let mut chat = Vec::new();
        for row in tx
            .open_table(LIVE_CHAT)?
            .range((session, 0)..=(session, u64::MAX))?
        {
            let (_, v) = row.map_err(StoreError::from)?;
            chat.push(decode("live_chat", v.value())?);
        }
        let mut questions = Vec::new();
        for row in tx
            .open_table(LIVE_QUESTIONS)?
            .range((session, 0)..=(session, u64::MAX))?
        {
            let (_, v) = row.map_err(StoreError::from)?;
            questions.push(decode("live_questions", v.value())?);
        }
        Ok((chat, questions))
    }

    /// Records that a host removed `user` from the live session.
    pub fn remove_from_live(&self, session: u64, user: u64) -> Result<()> {
        let tx = self.begin_write()?;
        tx.open_table(LIVE_REMOVED)?.insert((session, user), ())?;
        tx.commit()?;
        Ok(())
    }

    /// The people removed from a live session.
    pub fn live_removed(&self, session: u64) -> Result<Vec<u64>> {
        let tx = self.db()?.begin_read()?;
        let mut out = Vec::new();
        for row in tx
            .open_table(LIVE_REMOVED)?
            .range((session, 0)..=(session, u64::MAX))?
        {
            let (k, _) = row.map_err(StoreError::from)?;
            out.push(k.value().1);
        }
        Ok(out)
    }
}
