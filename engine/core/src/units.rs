//! The few UCUM conversions intake needs: comparing a weight given in pounds with a limit in
//! kilograms, or a temperature in °F with one in °C. Values are never converted for write-back
//! (a weight given in lb is stored in lb); conversion is only for comparisons.

/// A unit as a patient reads it: its display, else its UCUM code without annotations. UCUM
/// `{...}` annotations (`{score}`, `{beats}/min`) are notes for machines, never shown with their
/// braces: `{score}` alone shows as nothing, `{beats}/min` as `/min`.
pub fn label(c: &intake_fhir::Coding) -> String {
    let raw = c.display.as_deref().filter(|d| !d.trim().is_empty()).or(c.code.as_deref()).unwrap_or("");
    let mut out = String::with_capacity(raw.len());
    let mut depth = 0u32;
    for ch in raw.chars() {
        match ch {
            '{' => depth += 1,
            '}' if depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(ch),
            _ => {}
        }
    }
    let t = out.trim();
    // "1" is UCUM's unity: a count, said with no unit.
    if t == "1" {
        String::new()
    } else {
        t.to_owned()
    }
}

/// Convert `value` from one UCUM unit to another, when both are known and commensurable.
pub fn convert(value: f64, from: &str, to: &str) -> Option<f64> {
    if from == to {
        return Some(value);
    }
    if let (Some(a), Some(b)) = (temperature_kind(from), temperature_kind(to)) {
        let celsius = match a {
            Temp::Celsius => value,
            Temp::Fahrenheit => (value - 32.0) * 5.0 / 9.0,
        };
        return Some(match b {
            Temp::Celsius => celsius,
            Temp::Fahrenheit => celsius * 9.0 / 5.0 + 32.0,
        });
    }
    let (dim_a, fa) = linear(from)?;
    let (dim_b, fb) = linear(to)?;
    (dim_a == dim_b).then(|| value * fa / fb)
}

enum Temp {
    Celsius,
    Fahrenheit,
}

fn temperature_kind(unit: &str) -> Option<Temp> {
    match unit {
        "Cel" | "°C" => Some(Temp::Celsius),
        "[degF]" | "°F" => Some(Temp::Fahrenheit),
        _ => None,
    }
}

/// Dimension and factor to the base unit (kg, m, mm[Hg], s).
fn linear(unit: &str) -> Option<(&'static str, f64)> {
    Some(match unit {
        "kg" => ("mass", 1.0),
        "g" => ("mass", 0.001),
        "mg" => ("mass", 1e-6),
        "[lb_av]" | "lb" | "lbs" => ("mass", 0.453_592_37),
        "[oz_av]" | "oz" => ("mass", 0.028_349_523_125),
        "m" => ("length", 1.0),
        "cm" => ("length", 0.01),
        "mm" => ("length", 0.001),
        "[in_i]" | "in" => ("length", 0.0254),
        "[ft_i]" | "ft" => ("length", 0.3048),
        "mm[Hg]" | "mmHg" => ("pressure", 1.0),
        "s" => ("time", 1.0),
        "min" => ("time", 60.0),
        "h" => ("time", 3600.0),
        "d" => ("time", 86_400.0),
        "wk" => ("time", 604_800.0),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::{convert, label};
    use intake_fhir::Coding;

    #[test]
    fn unit_labels_never_show_annotations() {
        let c = |code: &str, display: Option<&str>| Coding { code: Some(code.into()), display: display.map(Into::into), ..Default::default() };
        assert_eq!(label(&c("{score}", None)), "");
        assert_eq!(label(&c("{score}", Some("{score}"))), "");
        assert_eq!(label(&c("{beats}/min", None)), "/min");
        assert_eq!(label(&c("mm[Hg]", Some("mmHg"))), "mmHg");
        assert_eq!(label(&c("kg/m2", None)), "kg/m2");
        assert_eq!(label(&c("1", None)), "");
    }

    #[test]
    fn conversions() {
        assert!((convert(180.0, "[lb_av]", "kg").unwrap() - 81.646_6).abs() < 1e-3);
        assert!((convert(38.0, "Cel", "[degF]").unwrap() - 100.4).abs() < 1e-9);
        assert_eq!(convert(1.0, "kg", "cm"), None);
        assert_eq!(convert(1.0, "furlong", "m"), None);
    }
}
