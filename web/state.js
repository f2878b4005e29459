// Client-side app state: community config and the signed-in user.
// Views read it with getState(); the header re-renders on every change.

import { api } from './api.js';

const state = {
  config: null, // GET /api/config body, or null when it could not be loaded
  configError: null, // ApiError when /api/config failed
  me: null, // the signed-in user, or null when signed out
  meError: null, // ApiError when /api/me failed for a reason other than 401
};

const listeners = new Set();

export function getState() {
  return state;
}

export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function emit() {
  for (const fn of listeners) {
    try {
      fn(state);
    } catch (err) {
      console.error(err);
    }
  }
}

export function communityName() {
  const name = state.config && state.config.community && state.config.community.name;
  return typeof name === 'string' && name.trim() ? name.trim() : 'Podium';
}

export function communityTimeZone() {
  const tz = state.config && state.config.community && state.config.community.time_zone;
  return typeof tz === 'string' ? tz : '';
}

export function feature(name) {
  return Boolean(state.config && state.config.features && state.config.features[name]);
}

export async function loadConfig() {
  try {
    state.config = await api.get('/api/config');
    state.configError = null;
  } catch (err) {
    state.configError = err;
  }
  emit();
  return state.config;
}

/** Refresh the signed-in user. Resolves with the user or null (signed out). */
export async function loadMe() {
  try {
    const body = await api.get('/api/me');
    state.me = body && body.user ? body.user : null;
    state.meError = null;
  } catch (err) {
    if (err.status === 401) {
      state.me = null;
      state.meError = null;
    } else {
      state.meError = err;
    }
  }
  emit();
  return state.me;
}

export function setMe(user) {
  state.me = user || null;
  state.meError = null;
  emit();
}

export function setConfig(config) {
  state.config = config;
  state.configError = null;
  emit();
}

export async function signOut() {
  await api.post('/api/auth/signout');
  setMe(null);
}
