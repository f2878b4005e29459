// Agenda tab (everyone): the run of show from
// `agenda.items`, the current item highlighted with the time left
// (#agenda-now, #agenda-time-left, a <progress>), who is next, presenters'
// own remaining time (#my-time-left), hosts' #agenda-prev / #agenda-next
// (POST /live/agenda {item}). List: #agenda-list li[data-item] (aria-current).

import { h } from '../dom.js';
import { formatTime } from '../sessions-ui.js';
import { clockText, ic, ms, redrawIf, serverNow } from './util.js';

const KIND_LABELS = { opening: 'Opening', talk: 'Talk', qa: 'Q&A', discussion: 'Discussion', wrap_up: 'Wrap-up' };

/** Everyone sees the run of show and what's next when the session has one. */
export function showsAgenda(live) {
  return Boolean(live.agenda && (live.agenda.items || []).length);
}

/** The current item and when it should end (server clock, ms). */
export function agendaTiming(live) {
  const a = live.agenda || {};
  const items = a.items || [];
  const index = Math.min(Math.max(0, a.current || 0), items.length - 1);
  const item = items[index];
  if (!item) return null;
  const length = ms(item.ends_at) - ms(item.starts_at);
  const started = ms(a.current_started_at) || ms(live.started_at) || ms(item.starts_at);
  return { index, item, length, end: started + length, next: items[index + 1] || null, items };
}

function leftText(end) {
  const left = end - serverNow();
  return left >= 0 ? `${clockText(left)} left` : `over by ${clockText(-left)}`;
}

/** Refresh every [data-agenda-end] element (text and over-time state). */
export function tickAgenda(root) {
  for (const el of root.querySelectorAll('[data-agenda-end]')) {
    const end = Number(el.dataset.agendaEnd);
    const text = leftText(end);
    if (el.textContent !== text) el.textContent = text;
    el.classList.toggle('is-over', end < serverNow());
  }
  for (const el of root.querySelectorAll('progress[data-agenda-end]')) {
    const length = Number(el.dataset.length) || 1;
    el.value = Math.min(length, Math.max(0, length - (Number(el.dataset.agendaEnd) - serverNow())));
  }
}

export function createAgenda(room) {
  const el = h('div', { class: 'lr-panel-body lr-agenda' });

  function build(live) {
    const t = agendaTiming(live);
    if (!t) return h('p', { class: 'lr-empty-line' }, 'No run of show for this session.');
    const me = live.me;
    const mine = t.item.presenter_user_id === me.user_id;
    const label = (item) => item.title || KIND_LABELS[item.kind] || '';
    const move = (id, text, iconName, to, disabled) =>
      h(
        'button',
        {
          type: 'button',
          id,
          class: 'btn btn-secondary btn-sm',
          disabled,
          onclick: (e) => room.act(e.currentTarget, '/agenda', { item: to }),
        },
        iconName === 'skipBack' ? ic(iconName, 'icon icon-xs') : null,
        text,
        iconName === 'skipForward' ? ic(iconName, 'icon icon-xs') : null,
      );
    return [
      h(
        'section',
        { class: ['lr-agenda-now', mine && 'is-mine'], id: 'agenda-now', 'aria-labelledby': 'agenda-now-title' },
        h('p', { class: 'lr-eyebrow' }, mine ? 'Now — your turn' : 'Now'),
        h('h3', { class: 'lr-agenda-title', id: 'agenda-now-title' }, label(t.item)),
        h(
          'p',
          { class: 'lr-agenda-left' },
          ic('clock', 'icon icon-sm'),
          h('span', { id: 'agenda-time-left', dataset: { agendaEnd: String(t.end) } }, leftText(t.end)),
        ),
        h('progress', { class: 'lr-progress', max: String(t.length), value: '0', dataset: { agendaEnd: String(t.end), length: String(t.length) }, 'aria-label': 'Time used' }),
        mine
          ? h('p', { class: 'lr-my-time', id: 'my-time-left' }, 'Your time: ', h('strong', { dataset: { agendaEnd: String(t.end) } }, leftText(t.end)))
          : null,
        t.next ? h('p', { class: 'lr-agenda-next', id: 'agenda-next-item' }, h('span', { class: 'muted' }, 'Next: '), label(t.next)) : h('p', { class: 'lr-agenda-next muted' }, 'This is the last item.'),
        me.can_moderate
          ? h(
              'div',
              { class: 'lr-agenda-buttons' },
              move('agenda-prev', 'Previous', 'skipBack', t.index - 1, t.index <= 0),
              move('agenda-next', 'Next', 'skipForward', t.index + 1, t.index >= t.items.length - 1),
            )
          : null,
      ),
      h(
        'ol',
        { class: 'lr-agenda-list', id: 'agenda-list' },
        t.items.map((item, i) =>
          h(
            'li',
            {
              class: ['lr-agenda-item', i === t.index && 'is-current', i < t.index && 'is-done', item.presenter_user_id === me.user_id && 'is-you'],
              dataset: { item: i, kind: item.kind },
              'aria-current': i === t.index ? 'step' : null,
            },
            h('time', { class: 'lr-agenda-time', datetime: item.starts_at }, formatTime(item.starts_at)),
            h(
              'span',
              { class: 'lr-agenda-text' },
              h('span', { class: 'lr-agenda-item-title' }, label(item)),
              h('span', { class: 'lr-agenda-meta' }, `${KIND_LABELS[item.kind] || item.kind} · ${Math.round((ms(item.ends_at) - ms(item.starts_at)) / 60000)} min`),
            ),
          ),
        ),
      ),
    ];
  }

  function update(live) {
    const a = live.agenda || {};
    const sig = JSON.stringify([a, live.me.can_moderate, live.me.user_id]);
    redrawIf(el, sig, () => build(live));
    tickAgenda(el);
  }

  return {
    el,
    update,
    tick: () => tickAgenda(el),
  };
}
