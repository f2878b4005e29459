// Presentations in the live room: the stage tile of the PDF on stage (a
// page rendered by the server, the same image for everyone), the
// presenter's page controls (buttons and the arrow keys), and the
// speakers' materials dialog (present one, upload another).
//
// Everything shown comes from `live.presentation`, `live.materials` and
// `live.me.can_present` / `presenting`: the server decides who may show
// and turn pages, the page only sends the commands.
//
// Ids: #presentation-tile (data-material, data-page, data-pages),
// #presentation-image, #presentation-page, #slide-prev, #slide-next,
// #stop-presenting; #presentations (the controls' button) opens
// #materials-dialog with .lr-material[data-material-id] rows, their
// button.lr-material-present, #material-file, #upload-material,
// #material-error.

import { h, replace } from '../dom.js';
import { ic, modal, showError } from './util.js';

/** The stage tile of the presentation on stage. */
export function createPresentationTile(room) {
  const img = h('img', { class: 'lr-slide-img', id: 'presentation-image', alt: '', decoding: 'async', draggable: 'false' });
  const media = h('div', { class: 'lr-tile-media lr-slide-media' }, img);
  const bar = h('div', { class: 'lr-tile-bar lr-slide-bar' });
  const el = h(
    'div',
    { class: 'lr-tile lr-tile-screen lr-tile-slides has-video', id: 'presentation-tile', role: 'listitem' },
    media,
    bar,
  );
  const preload = new Map(); // url → Image, so the next page is ready when it turns
  let sig = '';

  function warm(urls) {
    for (const url of urls) {
      if (!url || preload.has(url)) continue;
      const i = new Image();
      i.decoding = 'async';
      i.src = url;
      preload.set(url, i);
    }
    if (preload.size > 12) {
      const keep = new Set(urls);
      for (const k of preload.keys()) if (!keep.has(k) && preload.size > 12) preload.delete(k);
    }
  }

  /** Shows `p` (live.presentation); returns false when nothing is presented. */
  function update(p) {
    if (!p) {
      sig = '';
      return false;
    }
    if (img.getAttribute('src') !== p.image_url) {
      // Swap only once the new page is decoded, so the stage never blinks.
      const next = new Image();
      next.src = p.image_url;
      const show = () => {
        if (room.live && room.live.presentation && room.live.presentation.image_url === p.image_url) {
          img.src = p.image_url;
          el.dataset.shownPage = String(p.page);
        }
      };
      next.decode().then(show, show);
    }
    img.alt = `${p.title}, page ${p.page} of ${p.pages}`;
    el.dataset.material = String(p.material);
    el.dataset.page = String(p.page);
    el.dataset.pages = String(p.pages);
    warm([p.next_image_url, p.prev_image_url]);
    const s = JSON.stringify([p.material, p.page, p.pages, p.title, p.presenter_name, p.mine]);
    if (s !== sig) {
      sig = s;
      const page = h('span', { class: 'lr-slide-page', id: 'presentation-page', 'aria-live': 'polite' }, `${p.page} / ${p.pages}`);
      const name = h(
        'span',
        { class: 'lr-tile-name' },
        ic('presentation', 'icon icon-xs'),
        h('span', { class: 'lr-slide-title' }, p.title),
        h('span', { class: 'lr-slide-by' }, p.mine ? ' · you present' : p.presenter_name ? ` · ${p.presenter_name}` : ''),
      );
      const controls = p.mine
        ? h(
            'span',
            { class: 'lr-slide-controls' },
            h(
              'button',
              { type: 'button', class: 'lr-slide-btn', id: 'slide-prev', 'aria-label': 'Previous page', title: 'Previous page (←)', disabled: p.page <= 1, onclick: () => turn(room, -1) },
              ic('chevronLeft', 'icon icon-sm'),
            ),
            page,
            h(
              'button',
              { type: 'button', class: 'lr-slide-btn', id: 'slide-next', 'aria-label': 'Next page', title: 'Next page (→)', disabled: p.page >= p.pages, onclick: () => turn(room, 1) },
              ic('chevronRight', 'icon icon-sm'),
            ),
            h(
              'button',
              { type: 'button', class: 'lr-slide-btn lr-slide-stop', id: 'stop-presenting', title: 'Take the presentation off stage', onclick: (e) => room.act(e.currentTarget, '/presentation', null, 'DELETE') },
              'Stop',
            ),
          )
        : h('span', { class: 'lr-slide-controls' }, page);
      replace(bar, name, controls);
    }
    return true;
  }

  return { el, update };
}

/** The presenter turns one page on (or back); the server checks it. */
function turn(room, delta) {
  const p = room.live && room.live.presentation;
  if (!p || !p.mine) return;
  const page = p.page + delta;
  if (page < 1 || page > p.pages) return;
  room.act(null, '/presentation/page', { page });
}

/** Arrow keys (and Page Up/Down) turn pages while I present. */
export function presenterKeys(room) {
  const onKey = (e) => {
    const p = room.live && room.live.presentation;
    if (!p || !p.mine || e.altKey || e.ctrlKey || e.metaKey) return;
    const t = e.target;
    if (t && (t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName))) return;
    if (document.querySelector('dialog[open]')) return;
    let delta = 0;
    if (e.key === 'ArrowRight' || e.key === 'PageDown') delta = 1;
    else if (e.key === 'ArrowLeft' || e.key === 'PageUp') delta = -1;
    if (!delta) return;
    e.preventDefault();
    turn(room, delta);
  };
  document.addEventListener('keydown', onKey);
  return () => document.removeEventListener('keydown', onKey);
}

function sizeText(bytes) {
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  return `${Math.max(1, Math.round(bytes / 1e3))} kB`;
}

/** Uploads a PDF (the raw file as the body); resolves with the material. */
export async function uploadPdf(sessionId, file, title) {
  const q = title ? `?title=${encodeURIComponent(title)}` : '';
  let res;
  try {
    res = await fetch(`/api/sessions/${encodeURIComponent(sessionId)}/materials${q}`, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { Accept: 'application/json', 'Content-Type': 'application/pdf' },
      body: file,
    });
  } catch {
    throw new Error('Could not reach the Podium server. Check your connection and try again.');
  }
  const body = await res.json().catch(() => null);
  if (!res.ok) {
    const e = body && body.error;
    throw new Error(e && e.message ? e.message : `The upload failed (HTTP ${res.status}).`);
  }
  return body;
}

/** The file's name without `.pdf`, as a default title. */
export function titleOf(file) {
  return (file && file.name ? file.name : '').replace(/\.pdf$/i, '').slice(0, 120);
}

/** The speakers' dialog: the session's materials, present one, upload one. */
export function openMaterials(room) {
  const list = h('ul', { class: 'lr-materials', id: 'materials-list' });
  const error = h('p', { class: 'form-error', id: 'material-error', role: 'alert', hidden: true });
  const input = h('input', { type: 'file', id: 'material-file', accept: 'application/pdf,.pdf', class: 'file-input' });
  const upload = h('button', { type: 'button', class: 'btn btn-secondary', id: 'upload-material' }, ic('upload', 'icon icon-sm'), 'Upload presentation');
  let sig = '';

  function draw() {
    const live = room.live;
    if (!live) return;
    const items = live.materials || [];
    const shown = live.presentation;
    const s = JSON.stringify([items.map((m) => [m.id, m.title, m.pages]), shown && [shown.material, shown.mine], live.me.can_present]);
    if (s === sig) return;
    sig = s;
    if (!items.length) {
      replace(list, h('li', { class: 'lr-materials-empty' }, 'No presentations yet. Upload a PDF of your slides.'));
      return;
    }
    replace(
      list,
      items.map((m) => {
        const onStage = shown && shown.material === m.id;
        const label = onStage ? (shown.mine ? 'On stage' : 'Take over') : 'Present';
        return h(
          'li',
          { class: ['lr-material', onStage && 'is-on-stage'], dataset: { materialId: m.id } },
          h('img', { class: 'lr-material-thumb', src: m.thumbnail_url, alt: '', loading: 'lazy' }),
          h(
            'div',
            { class: 'lr-material-text' },
            h('span', { class: 'lr-material-title' }, m.title),
            h('span', { class: 'lr-material-meta' }, `${m.pages} ${m.pages === 1 ? 'page' : 'pages'} · ${sizeText(m.bytes)}`),
          ),
          h(
            'button',
            {
              type: 'button',
              class: ['btn', 'btn-sm', onStage && shown.mine ? 'btn-secondary' : 'btn-primary', 'lr-material-present'],
              disabled: !live.me.can_present || (onStage && shown.mine),
              onclick: async (e) => {
                const res = await room.act(e.currentTarget, '/presentation', { material: m.id });
                if (res) close();
              },
            },
            label,
          ),
        );
      }),
    );
  }

  upload.addEventListener('click', () => input.click());
  input.addEventListener('change', async () => {
    const file = input.files && input.files[0];
    if (!file) return;
    showError(error, '');
    upload.setAttribute('aria-busy', 'true');
    upload.disabled = true;
    try {
      await uploadPdf(room.session.id, file, titleOf(file));
      // The room's state brings the new material to every speaker.
    } catch (err) {
      showError(error, err.message);
    } finally {
      upload.removeAttribute('aria-busy');
      upload.disabled = false;
      input.value = '';
    }
  });

  const timer = setInterval(draw, 400);
  const { close } = modal({
    id: 'materials-dialog',
    title: 'Presentations',
    wide: true,
    body: [
      h('p', { class: 'lr-dialog-text' }, 'Put a PDF on stage: everyone sees the page you show. Turn pages with the arrow keys.'),
      list,
      error,
      h('div', { class: 'lr-materials-upload' }, input, upload, h('span', { class: 'lr-material-meta' }, 'PDF, up to 50 MB and 300 pages')),
    ],
    onClose: () => clearInterval(timer),
  });
  draw();
}
