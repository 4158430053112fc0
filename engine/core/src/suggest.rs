//! "Did you mean": the nearest valid name to a misspelt one, for messages an author reads
//! (`coughh` -> `cough`, `choise` -> `choice`). Edit distance with a limit that grows with the
//! word, so a short name is not "corrected" into an unrelated one.

/// The candidate nearest to `word`, if it is near enough to be what was meant.
///
/// A shim over one non-generic search: a dozen callers pass a dozen iterator types, and each
/// would be a copy of the search in the browser's wasm.
pub fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    nearest_in(word, &mut candidates.into_iter())
}

fn nearest_in<'a>(word: &str, candidates: &mut dyn Iterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).clamp(1, 3);
    let lower = intake_text::lower(word);
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        if c == word {
            return None;
        }
        // Case alone is distance 0 here: `HomeBP` for `homebp` is surely meant.
        let d = distance(&lower, &intake_text::lower(c));
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// ` (did you mean 'x'?)`, or nothing.
pub fn hint<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    hint_for(nearest_in(word, &mut candidates.into_iter()))
}

fn hint_for(nearest: Option<&str>) -> String {
    nearest.map(|c| format!(" (did you mean '{c}'?)")).unwrap_or_default()
}

/// Levenshtein distance over characters, with transposition of neighbours counted as one edit.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev2: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cur[j] = cur[j].min(prev2[j - 2] + 1);
            }
        }
        prev2 = std::mem::replace(&mut prev, cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_names_are_suggested_and_far_ones_are_not() {
        let items = ["cough", "home-bp-systolic", "home-bp-diastolic", "dizziness"];
        assert_eq!(nearest("coughh", items), Some("cough"));
        assert_eq!(nearest("home-bp-sytsolic", items), Some("home-bp-systolic"), "a transposition is one edit");
        assert_eq!(nearest("Dizziness", items), Some("dizziness"));
        assert_eq!(nearest("fever", items), None, "nothing near: no guess");
        assert_eq!(nearest("cough", items), None, "an exact name needs no suggestion");
        assert_eq!(hint("choise", ["choice", "string"]), " (did you mean 'choice'?)");
        assert_eq!(hint("zzz", ["choice"]), "");
    }
}
