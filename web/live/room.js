// The live room page, /sessions/:id/live (page name "live").
//
// Flow: GET /api/sessions/{id}/live →
//   waiting  the waiting screen (polls until the host starts; hosts: Start)
//   live     the lobby (#join-room), or straight in when I'm already in the
//            room (a reload keeps the place)
//   ended    "This session has ended"
// Joining: POST /live/join → {live, media}; then the event stream
// GET /live/events (EventSource: state, chat, mute, removed, ended; the
// browser reconnects by itself, a "Reconnecting…" banner shows meanwhile) and,
// when `media` is not null, the SFU session (media.js).
//
// Hooks for tests:
//   main[data-page=live][data-ready=1]     after the first screen is drawn
//   body[data-live-state]   waiting | connecting | live | ended | removed |
//                           full | camera-blocked | reconnecting, and error
//                           for the error screens (the lobby before joining
//                           counts as waiting; data-live-screen tells them apart)
//   body[data-live-screen]  waiting | lobby | joining | room | ended | removed | full | error
//   body[data-media-state]  none (no SFU) | off | connecting | connected | closed | unsupported
//   body[data-on-stage]     1 | 0
//   window.podiumLive       {state, live(), stats(), media(), background(), client}: stats() is
//                           the MediaClient's stats() (null without media)
// Ids: see the module headers of stage.js, controls.js, sidebar.js, people.js,
// qa.js, chat.js, agenda.js, breakouts.js and screens.js; here
// #end-session, #agenda-chip, #reconnecting-banner, #media-notice,
// #camera-blocked (#retry-media), #enable-sound, #room-message.

import { applyPatch, touches } from './patch.js';
import { h, replace } from '../dom.js';
import { confirmDialog, sessionPath } from '../sessions-ui.js';
import { LiveMedia } from './media.js';
import { applyMyBackground, backgroundChoices, openBackgroundDialog } from './background-ui.js';
import { createStage } from './stage.js';
import { presenterKeys } from './slides.js';
import { createControls } from './controls.js';
import { createSidebar } from './sidebar.js';
import { createBreakoutBar, openBreakoutsDialog } from './breakouts.js';
import { agendaTiming, showsAgenda, tickAgenda } from './agenda.js';
import { endedScreen, errorScreen, fullScreen, joiningScreen, lobbyScreen, removedScreen, waitingScreen } from './screens.js';
import { ic, liveApi, ms, serverNow, syncClock, tick } from './util.js';

const CSS_HREF = '/live/room.css';

function ensureCss() {
  if (document.querySelector('link[data-live-css]')) return Promise.resolve();
  const link = h('link', { rel: 'stylesheet', href: CSS_HREF, dataset: { liveCss: '1' } });
  const loaded = new Promise((resolve) => {
    link.addEventListener('load', resolve, { once: true });
    link.addEventListener('error', resolve, { once: true });
    setTimeout(resolve, 3000);
  });
  document.head.append(link);
  return loaded;
}

export default async function render(ctx) {
  const room = new Room(ctx);
  await room.start();
  return () => room.destroy();
}

class Room {
  constructor(ctx) {
    this.ctx = ctx;
    this.id = ctx.params.id;
    this.api = liveApi(this.id);
    this.live = null;
    this.session = { id: this.id, title: '' };
    this.screen = null;
    this.es = null;
    this.esDown = false;
    this.media = null;
    this.mediaInfo = null;
    this.ui = null; // the room's parts once built
    this.timers = new Set();
    this.receivedAt = serverNow();
    this.countdownKey = null;
    this.countdownEnd = null;
    this.lastRequest = null;
    this.leaving = false;
    this.destroyed = false;
    this.rejoinAt = 0;
    this.mediaRetry = 0;
    this.recoverDelay = 2000;
    this.screenTick = null;
    this.root = h('div', { class: 'lr-page' });
    replace(ctx.root, this.root);
    this.handle = this.testApi();
    window.podiumLive = this.handle;
  }

  /* ------------------------------------------------------------ Plumbing */

  every(msInterval, fn) {
    const t = setInterval(fn, msInterval);
    this.timers.add(t);
    return t;
  }

  later(msDelay, fn) {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.destroyed) fn();
    }, msDelay);
    this.timers.add(t);
    return t;
  }

  clearTimer(t) {
    clearInterval(t);
    clearTimeout(t);
    this.timers.delete(t);
  }

  setLiveState(state) {
    document.body.dataset.liveState = state;
    this.root.dataset.state = state;
  }

  setScreen(name, el) {
    this.screen = name;
    document.body.dataset.liveScreen = name;
    if (this.screenTick) {
      this.clearTimer(this.screenTick);
      this.screenTick = null;
    }
    if (name !== 'room') this.teardownRoom();
    replace(this.root, el);
  }

  testApi() {
    const room = this;
    return {
      get state() {
        return document.body.dataset.liveState || null;
      },
      live: () => room.live,
      stats: () => (room.media ? room.media.stats() : null),
      media: () => room.mediaSummary(),
      /** The video background: {mode, kind, active, problem, stats: {frames, segmented, ms, errors}}. */
      background: () => {
        const b = room.media && room.media.background;
        return b ? { mode: b.mode, kind: b.kind, active: b.active(), problem: b.problem, stats: { ...b.stats } } : null;
      },
      get client() {
        return room.media ? room.media.client : null;
      },
    };
  }

  mediaSummary() {
    const m = this.media;
    if (!m) return { state: this.mediaInfo === null ? 'none' : 'off' };
    return {
      state: m.status,
      error: m.error,
      deviceError: m.deviceError,
      publishError: m.publishError,
      publishing: { camera: Boolean(m.cam && m.cam.trackId != null), mic: Boolean(m.mic && m.mic.trackId != null), screen: Boolean(m.screen && m.screen.trackId != null) },
      subscribed: [...m.subs.values()].map((s) => ({ track: s.track, participant: s.participant, kind: s.kind, framesDecoded: s.kind === 'video' ? m.framesDecoded(s.track) : undefined })),
      activeSpeaker: m.activeSpeaker(),
    };
  }

  /* ------------------------------------------------------------- Start */

  async start() {
    this.ctx.setTitle('Live room');
    await Promise.all([ensureCss(), syncClock()]);
    if (!this.ctx.isCurrent()) return;
    let live;
    try {
      live = await this.api.get({ signal: this.ctx.signal });
    } catch (err) {
      if (err.name === 'AbortError' || !this.ctx.isCurrent()) return;
      this.showLoadError(err);
      return;
    }
    if (!this.ctx.isCurrent()) return;
    await this.route(live);
  }

  showLoadError(err) {
    this.setLiveState('error');
    if (err.status === 401) {
      this.setScreen('error', errorScreen(null, { title: 'Sign in to join', message: 'The live room is for signed-in members.', signIn: true }));
    } else if (err.status === 404) {
      this.setScreen('error', errorScreen(null, { title: 'Session not found', message: 'This session doesn’t exist, or it isn’t published yet.' }));
    } else {
      this.setScreen(
        'error',
        errorScreen(this.session, { title: 'Couldn’t open the live room', message: err.message, onRetry: () => this.ctx.redirect(this.ctx.path) }),
      );
    }
  }

  /** Decides the screen from a snapshot fetched outside the room. */
  async route(live) {
    this.live = live;
    this.session = live.session || this.session;
    this.ctx.setTitle(`${this.session.title} · Live`);
    if (live.status === 'ended') return this.showEnded();
    if (live.status === 'waiting') return this.showWaiting(live);
    if (live.me && live.me.in_room) return this.join();
    return this.showLobby(live);
  }

  async refetchAndRoute() {
    try {
      const live = await this.api.get();
      if (!this.destroyed) await this.route(live);
    } catch (err) {
      if (!this.destroyed) this.showLoadError(err);
    }
  }

  /* ------------------------------------------------------------ Screens */

  showWaiting(live) {
    this.setLiveState('waiting');
    const w = waitingScreen(live, {
      onStart: async () => {
        const started = await this.api.post('/start');
        this.live = started;
        await this.join();
      },
    });
    this.setScreen('waiting', w.el);
    this.screenTick = this.every(1000, () => w.tick());
    this.pollWhile('waiting', 5000, (fresh) => fresh.status !== 'waiting');
  }

  showLobby(live) {
    this.setLiveState('waiting');
    // The server says whether joining puts me on stage.
    this.setScreen(
      'lobby',
      lobbyScreen(live, {
        speaker: live.me.joins_on_stage,
        onJoin: () => this.join({ fromClick: true }),
        // Speakers join on stage: they may choose and preview a background first.
        onBackground: backgroundChoices().length ? () => openBackgroundDialog() : null,
      }),
    );
    this.pollWhile('lobby', 10000, (fresh) => fresh.status !== 'live' || JSON.stringify(fresh.people) !== JSON.stringify(this.live.people));
  }

  /** Re-fetch every `interval` while on `screen`; re-route when `changed(fresh)`. */
  pollWhile(screen, interval, changed) {
    const t = this.every(interval, async () => {
      if (this.screen !== screen) {
        this.clearTimer(t);
        return;
      }
      try {
        const fresh = await this.api.get();
        if (this.screen !== screen || this.destroyed) return;
        if (changed(fresh)) {
          this.clearTimer(t);
          const focusJoin = document.activeElement && document.activeElement.id === 'join-room';
          await this.route(fresh);
          if (focusJoin) document.getElementById('join-room')?.focus();
        }
      } catch {
        // offline for a moment: the next poll tries again
      }
    });
  }

  showEnded() {
    this.closeEvents();
    this.setLiveState('ended');
    this.setScreen('ended', endedScreen(this.session));
  }

  showRemoved() {
    this.closeEvents();
    this.setLiveState('removed');
    this.setScreen('removed', removedScreen(this.session));
  }

  showFull() {
    this.setLiveState('full');
    this.setScreen('full', fullScreen(this.session, { onRetry: () => this.join({ fromClick: true }) }));
  }

  /* --------------------------------------------------------------- Join */

  async join({ fromClick = false } = {}) {
    if (this.screen !== 'room') {
      this.setLiveState('connecting');
      this.setScreen('joining', joiningScreen(this.session.title));
    }
    let res;
    try {
      res = await this.api.post('/join');
    } catch (err) {
      if (this.destroyed) return;
      return this.joinFailed(err);
    }
    if (this.destroyed) return;
    if (fromClick && this.media) this.media.resumeAudio();
    this.enterRoom(res);
  }

  joinFailed(err) {
    switch (err.code) {
      case 'room_full':
        return this.showFull();
      case 'removed':
        return this.showRemoved();
      case 'session_ended':
        return this.showEnded();
      case 'not_started':
        return this.refetchAndRoute();
      default:
        this.setLiveState('error');
        return this.setScreen(
          'error',
          errorScreen(this.session, {
            title: 'Couldn’t join the room',
            message: err.message,
            signIn: err.status === 401,
            onRetry: err.status === 401 ? null : () => this.join({ fromClick: true }),
          }),
        );
    }
  }

  /** A join from inside the room failed: final refusals end the room, the rest is retried. */
  rejoinFailed(err) {
    if (['room_full', 'removed', 'session_ended', 'not_started'].includes(err.code) || err.status === 401) {
      this.joinFailed(err);
      return true;
    }
    return false;
  }

  enterRoom(res) {
    const first = this.screen !== 'room';
    if (first) {
      this.buildRoom();
      window.scrollTo(0, 0);
      // Keyboard and screen reader users start at the room's heading.
      const title = document.getElementById('room-title');
      if (title) {
        title.setAttribute('tabindex', '-1');
        title.focus({ preventScroll: true });
      }
    }
    this.mediaInfo = res.media || null;
    document.body.dataset.mediaState = this.mediaInfo ? 'off' : 'none';
    this.apply(res.live, { force: true });
    if (!this.es) this.openEvents();
    if (this.mediaInfo) {
      if (!this.media) {
        this.media = new LiveMedia({ log: (msg) => console.debug(`[live media] ${msg}`) });
        applyMyBackground(this.media.background);
        this.media.addEventListener('change', () => this.onMediaChange());
        this.media.addEventListener('lost', () => this.onMediaLost());
      }
      // A join from inside the room (a reload of the state) keeps a working session.
      if (!this.media.connected()) {
        this.media.connect(this.mediaInfo).then(() => {
          if (this.live && this.media) this.media.update(this.live, { prepare: this.preparing() });
        });
      }
    } else if (this.media) {
      this.media.stop();
      this.media = null;
    }
    if (this.live) this.onMediaChange();
  }

  /* -------------------------------------------------------- Room layout */

  buildRoom() {
    const stage = createStage(this);
    const controls = createControls(this);
    const sidebar = createSidebar(this);
    const breakoutBar = createBreakoutBar(this);
    const banners = h('div', { class: 'lr-banners', id: 'room-banners' });
    const message = h('div', { class: 'lr-toast', id: 'room-message', role: 'alert', hidden: true });
    const title = h('h1', { class: 'lr-room-title', id: 'room-title' }, this.session.title);
    const headActions = h('div', { class: 'lr-room-actions' });
    const head = h(
      'header',
      { class: 'lr-room-head' },
      h('div', { class: 'lr-room-heading' }, h('a', { href: sessionPath(this.session.id), class: 'lr-back', 'aria-label': 'Session details' }, ic('arrowLeft')), title),
      headActions,
    );
    const el = h(
      'div',
      { class: 'lr-room', id: 'live-room' },
      head,
      banners,
      message,
      h('div', { class: 'lr-layout' }, h('div', { class: 'lr-main' }, breakoutBar.el, stage.el, controls.el), h('div', { class: 'lr-side' }, sidebar.el)),
    );
    this.setScreen('room', el);
    this.ui = { stage, controls, sidebar, breakoutBar, banners, message, headActions, el };
    this.screenTick = this.every(1000, () => this.tickRoom());
    // Browsers keep sound off until a gesture (e.g. after a reload that joined by itself).
    this.unlockAudio = () => {
      if (this.media && this.media.audioBlocked()) this.media.resumeAudio();
    };
    document.addEventListener('pointerdown', this.unlockAudio, true);
    document.addEventListener('keydown', this.unlockAudio, true);
    this.stopPresenterKeys = presenterKeys(this);
  }

  teardownRoom() {
    if (!this.ui) return;
    this.ui.stage.destroy();
    this.ui = null;
    document.removeEventListener('pointerdown', this.unlockAudio, true);
    document.removeEventListener('keydown', this.unlockAudio, true);
    if (this.stopPresenterKeys) this.stopPresenterKeys();
    this.closeEvents();
    if (this.media) {
      this.media.stop();
      this.media = null;
    }
    document.body.dataset.mediaState = 'off';
    document.body.dataset.onStage = '0';
    for (const id of ['request-dialog', 'devices-dialog', 'breakouts-dialog', 'materials-dialog', 'video-dialog']) {
      const d = document.getElementById(id);
      if (d && d.open) d.close();
    }
  }

  tickRoom() {
    if (!this.ui) return;
    tick(this.ui.el);
    tickAgenda(this.ui.el);
    this.ui.stage.tick();
    this.updateBanners();
    this.updateLiveState();
  }

  /* --------------------------------------------------------------- State */

  preparing() {
    const me = this.live && this.live.me;
    if (!me || !me.countdown_ends_at) return null;
    const r = this.lastRequest;
    if (!r || r.kind === 'hand') return { camera: false, mic: true };
    return { camera: r.camera !== false, mic: r.mic !== false };
  }

  /** A new snapshot: from the event stream, join, or an action's answer. */
  apply(live, { force = false } = {}) {
    if (!live || !live.me || this.destroyed) return;
    if (this.screen !== 'room' && !force) return;
    this.live = live;
    this.session = live.session || this.session;
    this.receivedAt = serverNow();
    if (live.status === 'ended') return this.showEnded();
    const me = live.me;
    if (!me.in_room) {
      // Dropped from the room (a long disconnect, a server restart): join again.
      if (!this.leaving && Date.now() - this.rejoinAt > 5000) {
        this.rejoinAt = Date.now();
        this.api.post('/join').then(
          (res) => this.enterRoom(res),
          (err) => this.rejoinFailed(err),
        );
      }
      return;
    }
    if (me.request) this.lastRequest = me.request;
    this.updateCountdown(live);
    if (this.media) this.media.update(live, { prepare: this.preparing() });
    document.body.dataset.onStage = me.on_stage ? '1' : '0';
    const ui = this.ui;
    if (!ui) return;
    ui.stage.update();
    ui.controls.update();
    ui.breakoutBar.update();
    ui.sidebar.update();
    this.updateHead();
    this.updateBanners();
    this.updateLiveState();
  }

  updateCountdown(live) {
    const me = live.me;
    if (!me.countdown_ends_at) {
      this.countdownKey = null;
      this.countdownEnd = null;
      return;
    }
    if (this.countdownKey === me.countdown_ends_at) return;
    this.countdownKey = me.countdown_ends_at;
    // Trust the server's deadline unless the local clock is clearly off.
    const seconds = live.limits.countdown_seconds;
    let end = ms(me.countdown_ends_at);
    const left = end - serverNow();
    if (!(left > -2000 && left < seconds * 1000 + 2000)) end = serverNow() + seconds * 1000;
    this.countdownEnd = end;
  }

  updateLiveState() {
    if (this.screen !== 'room' || !this.live) return;
    const me = this.live.me;
    let state = 'live';
    if (this.esDown) state = 'reconnecting';
    else if (this.media && this.media.deviceError && (me.on_stage || me.countdown_ends_at)) state = 'camera-blocked';
    if (document.body.dataset.liveState !== state) this.setLiveState(state);
  }

  updateHead() {
    const { headActions } = this.ui;
    const headInfo = this.ui.stage.agendaSlot;
    const live = this.live;
    const me = live.me;
    const t = showsAgenda(live) ? agendaTiming(live) : null;
    const sig = JSON.stringify([t && t.index, t && t.end, me.can_moderate, this.session.title]);
    if (headInfo.dataset.sig !== sig) {
      headInfo.dataset.sig = sig;
      document.getElementById('room-title').textContent = this.session.title;
      replace(
        headInfo,
        t
          ? h(
              'button',
              { type: 'button', class: ['lr-agenda-chip', t.item.presenter_user_id === me.user_id && 'is-mine'], id: 'agenda-chip', onclick: () => this.ui.sidebar.select('agenda', { focus: true }) },
              ic('clock', 'icon icon-xs'),
              h('span', { class: 'lr-agenda-chip-title' }, t.item.title),
              h('span', { class: 'lr-agenda-chip-left', dataset: { agendaEnd: String(t.end) } }, ''),
            )
          : null,
      );
      replace(
        headActions,
        this.mediaPath || null,
        me.can_moderate
          ? h('button', { type: 'button', class: 'btn btn-danger-outline btn-sm', id: 'end-session', onclick: () => this.endSession() }, ic('power', 'icon icon-sm'), 'End session')
          : null,
      );
      tickAgenda(headInfo);
    }
  }

  updateBanners() {
    if (!this.ui || !this.live) return;
    const me = this.live.me;
    const m = this.media;
    const items = [];
    if (this.esDown) {
      items.push(['reconnecting-banner', 'warning', h('span', { class: 'lr-spinner', 'aria-hidden': 'true' }), h('p', null, h('strong', null, 'Reconnecting… '), 'The connection to the room was lost. Your place is kept while we reconnect.')]);
    }
    if (!this.mediaInfo) {
      items.push(['media-notice', 'info', ic('info'), h('p', null, 'Audio and video are off on this server (no media server is set up). The stage, chat and Q&A still work.')]);
    } else if (m && m.status === 'unsupported') {
      items.push(['media-notice', 'error', ic('alert'), h('p', null, m.error)]);
    } else if (m && (m.status === 'connecting' || m.status === 'closed')) {
      items.push(['media-notice', 'info', h('span', { class: 'lr-spinner', 'aria-hidden': 'true' }), h('p', null, m.status === 'connecting' ? 'Connecting audio and video…' : m.problemText())]);
    } else if (m && m.publishError && me.on_stage) {
      items.push(['media-notice', 'error', ic('alert'), h('p', null, m.publishError)]);
    }
    if (m && m.deviceError && (me.on_stage || me.countdown_ends_at)) {
      items.push([
        'camera-blocked',
        'error',
        ic(m.deviceError.device === 'mic' ? 'micOff' : 'cameraOff'),
        h(
          'p',
          null,
          h('strong', null, { camera: 'Camera unavailable. ', mic: 'Microphone unavailable. ', both: 'Camera and microphone unavailable. ' }[m.deviceError.device]),
          m.deviceError.message,
        ),
        h('button', { type: 'button', class: 'btn btn-secondary btn-sm', id: 'retry-media', onclick: () => m.retryDevices() }, ic('refresh', 'icon icon-sm'), 'Retry'),
      ]);
    }
    if (m && m.audioBlocked() && m.subs.size) {
      items.push([
        'enable-sound',
        'info',
        ic('volume'),
        h('p', null, 'Your browser paused the sound.'),
        h('button', { type: 'button', class: 'btn btn-primary btn-sm', id: 'enable-sound-button', onclick: () => m.resumeAudio() }, 'Turn on sound'),
      ]);
    }
    const sig = JSON.stringify(items.map(([id, tone, ...rest]) => [id, tone, rest.map((n) => n.textContent)]));
    if (this.ui.banners.dataset.sig === sig) return;
    this.ui.banners.dataset.sig = sig;
    const focusedId = document.activeElement && this.ui.banners.contains(document.activeElement) ? document.activeElement.id : null;
    replace(
      this.ui.banners,
      items.map(([id, tone, ...children]) =>
        h('div', { class: ['banner', 'lr-banner', `lr-banner-${tone}`, tone === 'error' && 'banner-error', tone === 'info' && 'banner-info'], id, role: tone === 'error' ? 'alert' : 'status' }, children),
      ),
    );
    if (focusedId) document.getElementById(focusedId)?.focus();
  }

  onMediaChange() {
    if (!this.ui || !this.live) return;
    document.body.dataset.mediaState = this.media ? this.media.status : this.mediaInfo ? 'off' : 'none';
    document.body.dataset.mediaTransport = (this.media && this.media.status === 'connected' && this.media.transport) || '';
    this.updateMediaPath();
    this.ui.stage.update();
    this.ui.controls.update();
    this.updateBanners();
    this.updateLiveState();
  }

  /** "Media: WebTransport (UDP)" / "Media: WebSocket (TCP) — UDP seems blocked" in the header. */
  updateMediaPath() {
    const label = this.media ? this.media.pathLabel() : null;
    if (!this.mediaPath) {
      this.mediaPath = h('span', { class: 'lr-media-path', id: 'media-path', role: 'status' });
    }
    const el = this.mediaPath;
    if (!el.isConnected && this.ui && this.ui.headActions) this.ui.headActions.prepend(el);
    el.textContent = label || '';
    el.hidden = !label;
    el.dataset.transport = (this.media && this.media.transport) || '';
  }

  onMediaLost() {
    if (this.destroyed || this.leaving || this.screen !== 'room') return;
    // A fresh token comes with a new join (which keeps my place).
    this.mediaRetry = Math.min(this.mediaRetry + 1, 6);
    const delay = Math.min(30000, 1000 * 2 ** (this.mediaRetry - 1));
    this.later(delay, async () => {
      if (this.screen !== 'room' || !this.media) return;
      try {
        const res = await this.api.post('/join');
        if (this.destroyed || !this.media) return;
        this.mediaInfo = res.media || null;
        this.apply(res.live);
        if (this.mediaInfo) {
          await this.media.connect(this.mediaInfo);
          if (this.media && this.media.status === 'connected') this.mediaRetry = 0;
        }
      } catch (err) {
        if (err.code === 'removed' || err.code === 'session_ended') this.joinFailed(err);
        else this.onMediaLost();
      }
    });
  }

  /* -------------------------------------------------------- Event stream */

  openEvents() {
    this.closeEvents();
    const es = new EventSource(this.api.eventsUrl);
    this.es = es;
    const mine = (fn) => (event) => {
      if (this.es === es && !this.destroyed) fn(event);
    };
    es.addEventListener('open', mine(() => {
      this.recoverDelay = 2000;
    }));
    // The first event is the whole state; later ones are patches of the
    // state the server last described (web/live/patch.js).
    let described = null;
    es.addEventListener('state', mine((event) => {
      let live;
      try {
        live = JSON.parse(event.data);
      } catch {
        return;
      }
      described = live;
      if (this.esDown) {
        this.esDown = false;
        this.updateBanners();
      }
      this.apply(live);
    }));
    es.addEventListener('patch', mine((event) => {
      let patch;
      try {
        patch = JSON.parse(event.data);
      } catch {
        return;
      }
      if (!described) return;
      described = applyPatch(described, patch);
      // Chat history only when it changed (a new room); otherwise new
      // messages arrive as `chat` events and the list must not be reset.
      this.apply(touches(patch, 'chat') ? described : { ...described, chat: null });
    }));
    es.addEventListener('chat', mine((event) => {
      try {
        if (this.ui) this.ui.sidebar.chatMessage(JSON.parse(event.data));
      } catch {
        // a malformed message: skip it
      }
    }));
    es.addEventListener('mute', mine(() => this.onMuted()));
    for (const [type, tone] of [['media_problem', 'error'], ['notice', 'info']]) {
      es.addEventListener(type, mine((event) => {
        try {
          this.toast(JSON.parse(event.data).message, tone);
        } catch {
          // a malformed message: skip it
        }
      }));
    }
    es.addEventListener('removed', mine(() => this.showRemoved()));
    es.addEventListener('ended', mine(() => this.showEnded()));
    es.addEventListener('error', mine(() => {
      this.esDown = true;
      this.updateBanners();
      this.updateLiveState();
      if (es.readyState === EventSource.CLOSED) {
        // The server refused the stream (e.g. ended, or I'm no longer allowed): find out why.
        this.es = null;
        this.later(this.recoverDelay, () => this.recover());
        this.recoverDelay = Math.min(30000, this.recoverDelay * 2);
      }
    }));
  }

  closeEvents() {
    if (this.es) {
      this.es.close();
      this.es = null;
    }
    this.esDown = false;
  }

  async recover() {
    if (this.screen !== 'room') return;
    let live;
    try {
      live = await this.api.get();
    } catch {
      this.later(this.recoverDelay, () => this.recover());
      this.recoverDelay = Math.min(30000, this.recoverDelay * 2);
      return;
    }
    if (this.screen !== 'room') return;
    if (live.status === 'ended') return this.showEnded();
    if (!live.me.in_room) {
      try {
        const res = await this.api.post('/join');
        this.enterRoom(res);
      } catch (err) {
        if (!this.rejoinFailed(err)) this.later(this.recoverDelay, () => this.recover());
        return;
      }
    }
    this.openEvents();
  }

  onMuted() {
    const me = this.live && this.live.me;
    if (this.media) this.media.muteNow();
    this.toast('A host muted your microphone.', 'info');
    if (me && me.on_stage) this.call('/devices', { camera: me.camera, mic: false }).catch(() => {});
  }

  /* ------------------------------------------------------------- Actions */

  /** POST (or DELETE) a room action; applies the answer when the stream is down. */
  async call(rest, body, method = 'POST') {
    const res = method === 'DELETE' ? await this.api.del(rest) : await this.api.post(rest, body === null ? {} : body);
    if (res && res.me && res.status && !(this.es && this.es.readyState === EventSource.OPEN)) this.apply(res);
    return res;
  }

  /** A button's action: marks it busy, reports a refusal in #room-message. */
  async act(button, rest, body, method = 'POST') {
    if (button && button.getAttribute('aria-busy') === 'true') return null;
    if (button) button.setAttribute('aria-busy', 'true');
    try {
      return await this.call(rest, body, method);
    } catch (err) {
      this.toast(err.message);
      return null;
    } finally {
      if (button) button.removeAttribute('aria-busy');
    }
  }

  toast(message, tone = 'error') {
    if (!this.ui) return;
    const el = this.ui.message;
    el.textContent = message;
    el.dataset.tone = tone;
    el.hidden = false;
    if (this.toastTimer) this.clearTimer(this.toastTimer);
    this.toastTimer = this.later(7000, () => {
      el.hidden = true;
    });
  }

  sidebarTab() {
    return this.ui ? this.ui.sidebar.current() : null;
  }

  showQueue() {
    this.ui.sidebar.select('people');
    const title = document.getElementById('stage-queue-title');
    if (title) {
      title.setAttribute('tabindex', '-1');
      title.focus();
      title.scrollIntoView({ block: 'nearest' });
    }
  }

  setDevices({ camera, mic }) {
    if (this.media && mic && !this.live.me.mic) this.media.resumeAudio();
    return this.act(document.getElementById(mic !== this.live.me.mic ? 'toggle-mic' : 'toggle-camera'), '/devices', { camera, mic });
  }

  async requestStage({ camera, mic }) {
    this.lastRequest = { kind: 'stage', camera, mic };
    if (this.media) this.media.resumeAudio();
    await this.call('/stage/request', { kind: 'stage', camera, mic });
  }

  raiseHand() {
    this.lastRequest = { kind: 'hand', camera: false, mic: true };
    return this.act(document.getElementById('raise-hand'), '/stage/request', { kind: 'hand' });
  }

  withdrawRequest() {
    return this.act(document.getElementById('withdraw-request'), '/stage/request', null, 'DELETE');
  }

  cancelCountdown(button) {
    return this.act(button, '/stage/cancel', {});
  }

  leaveStage() {
    if (this.media) this.media.stopScreen();
    return this.act(document.getElementById('leave-stage'), '/stage/leave', {});
  }

  takeStage() {
    if (this.media) this.media.resumeAudio();
    return this.act(document.getElementById('take-stage'), '/stage/take', {});
  }

  async toggleScreen() {
    const m = this.media;
    if (!m) return;
    if (m.screen) {
      m.stopScreen();
      return;
    }
    try {
      await m.startScreen();
    } catch (err) {
      if (err && err.name === 'NotAllowedError') return; // the picker was cancelled
      this.toast(`Couldn’t share your screen: ${err.message}`);
    }
  }

  async removePerson(p) {
    const ok = await confirmDialog({
      title: `Remove ${p.name}?`,
      message: [`${p.name} leaves the session at once and can’t join it again.`],
      confirmLabel: 'Remove',
      cancelLabel: 'Keep',
      danger: true,
    });
    if (!ok || this.destroyed) return;
    await this.act(null, '/moderate', { action: 'remove', user_id: p.user_id });
  }

  async endSession() {
    const ok = await confirmDialog({
      title: 'End the session for everyone?',
      message: ['The room closes for all participants, and the session can’t be restarted.'],
      confirmLabel: 'End session',
      cancelLabel: 'Keep going',
      danger: true,
    });
    if (!ok || this.destroyed) return;
    try {
      await this.api.post('/end');
      this.showEnded();
    } catch (err) {
      this.toast(err.message);
    }
  }

  async leaveRoom() {
    this.leaving = true;
    const btn = document.getElementById('leave-room');
    if (btn) btn.disabled = true;
    try {
      await this.api.post('/leave');
    } catch {
      // leaving anyway: the server drops us when the stream closes
    }
    this.ctx.navigate(sessionPath(this.session.id));
  }

  openBreakouts() {
    openBreakoutsDialog(this);
  }

  /* ------------------------------------------------------------ Cleanup */

  destroy() {
    const inRoom = this.screen === 'room' && this.live && this.live.me.in_room;
    this.teardownRoom();
    this.destroyed = true;
    for (const t of this.timers) {
      clearInterval(t);
      clearTimeout(t);
    }
    this.timers.clear();
    if (inRoom && !this.leaving) {
      // Navigating away inside the app leaves the room (a reload keeps the place).
      fetch(`${this.api.base}/leave`, { method: 'POST', credentials: 'same-origin', keepalive: true, headers: { 'Content-Type': 'application/json' }, body: '{}' }).catch(() => {});
    }
    for (const key of ['liveState', 'liveScreen', 'mediaState', 'onStage']) delete document.body.dataset[key];
    if (window.podiumLive === this.handle) window.podiumLive = undefined;
  }
}

