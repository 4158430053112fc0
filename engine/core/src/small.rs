//! Small helpers that keep the wasm small.
//!
//! The standard library's sort instantiates several kilobytes of code per element type; the
//! engine only ever sorts short lists (rule reads, gated items, a patient's observations), so a
//! plain insertion sort is both smaller and fast enough.

/// Sort in place by a key (stable), for short slices.
pub(crate) fn sort_by_key<T, K: PartialOrd>(v: &mut [T], key: impl Fn(&T) -> K) {
    for i in 1..v.len() {
        let mut j = i;
        while j > 0 && key(&v[j - 1]) > key(&v[j]) {
            v.swap(j - 1, j);
            j -= 1;
        }
    }
}

/// Sort and remove duplicates, for short vectors of ids.
pub(crate) fn sort_dedup<T: PartialOrd + Copy>(v: &mut Vec<T>) {
    sort_by_key(v, |x| *x);
    v.dedup_by(|a, b| a == b);
}

#[cfg(test)]
mod tests {
    #[test]
    fn sorts_stably_and_dedups() {
        let mut v = vec![(3, 'a'), (1, 'b'), (3, 'c'), (2, 'd'), (1, 'e')];
        super::sort_by_key(&mut v, |x| x.0);
        assert_eq!(v, [(1, 'b'), (1, 'e'), (2, 'd'), (3, 'a'), (3, 'c')]);
        let mut ids = vec![5, 1, 5, 3, 1];
        super::sort_dedup(&mut ids);
        assert_eq!(ids, [1, 3, 5]);
    }
}
