//! The JSON tree the model is read from: compact, and borrowing its strings from the text.
//!
//! Why not `serde_json::Value`: its objects are B-trees, each a node of eleven slots however
//! few keys it holds, and every string is its own allocation. MDS 3.0's 516 KB of JSON made
//! a `Value` of about 2.6 MB in wasm memory, held beside the text and the model being read
//! from it; wasm memory never shrinks back, so that peak stayed the page's for good. A
//! [`Node`]'s object is a vector of its members, sorted by key (so it reads, iterates and
//! keeps duplicates exactly as `serde_json::Map` does: the last of a repeated key wins), and
//! a string without escapes is a slice of the text.
//!
//! Syntax, numbers and nesting limits are serde_json's own (the tree is deserialised by it),
//! so a syntax error names the same line and column as before.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::json::{Json, JsonMap};

/// One JSON value, its strings borrowed from the text `'t` where they have no escapes.
#[derive(Debug, Clone, PartialEq)]
pub enum Node<'t> {
    Null,
    Bool(bool),
    /// Numbers as serde_json reads them: a non-negative integer, a negative one, or a float.
    UInt(u64),
    Int(i64),
    Float(f64),
    String(Cow<'t, str>),
    Array(Vec<Node<'t>>),
    /// Members sorted by key, each key once (see the module's comment).
    Object(Vec<(Cow<'t, str>, Node<'t>)>),
}

/// An object's members.
pub type Members<'t> = [(Cow<'t, str>, Node<'t>)];

impl<'t> Node<'t> {
    /// Parse JSON text (no byte-order-mark handling: see [`crate::json::parse_node`]).
    pub fn parse(text: &'t str) -> Result<Node<'t>, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// A copy of a `serde_json` tree's shape, its strings borrowed: the tests' way to compare
    /// the trees (readers take a [`JsonRef`] of either, in place).
    #[cfg(test)]
    fn view(v: &'t Json) -> Node<'t> {
        match v {
            Json::Null => Node::Null,
            Json::Bool(b) => Node::Bool(*b),
            Json::Number(n) => match num_of(n) {
                Num::UInt(u) => Node::UInt(u),
                Num::Int(i) => Node::Int(i),
                Num::Float(f) => Node::Float(f),
            },
            Json::String(s) => Node::String(Cow::Borrowed(s)),
            Json::Array(a) => Node::Array(a.iter().map(Node::view).collect()),
            // A `serde_json::Map` is already sorted and without duplicates.
            Json::Object(m) => Node::Object(m.iter().map(|(k, v)| (Cow::Borrowed(k.as_str()), Node::view(v))).collect()),
        }
    }

    /// The same value as a `serde_json` tree (what the model keeps of elements it does not name).
    pub fn to_json(&self) -> Json {
        match self {
            Node::Null => Json::Null,
            Node::Bool(b) => Json::Bool(*b),
            Node::String(s) => Json::String(s.to_string()),
            Node::Array(a) => Json::Array(a.iter().map(Node::to_json).collect()),
            Node::Object(m) => {
                // Inserted one by one: `Map::insert` is in the module already; collecting
                // would link the B-tree's bulk build for this iterator type too.
                let mut out = JsonMap::new();
                for (k, v) in m.iter() {
                    out.insert(k.to_string(), v.to_json());
                }
                Json::Object(out)
            }
            _ => JsonRef::Node(self).as_num().and_then(Num::to_number).map_or(Json::Null, Json::Number),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Node::Null)
    }

    /// A member of an object (binary search: members are sorted).
    pub fn get(&self, key: &str) -> Option<&Node<'t>> {
        match self {
            Node::Object(m) => get_member(m, key).map(|(_, v)| v),
            _ => None,
        }
    }
}

/// A value the model is read from: in a [`Node`] tree (a text parsed for reading) or in a
/// `serde_json` tree someone holds (a chart kept for its searches, a catalog entry). Both
/// read the same, with no copy of either: a view built as a `Node` cost a chart of 100,000
/// observations a third more time.
#[derive(Debug, Clone, Copy)]
pub enum JsonRef<'a> {
    Node(&'a Node<'a>),
    Value(&'a Json),
}

/// A number as either tree holds it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Num {
    UInt(u64),
    Int(i64),
    Float(f64),
}

impl Num {
    /// As serde_json holds it (for its `Display`: messages read the same from either tree).
    pub fn to_number(self) -> Option<serde_json::Number> {
        match self {
            Num::UInt(u) => Some(u.into()),
            Num::Int(i) => Some(i.into()),
            Num::Float(f) => serde_json::Number::from_f64(f),
        }
    }

    /// As `serde_json::Number::as_f64` converts.
    pub fn as_f64(self) -> f64 {
        match self {
            Num::UInt(u) => u as f64,
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }
}

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_number() {
            Some(n) => fmt::Display::fmt(&n, f),
            None => f.write_str("null"),
        }
    }
}

/// An array of either tree.
#[derive(Debug, Clone, Copy)]
pub enum ArrayRef<'a> {
    Node(&'a [Node<'a>]),
    Value(&'a [Json]),
}

impl<'a> ArrayRef<'a> {
    pub fn len(self) -> usize {
        match self {
            ArrayRef::Node(a) => a.len(),
            ArrayRef::Value(a) => a.len(),
        }
    }

    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    pub fn get(self, i: usize) -> Option<JsonRef<'a>> {
        match self {
            ArrayRef::Node(a) => a.get(i).map(JsonRef::Node),
            ArrayRef::Value(a) => a.get(i).map(JsonRef::Value),
        }
    }
}

/// An object of either tree: its members sorted by key, each key once.
#[derive(Debug, Clone, Copy)]
pub enum ObjRef<'a> {
    Node(&'a Members<'a>),
    Value(&'a JsonMap),
}

impl<'a> ObjRef<'a> {
    pub fn len(self) -> usize {
        match self {
            ObjRef::Node(m) => m.len(),
            ObjRef::Value(m) => m.len(),
        }
    }

    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// A member, with its key as stored (the same key is the same pointer each time).
    pub fn get_key_value(self, key: &str) -> Option<(&'a str, JsonRef<'a>)> {
        match self {
            ObjRef::Node(m) => get_member(m, key).map(|(k, v)| (k, JsonRef::Node(v))),
            ObjRef::Value(m) => m.get_key_value(key).map(|(k, v)| (k.as_str(), JsonRef::Value(v))),
        }
    }

    /// The members in key order.
    pub fn members(self) -> MemberIter<'a> {
        match self {
            ObjRef::Node(m) => MemberIter::Node(m.iter()),
            ObjRef::Value(m) => MemberIter::Value(m.iter()),
        }
    }
}

/// An object's members in key order ([`ObjRef::members`]).
pub enum MemberIter<'a> {
    Node(std::slice::Iter<'a, (Cow<'a, str>, Node<'a>)>),
    Value(serde_json::map::Iter<'a>),
}

impl<'a> Iterator for MemberIter<'a> {
    type Item = (&'a str, JsonRef<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            MemberIter::Node(it) => it.next().map(|(k, v)| (k.as_ref(), JsonRef::Node(v))),
            MemberIter::Value(it) => it.next().map(|(k, v)| (k.as_str(), JsonRef::Value(v))),
        }
    }
}

impl<'a> JsonRef<'a> {
    pub fn is_null(self) -> bool {
        matches!(self, JsonRef::Node(Node::Null) | JsonRef::Value(Json::Null))
    }

    pub fn as_str(self) -> Option<&'a str> {
        match self {
            JsonRef::Node(Node::String(s)) => Some(s),
            JsonRef::Value(Json::String(s)) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(self) -> Option<bool> {
        match self {
            JsonRef::Node(Node::Bool(b)) | JsonRef::Value(Json::Bool(b)) => Some(*b),
            _ => None,
        }
    }

    pub fn as_num(self) -> Option<Num> {
        match self {
            JsonRef::Node(Node::UInt(u)) => Some(Num::UInt(*u)),
            JsonRef::Node(Node::Int(i)) => Some(Num::Int(*i)),
            JsonRef::Node(Node::Float(f)) => Some(Num::Float(*f)),
            JsonRef::Value(Json::Number(n)) => Some(num_of(n)),
            _ => None,
        }
    }

    pub fn as_array(self) -> Option<ArrayRef<'a>> {
        match self {
            JsonRef::Node(Node::Array(a)) => Some(ArrayRef::Node(a)),
            JsonRef::Value(Json::Array(a)) => Some(ArrayRef::Value(a)),
            _ => None,
        }
    }

    pub fn as_object(self) -> Option<ObjRef<'a>> {
        match self {
            JsonRef::Node(Node::Object(m)) => Some(ObjRef::Node(m)),
            JsonRef::Value(Json::Object(m)) => Some(ObjRef::Value(m)),
            _ => None,
        }
    }

    /// A member of an object.
    pub fn get(self, key: &str) -> Option<JsonRef<'a>> {
        self.as_object()?.get_key_value(key).map(|(_, v)| v)
    }

    /// The JSON kind, for messages.
    pub fn kind(self) -> &'static str {
        match self {
            JsonRef::Node(Node::Null) | JsonRef::Value(Json::Null) => "null",
            JsonRef::Node(Node::Bool(_)) | JsonRef::Value(Json::Bool(_)) => "a boolean",
            JsonRef::Node(Node::String(_)) | JsonRef::Value(Json::String(_)) => "a string",
            JsonRef::Node(Node::Array(_)) | JsonRef::Value(Json::Array(_)) => "an array",
            JsonRef::Node(Node::Object(_)) | JsonRef::Value(Json::Object(_)) => "an object",
            _ => "a number",
        }
    }

    /// The value as a `serde_json` tree (what the model keeps of elements it does not name).
    pub fn to_json(self) -> Json {
        match self {
            JsonRef::Node(n) => n.to_json(),
            JsonRef::Value(v) => v.clone(),
        }
    }
}

fn num_of(n: &serde_json::Number) -> Num {
    if let Some(u) = n.as_u64() {
        Num::UInt(u)
    } else if let Some(i) = n.as_i64() {
        Num::Int(i)
    } else {
        Num::Float(n.as_f64().unwrap_or(f64::NAN))
    }
}

/// The member `key` of `members`, with the key as stored.
pub fn get_member<'a, 't>(members: &'a Members<'t>, key: &str) -> Option<(&'a str, &'a Node<'t>)> {
    let i = members.binary_search_by(|(k, _)| k.as_ref().cmp(key)).ok()?;
    let (k, v) = &members[i];
    Some((k.as_ref(), v))
}

impl<'de> Deserialize<'de> for Node<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Node<'de>, E> {
        Ok(Node::Bool(b))
    }

    fn visit_i64<E>(self, i: i64) -> Result<Node<'de>, E> {
        Ok(Node::Int(i))
    }

    fn visit_u64<E>(self, u: u64) -> Result<Node<'de>, E> {
        Ok(Node::UInt(u))
    }

    fn visit_f64<E>(self, f: f64) -> Result<Node<'de>, E> {
        Ok(Node::Float(f))
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Node<'de>, E> {
        Ok(Node::String(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Node<'de>, E> {
        Ok(Node::String(Cow::Owned(s.to_owned())))
    }

    fn visit_string<E>(self, s: String) -> Result<Node<'de>, E> {
        Ok(Node::String(Cow::Owned(s)))
    }

    fn visit_unit<E>(self) -> Result<Node<'de>, E> {
        Ok(Node::Null)
    }

    fn visit_none<E>(self) -> Result<Node<'de>, E> {
        Ok(Node::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node<'de>, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element()? {
            items.push(v);
        }
        // Exactly sized: a growing vector's spare room would be held for the tree's life.
        items.shrink_to_fit();
        Ok(Node::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node<'de>, A::Error> {
        // Room for the usual element at once (pushing from empty reallocates at 4 and 8).
        let mut members: Vec<(Cow<'de, str>, Node<'de>)> = Vec::with_capacity(8);
        while let Some(Key(k)) = map.next_key()? {
            let v = map.next_value()?;
            members.push((k, v));
        }
        let mut members = sorted_members(members);
        members.shrink_to_fit();
        Ok(Node::Object(members))
    }
}

/// `members` sorted by key, a repeated key's last value kept, as in a `serde_json::Map`.
///
/// Stable, so a repeated key's entries stay in document order and the last of them is the one
/// kept. A small object (nearly all of them) is sorted in place by insertion, allocating
/// nothing; a larger one by `intake-order`'s sort (compiled once for the whole module: the
/// standard library's stable sort, instantiated for this element type, was 6 KB of wasm),
/// O(n log n) whatever its size. Either way the same dedup keeps the last of a key.
fn sorted_members<'t>(mut members: Vec<(Cow<'t, str>, Node<'t>)>) -> Vec<(Cow<'t, str>, Node<'t>)> {
    // Usual for small objects written by tools that sort their keys, and cheap to see.
    if members.windows(2).all(|w| w[0].0 < w[1].0) {
        return members;
    }
    if members.len() <= 16 {
        for i in 1..members.len() {
            // Only past a strictly greater key: equal keys keep their order.
            let mut j = i;
            while j > 0 && members[j - 1].0 > members[j].0 {
                members.swap(j - 1, j);
                j -= 1;
            }
        }
    } else {
        intake_order::sort_by(&mut members, |a, b| a.0.cmp(&b.0));
    }
    // Of a run of one key, the last (the document's last) moves into the kept first place.
    members.dedup_by(|later, earlier| {
        let same = later.0 == earlier.0;
        if same {
            std::mem::swap(later, earlier);
        }
        same
    });
    members
}

/// An object key, borrowed from the text when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(s.to_owned())))
    }

    fn visit_string<E>(self, s: String) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(s)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads like `serde_json::Value`: the same tree once converted, for every corner of the syntax.
    #[test]
    fn same_tree_as_serde_json() {
        let texts = [
            r#"{"b":1,"a":[true,false,null],"c":{"z":"x\"y","y":-2,"x":1.5e3,"w":18446744073709551615}}"#,
            r#"{"k":1,"k":2,"j":{"k":3},"k":"last"}"#,
            r#"["\u00e9t\u00e9", "plain", 0, -0, 0.1, -0.0, 2.0, -9223372036854775808, {}]"#,
            r#""just a string""#,
            r#"  12  "#,
            r#"{"": 1, "😀": {"a\nb": []}}"#,
        ];
        for text in texts {
            let tree: Json = serde_json::from_str(text).expect(text);
            let node = Node::parse(text).expect(text);
            assert_eq!(node.to_json(), tree, "{text}");
            assert_eq!(Node::view(&tree), node, "{text}");
        }
    }

    /// The merge sort against the standard library's stable sort and dedup, on objects of every
    /// size up to 70 with keys drawn from a few, so runs of repeated keys are common.
    #[test]
    fn members_sort_as_a_stable_sort_and_keep_the_last_of_a_key() {
        let mut seed = 0x9e37_79b9_u32;
        for n in 0..70 {
            for _ in 0..20 {
                let members: Vec<(Cow<str>, Node)> = (0..n)
                    .map(|i| {
                        seed ^= seed << 13;
                        seed ^= seed >> 17;
                        seed ^= seed << 5;
                        let k = ["a", "b", "item", "linkId", "text", "type", "z", "ä"][(seed % 8) as usize];
                        (Cow::Borrowed(k), Node::UInt(i))
                    })
                    .collect();
                // The standard library's stable sort, then the last of each run of a key.
                let mut sorted = members.clone();
                sorted.sort_by(|a, b| a.0.cmp(&b.0));
                let last_of_each: Vec<_> = sorted.iter().enumerate().filter(|(i, m)| sorted.get(i + 1).is_none_or(|n| n.0 != m.0)).map(|(_, m)| m.clone()).collect();
                assert_eq!(sorted_members(members), last_of_each, "n = {n}");
            }
        }
    }

    #[test]
    fn strings_without_escapes_borrow_the_text() {
        let text = r#"{"plain":"abc","escaped":"a\tb"}"#;
        let node = Node::parse(text).unwrap();
        let Node::Object(m) = &node else { panic!("not an object") };
        assert!(m.iter().all(|(k, _)| matches!(k, Cow::Borrowed(_))));
        assert!(matches!(node.get("plain"), Some(Node::String(Cow::Borrowed("abc")))));
        assert!(matches!(node.get("escaped"), Some(Node::String(Cow::Owned(s))) if s == "a\tb"));
        assert_eq!(node.get("missing"), None);
    }

    #[test]
    fn syntax_errors_are_serde_jsons() {
        for text in ["{\"a\":}", "[1,,2]", "{\"a\":1", "nul", "\"\\x\"", "[1] 2", "1e400", "{1:2}"] {
            let ours = Node::parse(text).unwrap_err();
            let theirs = serde_json::from_str::<Json>(text).unwrap_err();
            assert_eq!((ours.line(), ours.column(), ours.to_string()), (theirs.line(), theirs.column(), theirs.to_string()), "{text}");
        }
    }

    #[test]
    fn nesting_is_limited_as_serde_json_limits_it() {
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(Node::parse(&deep).is_err());
        assert!(serde_json::from_str::<Json>(&deep).is_err());
    }
}
