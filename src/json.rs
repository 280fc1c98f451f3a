//! Small JSON helpers that cannot panic (serde_json's `v["k"] = x` panics
//! when `v` is not an object).

use serde_json::Value;

/// Sets `key` on an object; other values are left as they are.
pub fn set(v: &mut Value, key: &str, val: Value) {
    if let Some(o) = v.as_object_mut() {
        o.insert(key.to_string(), val);
    }
}

/// A string found at a JSON pointer (`/meta/version`).
pub fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}
