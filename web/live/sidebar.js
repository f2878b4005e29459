// The sidebar: tabs People / Q&A / Chat (+ Agenda when the session has a run
// of show, + Company for event sessions). Tabs are buttons #tab-people,
// #tab-qa, #tab-chat, #tab-agenda, #tab-company (role=tab, aria-selected);
// panels #panel-people, #panel-qa, #panel-chat, #panel-agenda, #panel-company.
// Arrow keys move between tabs.

import { h } from '../dom.js';
import { ic } from './util.js';
import { createPeople } from './people.js';
import { createQa } from './qa.js';
import { createChat } from './chat.js';
import { createAgenda, showsAgenda } from './agenda.js';
import { createCompany, showsCompany } from './company.js';

const TABS = [
  { name: 'people', label: 'People', iconName: 'users' },
  { name: 'qa', label: 'Q&A', iconName: 'question' },
  { name: 'chat', label: 'Chat', iconName: 'chat' },
  { name: 'agenda', label: 'Agenda', iconName: 'list' },
  { name: 'company', label: 'Company', iconName: 'briefcase' },
];

export function createSidebar(room) {
  const parts = {
    people: createPeople(room),
    qa: createQa(room),
    chat: createChat(room),
    agenda: createAgenda(room),
    company: createCompany(room),
  };
  const tabs = {};
  const panels = {};
  const counts = {};
  let current = null;

  const tablist = h('div', { class: 'lr-tabs', role: 'tablist', 'aria-label': 'Room panels' });
  for (const t of TABS) {
    counts[t.name] = h('span', { class: 'lr-tab-count', hidden: true });
    tabs[t.name] = h(
      'button',
      {
        type: 'button',
        role: 'tab',
        id: `tab-${t.name}`,
        class: 'lr-tab',
        'aria-selected': 'false',
        'aria-controls': `panel-${t.name}`,
        tabindex: '-1',
        onclick: () => select(t.name, { focus: false }),
      },
      ic(t.iconName, 'icon icon-sm'),
      h('span', null, t.label),
      counts[t.name],
    );
    panels[t.name] = h(
      'div',
      { class: 'lr-panel', role: 'tabpanel', id: `panel-${t.name}`, 'aria-labelledby': `tab-${t.name}`, hidden: true },
      parts[t.name].el,
    );
    tablist.append(tabs[t.name]);
  }
  tablist.addEventListener('keydown', (event) => {
    const visible = TABS.map((t) => t.name).filter((n) => !tabs[n].hidden);
    const i = visible.indexOf(current);
    let next = null;
    if (event.key === 'ArrowRight') next = visible[(i + 1) % visible.length];
    else if (event.key === 'ArrowLeft') next = visible[(i - 1 + visible.length) % visible.length];
    else if (event.key === 'Home') next = visible[0];
    else if (event.key === 'End') next = visible[visible.length - 1];
    if (next) {
      event.preventDefault();
      select(next, { focus: true });
    }
  });

  const el = h(
    'aside',
    { class: 'lr-sidebar', id: 'sidebar', 'aria-label': 'People, questions and chat' },
    tablist,
    h('div', { class: 'lr-panels' }, TABS.map((t) => panels[t.name])),
  );

  function select(name, { focus = false } = {}) {
    if (tabs[name].hidden) name = 'people';
    current = name;
    for (const t of TABS) {
      const on = t.name === name;
      tabs[t.name].setAttribute('aria-selected', String(on));
      tabs[t.name].tabIndex = on ? 0 : -1;
      panels[t.name].hidden = !on;
    }
    if (focus) tabs[name].focus();
    if (parts[name].shown) parts[name].shown();
    if (name === 'chat') setCount('chat', 0);
    el.dataset.tab = name;
  }

  function setCount(name, n, { alert = false } = {}) {
    const c = counts[name];
    c.hidden = !n;
    c.textContent = n ? String(n) : '';
    c.classList.toggle('is-alert', alert);
  }

  function update() {
    const live = room.live;
    const me = live.me;
    tabs.agenda.hidden = !showsAgenda(live);
    tabs.company.hidden = !showsCompany(live);
    tablist.dataset.tabs = String(TABS.filter((t) => !tabs[t.name].hidden).length);
    if (!current) select(me.can_moderate ? 'people' : 'chat');
    else if (tabs[current].hidden) select('people');
    for (const p of Object.values(parts)) p.update(live);
    const queue = (live.queue || []).length;
    setCount('people', me.can_moderate && queue ? queue : 0, { alert: true });
    setCount('qa', (live.questions && live.questions.open ? live.questions.open.length : 0));
    setCount('chat', current === 'chat' ? 0 : parts.chat.unread(), { alert: true });
  }

  return {
    el,
    parts,
    select,
    update,
    current: () => current,
    chatMessage(msg) {
      parts.chat.add(msg);
      setCount('chat', current === 'chat' ? 0 : parts.chat.unread(), { alert: true });
    },
    tick() {
      parts.people.tick();
      parts.agenda.tick();
    },
  };
}
