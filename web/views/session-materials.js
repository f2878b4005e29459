// The session page's "Presentations" card, for the session's speakers:
// their PDFs (thumbnail, pages, size), upload one before the start (or
// during), delete one. Shown only when the server lists the materials for
// this viewer (GET /api/sessions/{id}/materials answers 403 to others), so
// the page derives nothing about who may upload.
//
// Ids: #materials-card, #session-materials (li.material-row[data-material-id]
// with button.material-delete), #session-material-file, #session-upload-material,
// #session-material-error, #session-material-status.

import { h, replace } from '../dom.js';
import { api } from '../api.js';
import { apiSessionPath, confirmDialog } from '../sessions-ui.js';
import { titleOf, uploadPdf } from '../live/slides.js';

function sizeText(bytes) {
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  return `${Math.max(1, Math.round(bytes / 1e3))} kB`;
}

/** A placeholder that becomes the card once the server lists the materials. */
export function materialsCard(sessionId) {
  const slot = h('div', { class: 'materials-slot' });
  load();

  async function load() {
    let data;
    try {
      data = await api.get(apiSessionPath(sessionId, '/materials'));
    } catch {
      return; // not a speaker (403) or not reachable: no card
    }
    draw(data);
  }

  function draw(data) {
    const list = h('ul', { class: 'material-list', id: 'session-materials' });
    const error = h('p', { class: 'form-error', id: 'session-material-error', role: 'alert', hidden: true });
    const status = h('p', { class: 'form-status', id: 'session-material-status', role: 'status' });
    const input = h('input', { type: 'file', id: 'session-material-file', accept: 'application/pdf,.pdf', class: 'visually-hidden' });
    const upload = h('button', { type: 'button', class: 'btn btn-secondary', id: 'session-upload-material' }, 'Upload presentation');
    const items = data.materials || [];
    if (!items.length) list.append(h('li', { class: 'muted' }, 'No presentations yet.'));
    for (const m of items) {
      const del = h('button', { type: 'button', class: 'btn btn-ghost btn-sm material-delete' }, 'Delete');
      del.addEventListener('click', async () => {
        const ok = await confirmDialog({
          title: `Delete “${m.title}”?`,
          message: 'It leaves the stage if it is being shown.',
          confirmLabel: 'Delete',
          danger: true,
        });
        if (!ok) return;
        try {
          await api.del(apiSessionPath(sessionId, `/materials/${m.id}`));
          load();
        } catch (err) {
          error.textContent = err.message;
          error.hidden = false;
        }
      });
      list.append(
        h(
          'li',
          { class: 'material-row', dataset: { materialId: m.id } },
          h('img', { class: 'material-thumb', src: m.thumbnail_url, alt: '', loading: 'lazy' }),
          h(
            'div',
            { class: 'material-text' },
            h('span', { class: 'material-title' }, m.title),
            h('span', { class: 'muted' }, `${m.pages} ${m.pages === 1 ? 'page' : 'pages'} · ${sizeText(m.bytes)}`),
          ),
          del,
        ),
      );
    }
    upload.addEventListener('click', () => input.click());
    input.addEventListener('change', async () => {
      const file = input.files && input.files[0];
      if (!file) return;
      error.hidden = true;
      status.textContent = 'Uploading…';
      upload.disabled = true;
      try {
        const m = await uploadPdf(sessionId, file, titleOf(file));
        status.textContent = `“${m.title}” is ready (${m.pages} pages).`;
        load();
      } catch (err) {
        status.textContent = '';
        error.textContent = err.message;
        error.hidden = false;
      } finally {
        upload.disabled = false;
        input.value = '';
      }
    });
    const lim = data.limits || {};
    replace(
      slot,
      h(
        'section',
        { class: 'card session-section', id: 'materials-card', 'aria-labelledby': 'materials-title' },
        h('h2', { class: 'card-title', id: 'materials-title' }, 'Presentations'),
        h('p', { class: 'muted' }, `Upload the PDF of your slides before the start; in the live room any speaker can put it on stage. PDF only, up to ${Math.round((lim.max_bytes || 5e7) / 1e6)} MB and ${lim.max_pages || 300} pages.`),
        list,
        error,
        status,
        h('div', { class: 'material-actions' }, input, upload),
      ),
    );
  }

  return slot;
}
