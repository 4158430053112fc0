//! UCUM conversion for the units intake forms use: mass, length, temperature, and a few
//! others measured at home. A unit outside the table converts only to itself.

/// `value` in `from` expressed in `to`, when both are known and of one kind.
pub(crate) fn convert(value: f64, from: &str, to: &str) -> Option<f64> {
    if from == to {
        return Some(value);
    }
    match (temperature(from), temperature(to)) {
        (Some(f), Some(t)) => return Some(t.1(f.0(value))),
        (None, None) => {}
        _ => return None,
    }
    let (kind_a, factor_a) = linear(from)?;
    let (kind_b, factor_b) = linear(to)?;
    (kind_a == kind_b).then(|| value * factor_a / factor_b)
}

/// Kind and factor to the kind's base unit (kg, m, L, s, mmol/L).
fn linear(unit: &str) -> Option<(&'static str, f64)> {
    Some(match unit {
        "kg" => ("mass", 1.0),
        "g" => ("mass", 1e-3),
        "mg" => ("mass", 1e-6),
        "[lb_av]" | "lb" | "lbs" => ("mass", 0.453_592_37),
        "[oz_av]" | "oz" => ("mass", 0.028_349_523_125),
        "[stone_av]" => ("mass", 6.350_293_18),
        "m" => ("length", 1.0),
        "cm" => ("length", 1e-2),
        "mm" => ("length", 1e-3),
        "km" => ("length", 1e3),
        "[in_i]" | "in" => ("length", 0.0254),
        "[ft_i]" | "ft" => ("length", 0.3048),
        "L" | "l" => ("volume", 1.0),
        "mL" | "ml" => ("volume", 1e-3),
        "s" => ("time", 1.0),
        "ms" => ("time", 1e-3),
        "d" => ("time", 86_400.0),
        "wk" => ("time", 604_800.0),
        // UCUM's mean Julian year and month: definite durations, unlike calendar years.
        "a" => ("time", 31_557_600.0),
        "mo" => ("time", 2_629_800.0),
        "ug" => ("mass", 1e-9),
        "dL" => ("volume", 1e-1),
        "min" => ("time", 60.0),
        "h" => ("time", 3600.0),
        "mmol/L" => ("substance", 1.0),
        "umol/L" => ("substance", 1e-3),
        _ => return None,
    })
}

type Scale = (fn(f64) -> f64, fn(f64) -> f64);

/// To and from kelvin.
fn temperature(unit: &str) -> Option<Scale> {
    Some(match unit {
        "Cel" => (|c| c + 273.15, |k| k - 273.15),
        "[degF]" => (|f| (f - 32.0) * 5.0 / 9.0 + 273.15, |k| (k - 273.15) * 9.0 / 5.0 + 32.0),
        "K" => (|k| k, |k| k),
        _ => return None,
    })
}
