// Form building blocks: labelled fields with hints and inline errors, a
// password field with a show/hide toggle, the page's #form-error alert region
// and a submit helper that maps API errors onto fields.

import { h, uniqueId } from './dom.js';
import { ApiError } from './api.js';

/**
 * A labelled input. Returns { el, input, setError, clearError }.
 * opts: name, label, type, value, hint, autocomplete, required, multiline,
 *       rows, placeholder, inputmode, spellcheck, describedBy (extra ids),
 *       counter (node shown beside the hint, e.g. a character count)
 */
export function field(opts) {
  const id = opts.id || uniqueId(`f-${opts.name}`);
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;

  const attrs = {
    id,
    name: opts.name,
    class: 'input',
    autocomplete: opts.autocomplete,
    required: opts.required || null,
    'aria-required': opts.required ? 'true' : null,
    placeholder: opts.placeholder,
    inputmode: opts.inputmode,
    spellcheck: opts.spellcheck,
    autocapitalize: opts.autocapitalize,
    minlength: opts.minlength,
    maxlength: opts.maxlength,
    readonly: opts.readonly || null,
  };
  const input = opts.multiline
    ? h('textarea', { ...attrs, rows: opts.rows || 4, class: 'input textarea' })
    : h('input', { ...attrs, type: opts.type || 'text' });
  input.value = opts.value ?? '';

  const hint = opts.hint ? h('p', { class: 'field-hint', id: hintId }, opts.hint) : null;
  const error = h('p', { class: 'field-error', id: errorId, hidden: true });

  const describe = () => {
    const ids = [];
    if (hint) ids.push(hintId);
    if (opts.describedBy) ids.push(...[].concat(opts.describedBy));
    if (!error.hidden) ids.push(errorId);
    if (ids.length) input.setAttribute('aria-describedby', ids.join(' '));
    else input.removeAttribute('aria-describedby');
  };

  const control = opts.wrapInput ? opts.wrapInput(input) : input;

  const el = h(
    'div',
    { class: ['field', opts.class] },
    h(
      'label',
      { class: 'label', for: id },
      opts.label,
      opts.optional ? h('span', { class: 'label-optional' }, ' (optional)') : null,
    ),
    control,
    opts.counter ? h('div', { class: 'field-foot' }, hint || h('span'), opts.counter) : hint,
    error,
  );

  function setError(message) {
    error.replaceChildren(message);
    error.hidden = false;
    input.setAttribute('aria-invalid', 'true');
    el.classList.add('has-error');
    describe();
  }
  function clearError() {
    if (error.hidden) return;
    error.replaceChildren();
    error.hidden = true;
    input.removeAttribute('aria-invalid');
    el.classList.remove('has-error');
    describe();
  }

  input.addEventListener('input', clearError);
  describe();
  return { el, input, setError, clearError };
}

/** A password field with a Show/Hide toggle button. */
export function passwordField(opts) {
  let input;
  let toggle;
  const f = field({
    ...opts,
    type: 'password',
    spellcheck: 'false',
    autocapitalize: 'off',
    wrapInput(el) {
      input = el;
      input.classList.add('input-with-action');
      toggle = h(
        'button',
        {
          type: 'button',
          class: 'input-action',
          'aria-controls': el.id,
          'aria-pressed': 'false',
          'aria-label': 'Show password',
          onclick() {
            const show = input.type === 'password';
            input.type = show ? 'text' : 'password';
            toggle.setAttribute('aria-pressed', String(show));
            toggle.setAttribute('aria-label', show ? 'Hide password' : 'Show password');
            toggle.textContent = show ? 'Hide' : 'Show';
            input.focus();
          },
        },
        'Show',
      );
      return h('div', { class: 'input-group' }, el, toggle);
    },
  });
  return { ...f, toggle };
}

/** The page's alert region for form errors (id="form-error"). */
export function formErrorRegion() {
  return h('div', { id: 'form-error', class: 'form-error', role: 'alert' });
}

/** A polite status region for success messages. */
export function formStatusRegion() {
  return h('div', { id: 'form-status', class: 'form-status', role: 'status' });
}

export function showFormError(region, message) {
  region.replaceChildren();
  if (message) region.append(message);
}

/**
 * Wire a form's submit event.
 *   fields:  { jsonKey: fieldObject } for inline errors
 *   errorEl: the #form-error region
 *   button:  the submit button; busyLabel: its text while submitting
 *   validate(): optional; return [{field, message}] for client-side problems
 *   onSubmit(): async; throw ApiError to show it
 */
export function handleSubmit(form, { fields = {}, errorEl, statusEl, button, busyLabel, validate, onSubmit }) {
  let busy = false;
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (busy) return;

    for (const f of Object.values(fields)) f.clearError();
    showFormError(errorEl, '');
    if (statusEl) statusEl.replaceChildren();

    const problems = validate ? validate() : [];
    if (problems && problems.length) {
      for (const p of problems) if (fields[p.field]) fields[p.field].setError(p.message);
      showFormError(
        errorEl,
        problems.length === 1 ? problems[0].message : 'Please fix the highlighted fields.',
      );
      const first = fields[problems[0].field];
      if (first) first.input.focus();
      return;
    }

    busy = true;
    const label = button.textContent;
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    if (busyLabel) button.textContent = busyLabel;
    try {
      await onSubmit();
    } catch (err) {
      reportError(err, { fields, errorEl });
    } finally {
      busy = false;
      button.disabled = false;
      button.removeAttribute('aria-busy');
      button.textContent = label;
    }
  });
}

/** Show an error in the alert region and, when it names a field, next to it. */
export function reportError(err, { fields = {}, errorEl }) {
  if (err && err.name === 'AbortError') return;
  if (!(err instanceof ApiError)) console.error(err);
  const message =
    err instanceof ApiError ? err.message : 'Something went wrong. Please try again.';
  showFormError(errorEl, message);
  const target = err && err.field ? fields[err.field] : null;
  if (target) {
    target.setError(message);
    target.input.focus();
  }
}

export function submitButton(label, extraClass) {
  return h('button', { type: 'submit', class: ['btn btn-primary', extraClass] }, label);
}

/**
 * Where to go after signing in: `?next=` when it is a same-site path, or the
 * fallback. Rejects protocol-relative ("//evil") and backslash tricks.
 */
export function safeNext(query, fallback = '/profile') {
  const next = query.get('next');
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) {
    return fallback;
  }
  try {
    const url = new URL(next, window.location.origin);
    if (url.origin !== window.location.origin) return fallback;
    if (url.pathname.startsWith('/api/')) return fallback;
    return url.pathname + url.search + url.hash;
  } catch {
    return fallback;
  }
}

/** The centred card used by the sign-in, sign-up and setup pages. */
export function authCard({ title, lead, body, foot }) {
  return h(
    'div',
    { class: 'container auth-wrap' },
    h(
      'div',
      { class: 'card auth-card' },
      h('div', { class: 'auth-head' }, h('h1', { class: 'auth-title' }, title), lead ? h('p', { class: 'auth-lead' }, lead) : null),
      body,
    ),
    foot ? h('p', { class: 'auth-foot' }, foot) : null,
  );
}

/** Display name, email and password fields shared by sign-up and setup. */
export function accountFields({ passwordHint = 'At least 8 characters.' } = {}) {
  return {
    name: field({
      name: 'name',
      label: 'Display name',
      autocomplete: 'name',
      required: true,
      hint: 'Shown to other members. You can change it later.',
    }),
    email: field({
      name: 'email',
      label: 'Email',
      type: 'email',
      autocomplete: 'email',
      inputmode: 'email',
      spellcheck: 'false',
      autocapitalize: 'off',
      required: true,
      hint: 'Used to sign in and for session emails. Never shown to other members.',
    }),
    password: passwordField({
      name: 'password',
      label: 'Password',
      autocomplete: 'new-password',
      required: true,
      minlength: 8,
      hint: passwordHint,
    }),
  };
}

/** Client-side checks for blank required fields: [{field, message}]. */
export function requireFilled(fields, messages) {
  const problems = [];
  for (const [key, message] of Object.entries(messages)) {
    const f = fields[key];
    if (f && !f.input.value.trim()) problems.push({ field: key, message });
  }
  return problems;
}
