//! Live-room states as patches: after the first `state` event, a stream
//! sends only what changed since the state it sent before (`patch` events),
//! so one change costs each stream its size, not the size of the room.
//!
//! A patch node is one of (docs/api-live.md):
//! - `{"=": value}`: the value is replaced;
//! - `{"{}": {key: node, ...}, "-": [key, ...]}`: an object whose listed
//!   keys change (`"-"`: keys that are gone);
//! - `{"[]": {"key": "id", "upsert": [item, ...], "remove": [id, ...],
//!   "order": [id, ...]}}`: a list of objects told apart by `key` (`id` or
//!   `user_id`): changed or new items, the ids that left, and the new order
//!   of ids when it is not the old order with the removed left out and the
//!   new ones appended.
//!
//! `web/live/patch.js` applies them; [`apply`] here is the same algorithm,
//! used by tests and the benchmark to check that a patch rebuilds the state.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value, json};

/// The keys lists of objects are told apart by, in order of preference.
const ID_KEYS: [&str; 2] = ["id", "user_id"];

/// What turns `old` into `new`, or `None` when they are equal.
pub fn diff(old: &Value, new: &Value) -> Option<Value> {
    if old == new {
        return None;
    }
    Some(match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let mut changed = Map::new();
            for (k, v) in b {
                match a.get(k) {
                    Some(old_v) => {
                        if let Some(p) = diff(old_v, v) {
                            changed.insert(k.clone(), p);
                        }
                    }
                    None => {
                        changed.insert(k.clone(), json!({ "=": v }));
                    }
                }
            }
            let gone: Vec<&String> = a.keys().filter(|k| !b.contains_key(*k)).collect();
            let mut node = Map::new();
            node.insert("{}".into(), Value::Object(changed));
            if !gone.is_empty() {
                node.insert("-".into(), json!(gone));
            }
            Value::Object(node)
        }
        (Value::Array(a), Value::Array(b)) => match list_diff(a, b) {
            Some(p) => p,
            None => json!({ "=": new }),
        },
        _ => json!({ "=": new }),
    })
}

/// The identity key shared by every item of both lists, with no id twice.
fn identity<'a>(a: &'a [Value], b: &'a [Value]) -> Option<&'static str> {
    if a.is_empty() && b.is_empty() {
        return None;
    }
    ID_KEYS.into_iter().find(|k| {
        let unique = |list: &[Value]| {
            let mut seen = HashSet::new();
            list.iter().all(|item| {
                item.get(*k)
                    .filter(|id| id.is_number() || id.is_string())
                    .is_some_and(|id| seen.insert(id.to_string()))
            })
        };
        unique(a) && unique(b)
    })
}

fn list_diff(a: &[Value], b: &[Value]) -> Option<Value> {
    let key = identity(a, b)?;
    let old: HashMap<String, &Value> = a.iter().map(|v| (v[key].to_string(), v)).collect();
    let new_ids: HashSet<String> = b.iter().map(|v| v[key].to_string()).collect();
    let upsert: Vec<&Value> = b
        .iter()
        .filter(|v| old.get(&v[key].to_string()) != Some(v))
        .collect();
    let remove: Vec<&Value> = a
        .iter()
        .filter(|v| !new_ids.contains(&v[key].to_string()))
        .map(|v| &v[key])
        .collect();
    // The order the client gets without being told: the old order without
    // the removed, then the new items as they come.
    let implied: Vec<String> = a
        .iter()
        .map(|v| v[key].to_string())
        .filter(|id| new_ids.contains(id))
        .chain(
            b.iter()
                .map(|v| v[key].to_string())
                .filter(|id| !old.contains_key(id)),
        )
        .collect();
    let actual: Vec<String> = b.iter().map(|v| v[key].to_string()).collect();
    let mut node = Map::new();
    node.insert("key".into(), json!(key));
    if !upsert.is_empty() {
        node.insert("upsert".into(), json!(upsert));
    }
    if !remove.is_empty() {
        node.insert("remove".into(), json!(remove));
    }
    if implied != actual {
        node.insert(
            "order".into(),
            json!(b.iter().map(|v| &v[key]).collect::<Vec<_>>()),
        );
    }
    Some(json!({ "[]": node }))
}

/// Applies a patch made by [`diff`] to `state`.
pub fn apply(state: &mut Value, patch: &Value) {
    if let Some(v) = patch.get("=") {
        *state = v.clone();
        return;
    }
    if let Some(Value::Object(changed)) = patch.get("{}") {
        if !state.is_object() {
            *state = Value::Object(Map::new());
        }
        let obj = state.as_object_mut().expect("an object");
        for (k, node) in changed {
            apply(obj.entry(k.clone()).or_insert(Value::Null), node);
        }
        if let Some(Value::Array(gone)) = patch.get("-") {
            for k in gone.iter().filter_map(Value::as_str) {
                obj.remove(k);
            }
        }
        return;
    }
    if let Some(node) = patch.get("[]") {
        let key = node["key"].as_str().unwrap_or("id");
        let list = match state {
            Value::Array(list) => std::mem::take(list),
            _ => Vec::new(),
        };
        let removed: HashSet<String> = node["remove"]
            .as_array()
            .map(|r| r.iter().map(Value::to_string).collect())
            .unwrap_or_default();
        let mut items: Vec<Value> = list
            .into_iter()
            .filter(|v| !removed.contains(&v[key].to_string()))
            .collect();
        for u in node["upsert"].as_array().into_iter().flatten() {
            match items.iter_mut().find(|v| v[key] == u[key]) {
                Some(slot) => *slot = u.clone(),
                None => items.push(u.clone()),
            }
        }
        if let Some(order) = node["order"].as_array() {
            let mut by_id: HashMap<String, Value> =
                items.into_iter().map(|v| (v[key].to_string(), v)).collect();
            items = order
                .iter()
                .filter_map(|id| by_id.remove(&id.to_string()))
                .collect();
        }
        *state = Value::Array(items);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(a: Value, b: Value) -> Option<Value> {
        let p = diff(&a, &b);
        let mut s = a.clone();
        if let Some(p) = &p {
            apply(&mut s, p);
        }
        assert_eq!(s, b, "patch {p:?}");
        p
    }

    #[test]
    fn equal_states_need_no_patch() {
        assert_eq!(round_trip(json!({"a": [1, 2]}), json!({"a": [1, 2]})), None);
    }

    #[test]
    fn objects_carry_only_the_changed_keys() {
        let p = round_trip(
            json!({"a": 1, "b": {"c": 2, "d": 3}, "gone": true}),
            json!({"a": 1, "b": {"c": 2, "d": 4}, "new": "x"}),
        )
        .unwrap();
        assert_eq!(
            p,
            json!({"{}": {"b": {"{}": {"d": {"=": 4}}}, "new": {"=": "x"}}, "-": ["gone"]})
        );
    }

    #[test]
    fn lists_of_people_carry_only_who_changed() {
        let person =
            |id: u64, on: bool| json!({"user_id": id, "name": format!("P{id}"), "on_stage": on});
        let a = json!((1..=50).map(|i| person(i, false)).collect::<Vec<_>>());
        let mut b: Vec<Value> = (1..=50).map(|i| person(i, i == 7)).collect();
        b.retain(|p| p["user_id"] != 9);
        b.push(person(51, false));
        let p = round_trip(a, json!(b)).unwrap();
        let node = &p["[]"];
        assert_eq!(node["key"], "user_id");
        assert_eq!(node["upsert"].as_array().unwrap().len(), 2);
        assert_eq!(node["remove"], json!([9]));
        assert!(node.get("order").is_none(), "{p}");
    }

    #[test]
    fn a_new_order_is_said() {
        let q = |id: u64, votes: u64| json!({"id": id, "votes": votes});
        let p = round_trip(
            json!([q(1, 3), q(2, 2), q(3, 1)]),
            json!([q(3, 4), q(1, 3), q(2, 2)]),
        )
        .unwrap();
        assert_eq!(p["[]"]["order"], json!([3, 1, 2]));
        assert_eq!(p["[]"]["upsert"], json!([q(3, 4)]));
    }

    #[test]
    fn lists_without_ids_and_type_changes_are_replaced() {
        round_trip(json!({"s": [1, 2]}), json!({"s": [2, 1]}));
        round_trip(
            json!({"s": [{"id": 1}, {"id": 1}]}),
            json!({"s": [{"id": 1}]}),
        );
        round_trip(json!({"s": null}), json!({"s": {"a": [1]}}));
        round_trip(json!({"s": [{"id": 1}]}), json!({"s": []}));
        round_trip(json!({"s": []}), json!({"s": [{"id": "x"}]}));
        round_trip(json!([]), json!({}));
    }
}
