// Applies the live room's `patch` events (docs/api-live.md): after the first
// `state`, the server sends only what changed. Mirrors src/http/patch.rs.
//
// A node is {"=": value} (replace), {"{}": {key: node}, "-": [keys]} (an
// object's changed and removed keys) or {"[]": {key, upsert, remove, order}}
// (a list of objects told apart by `key`).

const idOf = (item, key) => JSON.stringify(item == null ? null : item[key]);

/** Returns the state `patch` turns `state` into (`state` is not modified). */
export function applyPatch(state, patch) {
  if (!patch || typeof patch !== 'object') return state;
  if (Object.hasOwn(patch, '=')) return patch['='];
  if (Object.hasOwn(patch, '{}')) {
    const out = state && typeof state === 'object' && !Array.isArray(state) ? { ...state } : {};
    for (const [k, node] of Object.entries(patch['{}'])) {
      out[k] = applyPatch(Object.hasOwn(out, k) ? out[k] : null, node);
    }
    for (const k of patch['-'] || []) delete out[k];
    return out;
  }
  if (Object.hasOwn(patch, '[]')) {
    const node = patch['[]'];
    const key = node.key || 'id';
    const removed = new Set((node.remove || []).map((id) => JSON.stringify(id)));
    const items = (Array.isArray(state) ? state : []).filter((v) => !removed.has(idOf(v, key)));
    for (const u of node.upsert || []) {
      const at = items.findIndex((v) => idOf(v, key) === idOf(u, key));
      if (at >= 0) items[at] = u;
      else items.push(u);
    }
    if (!node.order) return items;
    const byId = new Map(items.map((v) => [idOf(v, key), v]));
    return node.order.map((id) => byId.get(JSON.stringify(id))).filter((v) => v !== undefined);
  }
  return state;
}

/** Whether a top-level patch changes `key`. */
export function touches(patch, key) {
  return Boolean(patch && patch['{}'] && Object.hasOwn(patch['{}'], key));
}
