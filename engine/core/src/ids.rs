//! Stable identifiers: name-based UUIDs (RFC 4122 version 5) from the session id and a key.
//!
//! Why: a retried submit must produce byte-for-byte the same ids, so the server's conditional
//! creates (`ifNoneExist: identifier=...`) recognise what already exists. Randomness would
//! break that; the host supplies one random session id and everything else derives from it.

/// Namespace for intake ids (a fixed, randomly chosen UUID).
const NAMESPACE: [u8; 16] = [
    0x6f, 0x1c, 0x2a, 0x7e, 0x3b, 0x1d, 0x4c, 0x3e, 0x9a, 0x7f, 0x2d, 0x4b, 0x8e, 0x1c, 0x0a, 0x55,
];

/// Identifier system for URN-valued identifiers.
pub const URN_SYSTEM: &str = "urn:ietf:rfc:3986";

/// A version-5 UUID for a name.
pub fn uuid_v5(name: &str) -> String {
    let mut h = sha1_smol::Sha1::new();
    h.update(&NAMESPACE);
    h.update(name.as_bytes());
    let d = h.digest().bytes();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(36);
    for (i, x) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push(HEX[(x >> 4) as usize] as char);
        out.push(HEX[(x & 0x0f) as usize] as char);
    }
    out
}

/// The stable UUID of one thing (`key`) within a session.
pub fn stable_uuid(session_id: &str, key: &str) -> String {
    uuid_v5(&format!("{session_id}\u{1f}{key}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_and_well_formed() {
        let a = stable_uuid("s1", "qr");
        assert_eq!(a, stable_uuid("s1", "qr"));
        assert_ne!(a, stable_uuid("s2", "qr"));
        assert_ne!(a, stable_uuid("s1", "bundle"));
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "5");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"));
    }
}
