//! One stable sort for every crate of the engine and the front end.
//!
//! Why a crate of its own: the standard library's sort instantiates several kilobytes of code
//! per element type and comparator (its stable sort about 5 KB of wasm each; the full build
//! carried six of them, 32 KB with the shared parts). Here the sort itself is compiled once:
//! it orders indices by a comparator behind `&dyn Fn` with a bottom-up merge sort, and the
//! per-type code is a key extraction or comparison and a permutation. Stable, and O(n log n),
//! because a chart can hold 100,000 observations (an insertion sort took seconds at 10,000).
//! The price is an indirect call per comparison, which none of the callers (charts read once,
//! search results, FHIRPath's `sort()`, the build queue of a page) notice.

use std::cmp::Ordering;

/// Sort in place by a key (stable). Each key is computed once.
pub fn sort_by_key<T, K: PartialOrd>(v: &mut [T], key: impl Fn(&T) -> K) {
    if v.len() < 2 {
        return;
    }
    let keys: Vec<K> = v.iter().map(&key).collect();
    let mut order = sorted_indices(v.len(), &|a, b| keys[a] > keys[b]);
    permute(v, &mut order);
}

/// Sort in place by a comparison (stable), as `slice::sort_by` does.
pub fn sort_by<T>(v: &mut [T], cmp: impl Fn(&T, &T) -> Ordering) {
    if v.len() < 2 {
        return;
    }
    let mut order = sorted_indices(v.len(), &|a, b| cmp(&v[a], &v[b]) == Ordering::Greater);
    permute(v, &mut order);
}

/// Sort and remove duplicates, for short vectors of ids.
pub fn sort_dedup<T: PartialOrd + Copy>(v: &mut Vec<T>) {
    sort_by_key(v, |x| *x);
    v.dedup_by(|a, b| a == b);
}

/// Put `v[order[k]]` at position `k`, in place, one cycle at a time. Elements can be large (a
/// chart observation is over a kilobyte): this moves each one about once and allocates nothing,
/// where collecting into a new vector touched a fresh copy of the whole chart.
fn permute<T>(v: &mut [T], order: &mut [usize]) {
    for start in 0..order.len() {
        let mut k = start;
        // A position whose source is itself is placed (or was placed by an earlier cycle).
        while order[k] != k {
            let src = order[k];
            order[k] = k;
            if src == start {
                break;
            }
            v.swap(k, src);
            k = src;
        }
    }
}

/// Indices `0..n` in stable sorted order, given "a sorts after b": the one sort the module
/// compiles.
pub fn sorted_indices(n: usize, after: &dyn Fn(usize, usize) -> bool) -> Vec<usize> {
    let mut a: Vec<usize> = (0..n).collect();
    let mut b: Vec<usize> = vec![0; n];
    let mut width = 1;
    while width < n {
        let mut start = 0;
        while start < n {
            let mid = (start + width).min(n);
            let end = (start + 2 * width).min(n);
            let (mut i, mut j, mut k) = (start, mid, start);
            while i < mid && j < end {
                // Take from the right run only when strictly smaller: stability.
                if after(a[i], a[j]) {
                    b[k] = a[j];
                    j += 1;
                } else {
                    b[k] = a[i];
                    i += 1;
                }
                k += 1;
            }
            b[k..k + (mid - i)].copy_from_slice(&a[i..mid]);
            k += mid - i;
            b[k..k + (end - j)].copy_from_slice(&a[j..end]);
            start = end;
        }
        std::mem::swap(&mut a, &mut b);
        width *= 2;
    }
    a
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

    /// Against the standard library's stable sort, by key and by comparison (a descending one
    /// included), on sizes around the merge's run boundaries, with many equal keys.
    #[test]
    fn agrees_with_the_standard_stable_sort() {
        // A deterministic pseudo-random sequence.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for n in [0usize, 1, 2, 3, 7, 8, 9, 31, 64, 100, 1000, 4097] {
            let v: Vec<(u64, usize)> = (0..n)
                .map(|i| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x % 17, i)
                })
                .collect();
            let mut ours = v.clone();
            super::sort_by_key(&mut ours, |p| p.0);
            let mut std_sorted = v.clone();
            std_sorted.sort_by_key(|p| p.0);
            assert_eq!(ours, std_sorted, "by key, n = {n}");
            let mut ours = v.clone();
            super::sort_by(&mut ours, |a, b| b.0.cmp(&a.0));
            let mut std_sorted = v;
            std_sorted.sort_by(|a, b| b.0.cmp(&a.0));
            assert_eq!(ours, std_sorted, "by comparison, n = {n}");
        }
    }
}
