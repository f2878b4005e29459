// Q&A tab: Open / Answered (#qa-tab-open, #qa-tab-answered; lists
// #qa-open-list, #qa-answered-list), open questions ranked by votes.
// Each question li[data-question-id] has an upvote toggle [data-action=vote]
// (aria-pressed = voted; data-votes), hosts and the interviewer
// [data-action=answer] (Mark answered / Reopen), hosts [data-action=hide].
// Ask form #ask-form (textarea name=text, #ask-submit, #ask-error).

import { h } from '../dom.js';
import { formatTime } from '../sessions-ui.js';
import { ic, redraw, showError } from './util.js';


export function createQa(room) {
  let view = 'open';
  const openTab = h('button', { type: 'button', class: 'lr-subtab', id: 'qa-tab-open', 'aria-pressed': 'true', onclick: () => show('open') });
  const answeredTab = h('button', { type: 'button', class: 'lr-subtab', id: 'qa-tab-answered', 'aria-pressed': 'false', onclick: () => show('answered') });
  const openList = h('ol', { class: 'lr-questions', id: 'qa-open-list', 'aria-label': 'Open questions' });
  const answeredList = h('ol', { class: 'lr-questions', id: 'qa-answered-list', 'aria-label': 'Answered questions', hidden: true });

  const text = h('textarea', {
    name: 'text',
    id: 'ask-text',
    class: 'input textarea lr-compose-input',
    rows: 2,
    placeholder: 'Ask the speakers a question…',
    required: true,
  });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-sm', id: 'ask-submit' }, 'Ask');
  const error = h('p', { class: 'lr-inline-error', id: 'ask-error', role: 'alert', hidden: true });
  const form = h(
    'form',
    { class: 'lr-compose', id: 'ask-form', novalidate: true },
    h('label', { class: 'visually-hidden', for: 'ask-text' }, 'Your question'),
    text,
    h('div', { class: 'lr-compose-foot' }, h('span', { class: 'muted small' }, 'Everyone can upvote questions.'), submit),
    error,
  );
  text.addEventListener('input', () => showError(error, ''));
  text.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const value = text.value.trim();
    if (submit.disabled) return;
    if (!value) {
      showError(error, 'Write your question first.');
      text.focus();
      return;
    }
    submit.disabled = true;
    showError(error, '');
    try {
      await room.call('/questions', { text: value });
      text.value = '';
      show('open');
    } catch (err) {
      showError(error, err.message);
    } finally {
      submit.disabled = false;
      text.focus({ preventScroll: true });
    }
  });

  const el = h(
    'div',
    { class: 'lr-panel-body lr-qa' },
    h('div', { class: 'lr-subtabs', role: 'group', 'aria-label': 'Questions' }, openTab, answeredTab),
    h('div', { class: 'lr-scroll' }, openList, answeredList),
    form,
  );

  function show(which) {
    view = which;
    openTab.setAttribute('aria-pressed', String(which === 'open'));
    answeredTab.setAttribute('aria-pressed', String(which === 'answered'));
    openList.hidden = which !== 'open';
    answeredList.hidden = which !== 'answered';
  }

  function question(q, live, answered) {
    const me = live.me;
    const vote = h(
      'button',
      {
        type: 'button',
        class: ['lr-vote', q.voted && 'is-voted'],
        dataset: { action: 'vote', key: `vote-${q.id}`, votes: q.votes },
        'aria-pressed': String(Boolean(q.voted)),
        'aria-label': q.mine ? `${q.votes} votes (your question)` : `${q.voted ? 'Remove your upvote' : 'Upvote'} (${q.votes} votes)`,
        title: q.mine ? 'You can’t upvote your own question' : q.voted ? 'Remove your upvote' : 'Upvote',
        disabled: Boolean(q.mine) || answered,
        onclick: (e) => room.act(e.currentTarget, `/questions/${q.id}/vote`, { up: !q.voted }),
      },
      ic('up', 'icon icon-sm'),
      h('span', { class: 'lr-vote-count' }, String(q.votes)),
    );
    const actions = [];
    if (me.can_answer) {
      actions.push(
        h(
          'button',
          {
            type: 'button',
            class: 'btn btn-sm btn-secondary',
            dataset: { action: 'answer', key: `answer-${q.id}` },
            onclick: (e) => room.act(e.currentTarget, `/questions/${q.id}/answer`, { answered: !answered }),
          },
          answered ? 'Reopen' : [ic('check', 'icon icon-xs'), 'Mark answered'],
        ),
      );
    }
    if (me.can_moderate) {
      actions.push(
        h(
          'button',
          {
            type: 'button',
            class: 'btn btn-sm btn-danger-ghost',
            dataset: { action: 'hide', key: `hide-${q.id}` },
            title: 'Hide this question from everyone',
            onclick: (e) => room.act(e.currentTarget, `/questions/${q.id}/hide`, {}),
          },
          ic('eyeOff', 'icon icon-xs'),
          'Hide',
        ),
      );
    }
    return h(
      'li',
      { class: ['lr-question', q.mine && 'is-mine', answered && 'is-answered'], dataset: { questionId: q.id } },
      vote,
      h(
        'div',
        { class: 'lr-question-body' },
        h('p', { class: 'lr-question-text' }, q.text),
        h(
          'p',
          { class: 'lr-question-meta' },
          h('span', null, q.name),
          q.mine ? h('span', { class: 'badge badge-you' }, 'You') : null,
          h('time', { datetime: q.at }, formatTime(q.at)),
          answered ? h('span', { class: 'lr-answered' }, ic('check', 'icon icon-xs'), 'Answered') : null,
        ),
        actions.length ? h('div', { class: 'lr-question-actions' }, actions) : null,
      ),
    );
  }

  let lastSig = '';
  function update(live) {
    text.maxLength = live.limits.question_max;
    const qs = live.questions || { open: [], answered: [] };
    const me = live.me;
    const sig = JSON.stringify([qs, me.can_answer, me.can_moderate]);
    if (sig === lastSig) return;
    lastSig = sig;
    openTab.replaceChildren('Open', h('span', { class: 'lr-count-pill' }, String(qs.open.length)));
    answeredTab.replaceChildren('Answered', h('span', { class: 'lr-count-pill' }, String(qs.answered.length)));
    redraw(
      openList,
      qs.open.length
        ? qs.open.map((q) => question(q, live, false))
        : h('li', { class: 'lr-empty-line lr-empty-block' }, ic('question', 'icon icon-lg'), h('span', null, 'No open questions yet. Ask the first one!')),
    );
    redraw(
      answeredList,
      qs.answered.length
        ? qs.answered.map((q) => question(q, live, true))
        : h('li', { class: 'lr-empty-line lr-empty-block' }, h('span', null, 'Answered questions move here.')),
    );
  }

  return { el, update, show };
}
